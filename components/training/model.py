"""The cross-encoder and its preprocessing, shared by training and the packaged model.

Deliberately imports only torch, transformers, tokenizers, numpy, pandas and rank_bm25: the MLflow
pyfunc loads this module in serving images, where no training code path may be needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from torch import nn
from transformers import ElectraConfig, ElectraModel

from components.training.lexical import NAMES as LEXICAL_NAMES
from components.training.lexical import Lexical

TEXT_COLUMNS = ("query_text", "title", "description")
CLIP = 5.0


class CrossEncoder(nn.Module):
    """ELECTRA over ``[CLS] query [SEP] title + description [SEP]``; the [CLS] state joins the
    normalised numeric features in a small MLP that outputs one relevance score."""

    def __init__(self, config: ElectraConfig, n_features: int, head_hidden: int = 64, dropout: float = 0.1,
                 encoder: ElectraModel | None = None):
        super().__init__()
        self.encoder = encoder if encoder is not None else ElectraModel(config)
        self.n_features = n_features
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(config.hidden_size + n_features, head_hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(head_hidden, 1),
        )

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor,
                features: torch.Tensor) -> torch.Tensor:
        return self.score_states(self.cls_state(input_ids, attention_mask, token_type_ids), features)

    def cls_state(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                  token_type_ids: torch.Tensor) -> torch.Tensor:
        """The text's part: the encoder's [CLS] state, independent of the numeric features."""
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                            token_type_ids=token_type_ids).last_hidden_state[:, 0]

    def score_states(self, hidden: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """The head over [CLS] states and features: re-scoring new features needs no encoder pass."""
        fused = torch.cat([hidden, features.to(hidden.dtype)], dim=-1)
        return self.head(fused).squeeze(-1).float()


@dataclass
class FeatureSpec:
    """Numeric features in model order, null defaults, the train-split normalisation and, when
    enabled, the fitted lexical-match features appended after them (see lexical.py)."""

    features: list[str]
    defaults: dict[str, float]
    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    lexical: Lexical | None = None

    @property
    def names(self) -> list[str]:
        """Columns of the model's feature input, in order."""
        return [*self.features, *(LEXICAL_NAMES if self.lexical else ())]

    @classmethod
    def fit(cls, df: pd.DataFrame, features: list[str], defaults: dict[str, float], *, lexical: bool = False) -> FeatureSpec:
        """Statistics from `df` (the train split); heavy-tailed non-negative counts get log1p first."""
        spec = cls(features=list(features), defaults={f: float(defaults.get(f, 0.0)) for f in features})
        for name in features:
            col = pd.to_numeric(df[name], errors="coerce").fillna(spec.defaults[name]).astype("float64")
            if len(col) and col.min() >= 0 and col.max() > 50:
                spec.log.append(name)
                col = np.log1p(col)
            spec._set_scale(name, col.to_numpy())
        if lexical:
            spec.lexical = Lexical.fit(df)
            values = spec.lexical.transform(df)
            for j, name in enumerate(LEXICAL_NAMES):
                spec._set_scale(name, values[:, j])
        return spec

    def _set_scale(self, name: str, col: np.ndarray) -> None:
        self.mean[name] = float(col.mean()) if len(col) else 0.0
        std = float(col.std()) if len(col) else 1.0
        self.std[name] = std if std > 1e-9 else 1.0

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """Normalised float32 matrix (rows x names); nulls take the feature's default."""
        out = np.zeros((len(df), len(self.names)), dtype=np.float32)
        for j, name in enumerate(self.features):
            if name not in df.columns:
                raise KeyError(f"scoring frame has no numeric feature column {name!r} (expected {self.features})")
            col = pd.to_numeric(df[name], errors="coerce").fillna(self.defaults[name]).astype("float64").to_numpy()
            if name in self.log:
                col = np.log1p(np.clip(col, 0, None))
            out[:, j] = self._scaled(name, col)
        if self.lexical is not None:
            values = self.lexical.transform(df)
            for j, name in enumerate(LEXICAL_NAMES):
                out[:, len(self.features) + j] = self._scaled(name, values[:, j])
        return out

    def _scaled(self, name: str, col: np.ndarray) -> np.ndarray:
        return np.clip((col - self.mean[name]) / self.std[name], -CLIP, CLIP)

    def to_dict(self) -> dict[str, Any]:
        return {"features": self.features, "defaults": self.defaults, "mean": self.mean, "std": self.std,
                "log": self.log, "lexical": self.lexical.to_dict() if self.lexical else None}

    @classmethod
    def from_dict(cls, meta: dict[str, Any]) -> FeatureSpec:
        lexical = Lexical.from_dict(meta["lexical"]) if meta.get("lexical") else None
        return cls(features=meta["features"], defaults=meta["defaults"], mean=meta["mean"], std=meta["std"],
                   log=meta["log"], lexical=lexical)


