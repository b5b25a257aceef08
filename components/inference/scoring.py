"""The online ranker's scoring path: the packaged ELECTRA Scorer with per-document work done once.

A rerank scores one query against ~50 catalogue videos, and the same videos come back request
after request. Tokenising a document (WordPiece) and splitting it into lexical terms depend only
on its text, so both are cached, keyed by the text itself (title, description): a catalogue
refresh that changes a title is a new key, so the cache can never serve stale text. The pair
encoding is then the tokenizer's own `post_process` (truncation + [CLS]/[SEP] template) of the
query's and the document's whole encodings: the same ids as encoding the pair from scratch.

The lexical features are computed from the cached term counts as arrays over the batch, the same
BM25Okapi formula as `components.training.lexical` (summation order aside: equal to ~1e-12).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from tokenizers import Tokenizer

from components.training.lexical import tokenize
from components.training.model import CLIP, Scorer, document_text, score_encoded

if TYPE_CHECKING:
    import pandas as pd

DOC_CACHE = 20_000  # distinct documents kept (~5 KB each at 40 words: the Rust Encoding with offsets)


@dataclass(frozen=True)
class DocTerms:
    """A document's lexical terms: counts over title + description, and each part's term set."""

    freq: dict[str, int]
    length: int
    title: frozenset[str]
    description: frozenset[str]


def as_text(value: object) -> str:
    """A text cell as the Ranker's frame casts it: nulls -> "", other non-strings -> str()."""
    if isinstance(value, str):
        return value
    import pandas as pd

    return "" if pd.isna(value) else str(value)


def doc_terms(title: object, description: object) -> DocTerms:
    t, d = tokenize(title), tokenize(description)
    return DocTerms(dict(Counter(t + d)), len(t) + len(d), frozenset(t), frozenset(d))


class CachedScorer:
    """`score(frame)` equal to `Scorer.score(frame)`, with documents tokenised once per process."""

    def __init__(self, scorer: Scorer, *, defaults: dict[str, float] | None = None, cache_size: int = DOC_CACHE):
        """`defaults`: the Ranker's null fills (a feature it has no default for gets 0.0, as its frame
        does); None: the spec's own."""
        self.scorer = scorer
        # segments are encoded whole and truncated only as a pair by `post_process`: longest_first
        # compares the two lengths, so a segment truncated on its own would split the pair differently
        whole = self._segment_encoder = Tokenizer.from_str(scorer.tokenizer.to_str())
        whole.no_truncation()
        self._encode_doc = lru_cache(maxsize=cache_size)(lambda text: whole.encode(text, add_special_tokens=False))
        self._doc_terms = lru_cache(maxsize=cache_size)(doc_terms)
        spec = scorer.spec
        fills = spec.defaults if defaults is None else {f: float(defaults.get(f, 0.0)) for f in spec.features}
        self._defaults = np.array([fills[f] for f in spec.features], dtype=np.float64)
        self._log = np.array([f in spec.log for f in spec.features], dtype=bool)
        self._mean = np.array([spec.mean[n] for n in spec.names], dtype=np.float64)
        self._std = np.array([spec.std[n] for n in spec.names], dtype=np.float64)

    def encode(self, df: pd.DataFrame) -> tuple[list[list[int]], list[list[int]]]:
        """Token and segment ids per row, as `encode_frame` gives them."""
        tok = self.scorer.tokenizer
        queries: dict[str, Any] = {}
        ids, types = [], []
        for q, t, d in zip(df["query_text"].tolist(), df["title"].tolist(), df["description"].tolist(), strict=True):
            q, t, d = as_text(q), as_text(t), as_text(d)
            q_enc = queries.get(q)
            if q_enc is None:
                q_enc = queries[q] = self._segment_encoder.encode(q, add_special_tokens=False)
            pair = tok.post_process(q_enc, self._encode_doc(document_text(t, d)), add_special_tokens=True)
            ids.append(pair.ids)
            types.append(pair.type_ids)
        return ids, types

    def lexical(self, df: pd.DataFrame) -> np.ndarray:
        """(rows x 3) raw BM25, title and description coverage, as `Lexical.transform` gives them."""
        lex = self.scorer.spec.lexical
        n = len(df)
        out = np.zeros((n, 3), dtype=np.float64)
        queries = [as_text(q) for q in df["query_text"].tolist()]
        docs = [self._doc_terms(as_text(t), as_text(d))
                for t, d in zip(df["title"].tolist(), df["description"].tolist(), strict=True)]
        for q in set(queries):  # one block per distinct query (one in a rerank)
            rows = np.fromiter((i for i, x in enumerate(queries) if x == q), dtype=np.int64)
            q_tokens = tokenize(q)
            if not q_tokens:
                continue
            terms = sorted(set(q_tokens))
            weight = np.array([lex.idf.get(w, 0.0) * q_tokens.count(w) for w in terms])  # repeats count
            tf = np.array([[docs[i].freq.get(w, 0) for w in terms] for i in rows], dtype=np.float64)
            length = np.array([docs[i].length for i in rows], dtype=np.float64)
            norm = lex.k1 * (1 - lex.b + lex.b * length / lex.avgdl)
            bm25 = (weight * tf * (lex.k1 + 1) / (tf + norm[:, None])).sum(axis=1)
            out[rows, 0] = np.where(length > 0, bm25, 0.0)
            out[rows, 1] = [len(docs[i].title.intersection(terms)) / len(terms) for i in rows]
            out[rows, 2] = [len(docs[i].description.intersection(terms)) / len(terms) for i in rows]
        return out

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """`FeatureSpec.transform` as array operations over all columns at once (nulls -> defaults)."""
        spec = self.scorer.spec
        missing = [f for f in spec.features if f not in df.columns]
        if missing:
            raise KeyError(f"scoring frame has no numeric feature column(s) {missing} (expected {spec.features})")
        x = df[spec.features].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        x = np.where(np.isnan(x), self._defaults, x)
        x[:, self._log] = np.log1p(np.clip(x[:, self._log], 0, None))
        if spec.lexical is not None:
            x = np.hstack([x, self.lexical(df)])
        return np.clip((x - self._mean) / self._std, -CLIP, CLIP).astype(np.float32)

    def score(self, df: pd.DataFrame, *, batch_size: int = 256, timings: dict[str, float] | None = None) -> np.ndarray:
        """Float32 scores in `df`'s order; `timings` (if given) gains seconds per stage."""
        if len(df) == 0:
            return np.zeros(0, dtype=np.float32)
        clock = time.perf_counter
        t0 = clock()
        ids, types = self.encode(df)
        t1 = clock()
        feats = self.features(df)
        t2 = clock()
        model = self.scorer.model
        scores = score_encoded(model, ids, types, feats, batch_size=batch_size,
                               device=next(model.parameters()).device, pad_id=self.scorer.pad_id)
        if timings is not None:
            t3 = clock()
            for key, took in (("tokenise", t1 - t0), ("features", t2 - t1), ("forward", t3 - t2)):
                timings[key] = timings.get(key, 0.0) + took
        return scores


def cached_scorer_of(pyfunc: Any, defaults: dict[str, float] | None = None, *,
                     cache_size: int = DOC_CACHE) -> CachedScorer | None:
    """The cached path for a loaded rankops pyfunc whose scorer is the ELECTRA Scorer; None otherwise."""
    try:
        model = pyfunc.unwrap_python_model()
    except Exception:  # not a PythonModel flavour
        return None
    scorer = getattr(model, "scorer", None)
    return CachedScorer(scorer, defaults=defaults, cache_size=cache_size) if isinstance(scorer, Scorer) else None
