"""Lexical-match features: rank_bm25's scores, exact coverage shares, and a lossless round trip."""

import numpy as np
import pandas as pd
import pytest
from rank_bm25 import BM25Okapi

from components.training.lexical import NAMES, Lexical, tokenize
from components.training.model import FeatureSpec

FRAME = pd.DataFrame({
    "video_id": ["v1", "v2", "v3", "v1"],
    "query_text": ["rock guitar lesson", "jazz piano", "Rock", None],
    "title": ["Rock guitar for beginners", "Piano jazz standards", "Cooking pasta", "Rock guitar for beginners"],
    "description": ["A first lesson in rock", "Learn jazz piano chords", None, "A first lesson in rock"],
    "ctr": [0.1, 0.2, 0.3, 0.4],
})


def test_bm25_equals_rank_bm25_on_its_own_corpus():
    lexical = Lexical.fit(FRAME)
    videos = FRAME.drop_duplicates("video_id")
    corpus = [tokenize(t) + tokenize(d) for t, d in zip(videos["title"], videos["description"], strict=True)]
    reference = BM25Okapi(corpus)
    for query in (["rock", "lesson"], ["jazz", "piano", "unknown"], ["pasta"]):
        expected = reference.get_scores(query)
        assert [lexical.bm25(query, doc) for doc in corpus] == pytest.approx(list(expected), rel=1e-9)


def test_coverage_is_the_share_of_query_terms_in_each_field():
    values = Lexical.fit(FRAME).transform(FRAME)
    assert values.shape == (4, len(NAMES))
    assert values[0, 1] == pytest.approx(2 / 3) and values[0, 2] == pytest.approx(2 / 3)  # rock, guitar | rock, lesson
    assert values[1, 1] == 1.0 and values[1, 2] == 1.0
    assert values[2, 1] == 0.0 and values[2, 0] == 0.0  # "rock" not in a cooking video
    assert values[3].tolist() == [0.0, 0.0, 0.0]  # null query: no match, no error


def test_feature_spec_appends_lexical_columns_and_round_trips():
    spec = FeatureSpec.fit(FRAME, ["ctr"], {}, lexical=True)
    assert spec.names == ["ctr", *NAMES]
    out = spec.transform(FRAME)
    assert out.shape == (4, 4)
    assert np.allclose(out[:, 1:].mean(axis=0), 0.0, atol=1e-6)  # normalised on the frame it was fitted on
    again = FeatureSpec.from_dict(spec.to_dict())
    assert np.array_equal(again.transform(FRAME), out)
    assert FeatureSpec.fit(FRAME, ["ctr"], {}).names == ["ctr"]  # off: numeric features only
