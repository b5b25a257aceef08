"""Lexical-match features of a (query, title, description) row: the classic hybrid-LTR inputs.

A small cross-encoder trained from scratch on a few thousand judgements learns synonyms and
engagement patterns, but exact term overlap is cheap to state and costly to learn. BM25
(IDF and average length fitted by rank_bm25 on the training catalogue, stored with the model)
and the share of query terms found in the title and in the description join the numeric
features in the fusion head. They derive from the scoring input itself, so serving needs no
extra feature lookups and the model signature does not change.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

NAMES = ("lex_bm25", "lex_title_coverage", "lex_description_coverage")
_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokenize(text: object) -> list[str]:
    """Casefolded word tokens (nulls and non-strings give none)."""
    return _TOKEN.findall(text.casefold()) if isinstance(text, str) else []


@dataclass
class Lexical:
    """BM25 statistics of a document collection (title + description per video)."""

    idf: dict[str, float]
    avgdl: float
    k1: float = 1.5
    b: float = 0.75

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> Lexical:
        """IDF and average length over the distinct videos of `frame` (rank_bm25's BM25Okapi)."""
        from rank_bm25 import BM25Okapi

        videos = frame.drop_duplicates("video_id") if "video_id" in frame.columns else frame
        corpus = [tokenize(t) + tokenize(d) or [""] for t, d in zip(videos["title"], videos["description"], strict=True)]
        bm25 = BM25Okapi(corpus)
        return cls(idf={t: float(v) for t, v in bm25.idf.items()}, avgdl=float(bm25.avgdl), k1=bm25.k1, b=bm25.b)

    def bm25(self, query: list[str], doc: list[str]) -> float:
        """BM25Okapi's score formula for one (query, document) pair, unseen documents included."""
        if not query or not doc:
            return 0.0
        freq = Counter(doc)
        norm = self.k1 * (1 - self.b + self.b * len(doc) / self.avgdl)
        return float(sum(self.idf.get(t, 0.0) * freq[t] * (self.k1 + 1) / (freq[t] + norm) for t in query if t in freq))

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """(rows x len(NAMES)) raw feature values for `frame`'s query_text, title, description."""
        out = np.zeros((len(frame), len(NAMES)), dtype=np.float64)
        rows = zip(frame["query_text"].tolist(), frame["title"].tolist(), frame["description"].tolist(), strict=True)
        for i, (query, title, description) in enumerate(rows):
            q, t, d = tokenize(query), tokenize(title), tokenize(description)
            terms = set(q)
            out[i, 0] = self.bm25(q, t + d)
            if terms:
                out[i, 1] = len(terms & set(t)) / len(terms)
                out[i, 2] = len(terms & set(d)) / len(terms)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"idf": self.idf, "avgdl": self.avgdl, "k1": self.k1, "b": self.b}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lexical:
        return cls(idf={k: float(v) for k, v in data["idf"].items()}, avgdl=float(data["avgdl"]),
                   k1=float(data["k1"]), b=float(data["b"]))
