"""BM25 baseline on the same candidates as the model: the bar a learned ranker must clear."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from components.training.lexical import tokenize

if TYPE_CHECKING:
    import pandas as pd


def score_bm25(frame: pd.DataFrame) -> np.ndarray:
    """BM25Okapi score of each row's query against its video's title + description.

    The corpus is every distinct video of the frame, so IDF reflects the whole catalogue
    seen here rather than one query's handful of candidates.
    """
    from rank_bm25 import BM25Okapi

    if frame.empty:
        return np.zeros(0)
    videos = frame.drop_duplicates("video_id")[["video_id", "title", "description"]]
    index = {vid: i for i, vid in enumerate(videos["video_id"])}
    corpus = [tokenize(f"{t} {d}") or [""] for t, d in zip(videos["title"], videos["description"], strict=True)]
    bm25 = BM25Okapi(corpus)
    scores = np.zeros(len(frame))
    positions = np.arange(len(frame))
    for query_text, rows in frame.groupby("query_text", sort=False).indices.items():
        doc_ids = [index[v] for v in frame["video_id"].to_numpy()[rows]]
        scores[positions[rows]] = bm25.get_batch_scores(tokenize(query_text), doc_ids)
    return scores
