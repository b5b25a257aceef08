"""The online ranker's cached scoring path gives the packaged Scorer's ids, features and top-10."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

QUERIES = ["cook pasta", "pasta pasta dish", "", "guitar lesson for beginners and experts", "café crème",
           "pasta guitar kitchen " * 12]  # a query past the length limit by itself: both segments truncated
DOCS = [  # (title, description): short, long (truncated), empty and null parts, unicode, repeats
    ("pasta dish", "chef cooks pasta in a small kitchen"),
    ("guitar", None),
    ("cook", "kitchen pasta " * 20),
    (None, "only a description about guitar lessons"),
    ("", ""),
    ("Café CRÈME au lait", "crème brûlée and pasta"),
    ("guitar lesson one two three four five six seven eight", "for beginners " * 8),
]


def frame_of(queries: list[str]) -> pd.DataFrame:
    rows = [(q, f"v{i}", t, d, float(i)) for q in queries for i, (t, d) in enumerate(DOCS)]
    return pd.DataFrame(rows, columns=["query_text", "video_id", "title", "description", "clicks"])


@pytest.fixture(scope="module")
def scorer():
    import torch
    from transformers import ElectraConfig

    from components.training.model import CrossEncoder, FeatureSpec, Scorer
    from components.training.tokenizer import train_tokenizer

    torch.manual_seed(0)
    train = frame_of(QUERIES)
    train["label"] = 0
    train["clicks"] *= 20  # counts past 50: the spec log-scales them
    texts = [*QUERIES, *(t for t, _ in DOCS if t), *(d for _, d in DOCS if d)]
    tok = train_tokenizer(texts, vocab_size=200, max_length=24)  # short: most pairs are truncated
    spec = FeatureSpec.fit(train, ["clicks"], {"clicks": 0.0}, lexical=True)
    config = ElectraConfig(vocab_size=tok.get_vocab_size(), embedding_size=8, hidden_size=8, num_hidden_layers=1,
                           num_attention_heads=1, intermediate_size=16, max_position_embeddings=24)
    return Scorer(CrossEncoder(config, len(spec.names), head_hidden=4), tok, spec)


def test_pair_ids_equal_encoding_each_pair_from_scratch_truncation_included(scorer):
    from components.inference.scoring import CachedScorer
    from components.training.model import encode_frame

    frame = frame_of(QUERIES)
    want_ids, want_types = encode_frame(scorer.tokenizer, frame)
    assert max(len(x) for x in want_ids) == 24  # the long documents did hit the limit
    cached = CachedScorer(scorer)
    for _ in range(2):  # the second pass reads every document from the cache
        ids, types = cached.encode(frame)
        assert ids == want_ids
        assert types == want_types
    assert cached._encode_doc.cache_info().misses == len(DOCS)


def test_lexical_features_equal_the_per_row_reference(scorer):
    from components.inference.scoring import CachedScorer

    frame = frame_of(QUERIES)
    got = CachedScorer(scorer).lexical(frame)
    np.testing.assert_allclose(got, scorer.spec.lexical.transform(frame), rtol=1e-12, atol=1e-12)


def test_feature_matrix_equals_the_spec_transform_nulls_and_log_scaled_columns_included(scorer):
    from components.inference.scoring import CachedScorer

    frame = frame_of(QUERIES)
    frame.loc[[1, 5], "clicks"] = np.nan  # take the default
    frame.loc[3, "clicks"] = 900.0
    assert scorer.spec.log == ["clicks"]
    np.testing.assert_allclose(CachedScorer(scorer).features(frame), scorer.spec.transform(frame), rtol=1e-6, atol=1e-7)


def test_bm25_equals_rank_bm25_on_its_own_corpus():
    from rank_bm25 import BM25Okapi
    from tokenizers import Tokenizer, models

    from components.inference.scoring import CachedScorer
    from components.training.lexical import NAMES, Lexical, tokenize
    from components.training.model import FeatureSpec

    docs = [("red apple", "apple pie recipe"), ("green apple", "orchard"), ("banana", "bread"), ("pie", "crust")]
    frame = pd.DataFrame({"query_text": ["apple pie apple"] * 4, "title": [t for t, _ in docs],
                          "description": [d for _, d in docs]})
    corpus = [tokenize(t) + tokenize(d) for t, d in docs]
    lex = Lexical.fit(frame)

    class Stub:  # only the lexical statistics are read
        spec = FeatureSpec(features=[], defaults={}, mean=dict.fromkeys(NAMES, 0.0), std=dict.fromkeys(NAMES, 1.0),
                           lexical=lex)
        tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))

    got = CachedScorer(Stub()).lexical(frame)
    np.testing.assert_allclose(got[:, 0], BM25Okapi(corpus).get_scores(["apple", "pie", "apple"]), rtol=1e-12)
    # query terms {apple, pie}: title coverage 1/2, 1/2, 0, 1/2; description coverage 2/2, 0, 0, 0
    np.testing.assert_array_equal(got[:, 1], [0.5, 0.5, 0.0, 0.5])
    np.testing.assert_array_equal(got[:, 2], [1.0, 0.0, 0.0, 0.0])


def test_served_scores_and_top10_equal_the_fp32_packaged_model(scorer):
    from components.inference.model import Ranker
    from components.inference.scoring import cached_scorer_of

    class Packaged:  # what mlflow.pyfunc.load_model returns for our RankerModel
        def unwrap_python_model(self):
            return type("RankerModel", (), {"scorer": scorer})()

        def predict(self, frame):
            return scorer.score(frame)

    pyfunc = Packaged()
    defaults = {"clicks": 3.0}  # the Ranker's null fill (metadata), not the spec's 0.0
    reference = Ranker(uri="m", name=None, version=None, pyfunc=pyfunc, features=["clicks"], defaults=defaults)
    served = Ranker(uri="m", name=None, version=None, pyfunc=pyfunc, features=["clicks"], defaults=defaults,
                    cached=cached_scorer_of(pyfunc, defaults))
    for query in QUERIES:
        frame = frame_of([query] * 2)  # 14 candidates: each document twice
        frame.loc[[2, 9], "clicks"] = np.nan
        frame.loc[4, "title"] = 42  # a non-string cell: str() as the frame casts it
        frame["unused"] = "x"
        timings: dict[str, float] = {}
        got = served.predict(frame, timings=timings)
        want = reference.predict(frame)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        assert list(np.argsort(-got, kind="stable")[:10]) == list(np.argsort(-want, kind="stable")[:10])
        assert sorted(timings) == ["features", "forward", "tokenise"]
    assert served.cached._defaults.tolist() == [3.0]


def test_a_model_without_the_electra_scorer_keeps_the_pyfunc_path():
    from components.inference.scoring import cached_scorer_of

    class Boosted:
        def unwrap_python_model(self):
            return type("RankerModel", (), {"scorer": object()})()

    assert cached_scorer_of(Boosted()) is None
    assert cached_scorer_of(object()) is None