def document_text(title: Any, description: Any) -> str:
    """The second segment: title then description (nulls as empty)."""
    parts = [str(x) for x in (title, description) if isinstance(x, str) and x]
    return " . ".join(parts)


def encode_frame(tokenizer: Tokenizer, df: pd.DataFrame) -> tuple[list[list[int]], list[list[int]]]:
    """Token ids and segment ids per row (no padding: batches pad to their own longest row)."""
    for col in TEXT_COLUMNS:
        if col not in df.columns:
            raise KeyError(f"scoring frame has no text column {col!r} (expected {list(TEXT_COLUMNS)})")
    queries = [q if isinstance(q, str) else "" for q in df["query_text"].tolist()]
    docs = [document_text(t, d) for t, d in zip(df["title"].tolist(), df["description"].tolist(), strict=True)]
    encoded = tokenizer.encode_batch(list(zip(queries, docs, strict=True)))
    return [e.ids for e in encoded], [e.type_ids for e in encoded]


def pad_batch(ids: list[list[int]], types: list[list[int]], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest sequence (dynamic padding); numpy fills, torch shares the memory."""
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    width = int(lengths.max())
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    token_types = np.zeros((len(ids), width), dtype=np.int64)
    for i, (row, typ) in enumerate(zip(ids, types, strict=True)):
        input_ids[i, : len(row)] = row
        token_types[i, : len(typ)] = typ
    mask = (np.arange(width)[None, :] < lengths[:, None]).astype(np.int64)
    return {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask),
            "token_type_ids": torch.from_numpy(token_types)}


def length_buckets(lengths: list[int], batch_size: int) -> list[np.ndarray]:
    """Row indices grouped into batches of similar length (stable sort keeps ties deterministic)."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def encoded_batches(model: CrossEncoder, ids: list[list[int]], types: list[list[int]], *, batch_size: int,
                    bucket: bool = True, pad_to: int | None = None, device: str | torch.device = "cpu",
                    pad_id: int = 0) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
    """(row indices, padded model inputs on `device`) per batch, with the model in eval mode: the one
    batching of score_encoded and cls_states."""
    if model.training:  # eval() walks every submodule: ~0.1 ms a call on the serving path
        model.eval()
    batches = length_buckets([len(x) for x in ids], batch_size) if bucket else [
        np.arange(i, min(i + batch_size, len(ids))) for i in range(0, len(ids), batch_size)]
    for idx in batches:
        rows = [ids[i] for i in idx]
        if pad_to is not None:
            rows = [r + [pad_id] * (pad_to - len(r)) for r in rows]
        batch = pad_batch(rows, [types[i] for i in idx], pad_id)
        if pad_to is not None:
            batch["attention_mask"] = torch.stack([
                torch.tensor([1] * len(ids[i]) + [0] * (pad_to - len(ids[i]))) for i in idx])
        yield idx, {k: v.to(device) for k, v in batch.items()}


