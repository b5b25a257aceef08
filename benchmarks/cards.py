"""Cost the model card adds to every registration: permutation importance over the packaged ranker
(prints figures and whether the target is met; not a test).

    .venv/bin/python benchmarks/cards.py --queries 100 --candidates 20 --features 10

An untrained cross-encoder of the local profile's size (the forward pass costs the same trained or
not) scores the validation candidates once per shuffle: repeats x (numeric + lexical features)
passes, texts encoded once. Target: the local defaults (100 queries, 3 repeats) within 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

TARGET_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch
    from transformers import ElectraConfig

    from components.cards.importance import permutation_importance, pyfunc_input
    from components.evaluation.frames import dedupe_pairs
    from components.training.model import CrossEncoder, FeatureSpec, Scorer
    from components.training.settings import ModelSettings
    from components.training.tokenizer import train_tokenizer
    from tests.support.evaluation_data import make_training_frame

    torch.manual_seed(0)
    frame = dedupe_pairs(make_training_frame(args.queries, args.candidates, seed=1))
    rng = np.random.default_rng(0)
    names = [f"f{i}" for i in range(args.features)]
    for name in names:
        frame[name] = rng.normal(size=len(frame))
    m = ModelSettings()
    tok = train_tokenizer(list(frame["query_text"]) + list(frame["title"]) + list(frame["description"]),
                          vocab_size=m.vocab_size, max_length=m.max_length)
    spec = FeatureSpec.fit(frame, names, {n: 0.0 for n in names}, lexical=m.lexical_features)
    config = ElectraConfig(vocab_size=tok.get_vocab_size(), embedding_size=m.embedding_size, hidden_size=m.hidden_size,
                           num_hidden_layers=m.num_layers, num_attention_heads=m.num_heads,
                           intermediate_size=m.intermediate_size, max_position_embeddings=m.max_length)
    scorer = Scorer(CrossEncoder(config, len(spec.names), head_hidden=m.head_hidden), tok, spec)

    class Packaged:
        def unwrap_python_model(self):
            return type("RankerModel", (), {"scorer": scorer})()

    t = time.perf_counter()
    feats = pyfunc_input(Packaged(), frame, names)
    prepared = time.perf_counter() - t
    t = time.perf_counter()
    feats.score(feats.matrix)
    one = time.perf_counter() - t
    t = time.perf_counter()
    out = permutation_importance(frame, feats, "ndcg@10", repeats=args.repeats, seed=0)
    total = time.perf_counter() - t
    print(f"candidates: {len(frame)} ({frame['query_id'].nunique()} queries), features: {len(feats.names)} "
          f"({args.features} numeric + {len(feats.names) - args.features} lexical), repeats: {args.repeats}")
    print(f"encode texts + feature matrix: {prepared:.2f} s; one scoring pass: {one:.2f} s")
    print(f"permutation importance: {total:.2f} s ({len(feats.names) * args.repeats + 1} passes; "
          f"baseline ndcg@10 {out['baseline']:.4f})")
    print(f"target {TARGET_S:.0f} s: {'met' if total <= TARGET_S else 'NOT met'}")


if __name__ == "__main__":
    main()