@torch.inference_mode()
def score_encoded(model: CrossEncoder, ids: list[list[int]], types: list[list[int]], feats: np.ndarray,
                  *, batch_size: int = 256, bucket: bool = True, pad_to: int | None = None,
                  device: str | torch.device = "cpu", pad_id: int = 0) -> np.ndarray:
    """Scores of pre-encoded rows in input order; `bucket` sorts by length so padding stays small."""
    scores = np.zeros(len(ids), dtype=np.float32)
    for idx, batch in encoded_batches(model, ids, types, batch_size=batch_size, bucket=bucket, pad_to=pad_to,
                                      device=device, pad_id=pad_id):
        out = model(**batch, features=torch.from_numpy(feats[idx]).to(device))
        scores[idx] = out.detach().float().cpu().numpy()
    return scores


@torch.inference_mode()
def cls_states(model: CrossEncoder, ids: list[list[int]], types: list[list[int]], *, batch_size: int = 256,
               device: str | torch.device = "cpu", pad_id: int = 0) -> torch.Tensor:
    """[CLS] states of pre-encoded rows in input order (length-bucketed batches, as score_encoded)."""
    states: torch.Tensor | None = None
    for idx, batch in encoded_batches(model, ids, types, batch_size=batch_size, device=device, pad_id=pad_id):
        hidden = model.cls_state(**batch)
        if states is None:
            states = hidden.new_empty((len(ids), hidden.shape[-1]))
        states[torch.from_numpy(np.asarray(idx))] = hidden
    return states if states is not None else torch.empty((0, model.encoder.config.hidden_size))


class Scorer:
    """Everything needed to score a DataFrame: model, tokenizer and feature preprocessing."""

    WEIGHTS, CONFIG, TOKENIZER, META = "model.safetensors", "electra_config.json", "tokenizer.json", "ranker.json"

    def __init__(self, model: CrossEncoder, tokenizer: Tokenizer, spec: FeatureSpec, meta: dict[str, Any] | None = None):
        self.model, self.tokenizer, self.spec = model.eval(), tokenizer, spec
        self.meta = dict(meta or {})

    @property
    def pad_id(self) -> int:
        return int(self.meta.get("pad_id", 0))

    def score(self, df: pd.DataFrame, *, batch_size: int = 256, bucket: bool = True,
              pad_to: int | None = None) -> np.ndarray:
        """Float32 relevance scores, one per row of `df` in its order (higher = more relevant)."""
        if len(df) == 0:
            return np.zeros(0, dtype=np.float32)
        ids, types = encode_frame(self.tokenizer, df)
        device = next(self.model.parameters()).device
        return score_encoded(self.model, ids, types, self.spec.transform(df), batch_size=batch_size,
                             bucket=bucket, pad_to=pad_to, device=device, pad_id=self.pad_id)

    def save(self, directory: str | Path) -> Path:
        """Write weights (safetensors), ELECTRA config, tokenizer and feature metadata to `directory`."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(out / self.WEIGHTS))
        (out / self.CONFIG).write_text(self.model.encoder.config.to_json_string(), encoding="utf-8")
        self.tokenizer.save(str(out / self.TOKENIZER))
        head_hidden = self.model.head[1].out_features
        meta = {**self.meta, **self.spec.to_dict(), "head_hidden": head_hidden}
        (out / self.META).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
        return out

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> Scorer:
        src = Path(directory)
        meta = json.loads((src / cls.META).read_text(encoding="utf-8"))
        config = ElectraConfig.from_json_file(str(src / cls.CONFIG))
        spec = FeatureSpec.from_dict(meta)
        model = CrossEncoder(config, len(spec.names), head_hidden=int(meta["head_hidden"]))
        model.load_state_dict(load_file(str(src / cls.WEIGHTS)))
        tokenizer = Tokenizer.from_file(str(src / cls.TOKENIZER))
        tokenizer.no_padding()
        return cls(model.to(device).eval(), tokenizer, spec, meta)
