"""Training benchmarks (CPU here; the same script runs on a GPU node).

Prints:
  1. samples/s of the rankops trainer (engine.fit as production runs it: MLflow metric stream,
     checkpoints every `checkpoint_every` steps, loop state) vs a bare torch loop (forward,
     backward, clip, AdamW + schedule, nothing else) on the same model, batch and data
     (target >= 0.95x); transformers.Trainer on the same work for contrast;
  2. share of step time spent building batches (target < 5 %);
  3. scoring pairs/s with dynamic padding + length bucketing vs fixed max-length padding (>= 1.5x);
  4. MLflow logging overhead of the batched asynchronous MetricStream (target <= 2 % of step
     time), next to three synchronous log_metric calls per step for contrast.

    .venv/bin/python benchmarks/training.py            # 200 steps x 3 repeats, about a minute
    .venv/bin/python benchmarks/training.py --training-set features/training_set_ranker_v1 --home .rankops
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_data(args, settings):
    from components.common.snapshots import SnapshotStore
    from components.training.data import encode_split, training_frame_meta
    from components.training.model import FeatureSpec
    from components.training.tokenizer import train_tokenizer
    from tests.support.training_data import DEFAULTS, FEATURES, build_sample_training_set

    if args.training_set:
        store = SnapshotStore(settings.lakehouse)
        snap = store.resolve(args.training_set)
        frame = store.read_pandas(snap)
        features, defaults = training_frame_meta(snap.manifest)
        source = snap.ref
    else:
        frame = build_sample_training_set(n_queries=args.queries, per_query=10)
        features, defaults, source = FEATURES, DEFAULTS, f"sample ({len(frame)} rows)"
    cfg = settings.training
    train = frame[frame["split"] == "train"]
    from components.training.model import document_text

    texts = list(train["query_text"]) + [document_text(t, d) for t, d in zip(train["title"], train["description"], strict=True)]
    tok = train_tokenizer(texts, cfg.model.vocab_size, cfg.model.max_length)
    spec = FeatureSpec.fit(train, features, defaults, lexical=cfg.model.lexical_features)
    return encode_split(train, tok, spec), encode_split(frame[frame["split"] != "train"], tok, spec), tok, source


def bench_fit(cfg, model_fn, train, val, stream=None):
    from components.training.checkpoint import CheckpointManager
    from components.training.engine import fit

    model = model_fn()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        state = fit(model, train, val, cfg, device=__import__("torch").device("cpu"),
                    ckpt=CheckpointManager(tmp), run_id="bench", stream=stream)
        wall = time.perf_counter() - t0
    return state, wall


def bench_bare(cfg, model_fn, train) -> float:
    """Wall seconds of `cfg.max_steps` steps of the plainest loop: the reference for [1]."""
    import torch

    from components.training.data import micro_batches
    from components.training.engine import build_optimizer
    from components.training.losses import LOSSES

    model = model_fn()
    optimizer, scheduler = build_optimizer(model, cfg, cfg.max_steps)
    loss_fn = LOSSES[cfg.loss]
    batches, epoch = [], 0
    while len(batches) < cfg.max_steps:
        batches += micro_batches(len(train), cfg.batch_size, cfg.seed, epoch)
        epoch += 1
    model.train()
    t0 = time.perf_counter()
    for idx in batches[: cfg.max_steps]:
        batch = train.batch(idx)
        scores = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], batch["features"])
        loss_fn(scores, batch["labels"], batch["qcodes"]).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - t0


@contextlib.contextmanager
def temp_tracking():
    """(tracking URI, client, experiment id) of a throw-away MLflow store on SQLite."""
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as home:
        uri = f"sqlite:///{home}/mlflow.db"
        client = MlflowClient(uri)
        yield uri, client, client.create_experiment("bench", artifact_location=f"{home}/artifacts")


def bench_ours(cfg, model_fn, train, val):
    """(wall seconds, loop state) of engine.fit with what production adds: MLflow stream,
    checkpoints, loop state. Validation is left out of the timing by passing one query's rows
    (a bare loop has none)."""
    import numpy as np

    from components.training.data import SplitData
    from components.training.tracking import MetricStream

    first = val.frame["query_id"].iloc[0]
    rows = np.flatnonzero(val.frame["query_id"].to_numpy() == first)
    tiny = SplitData(frame=val.frame.iloc[rows].reset_index(drop=True), ids=[val.ids[i] for i in rows],
                     types=[val.types[i] for i in rows], features=val.features[rows], labels=val.labels[rows],
                     qcodes=val.qcodes[rows])
    with temp_tracking() as (uri, client, experiment_id):
        stream = MetricStream(client.create_run(experiment_id).info.run_id, uri, cfg.log_flush_every)
        state, wall = bench_fit(cfg, model_fn, train, tiny, stream=stream)
        stream.close()
    return wall, state


def bench_trainer(cfg, model_fn, train):
    import torch
    from transformers import Trainer, TrainingArguments

    from components.training.losses import LOSSES

    class Rows(torch.utils.data.Dataset):
        def __len__(self):
            return len(train)

        def __getitem__(self, i):
            return i

    def collate(idx):
        return train.batch(__import__("numpy").asarray(idx))

    class RankTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            scores = model(inputs["input_ids"], inputs["attention_mask"], inputs["token_type_ids"], inputs["features"])
            loss = LOSSES[cfg.loss](scores, inputs["labels"], inputs["qcodes"])
            return (loss, scores) if return_outputs else loss

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, per_device_train_batch_size=cfg.batch_size, max_steps=cfg.max_steps,
                                 learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay,
                                 warmup_steps=int(cfg.warmup_ratio * cfg.max_steps), logging_strategy="no",
                                 save_strategy="no", report_to=[], dataloader_num_workers=0, disable_tqdm=True,
                                 use_cpu=True, seed=cfg.seed, remove_unused_columns=False, max_grad_norm=cfg.max_grad_norm)
        trainer = RankTrainer(model=model_fn(), args=args, train_dataset=Rows(), data_collator=collate)
        t0 = time.perf_counter()
        trainer.train()
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200, help="optimiser steps per timed run (steady state)")
    parser.add_argument("--queries", type=int, default=200, help="sample queries (10 rows each) without --training-set")
    parser.add_argument("--training-set", default=None, help="snapshot ref; default: the built-in sample")
    parser.add_argument("--home", default=None, help="RANKOPS_HOME holding --training-set")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.home:
        os.environ["RANKOPS_HOME"] = args.home
    import numpy as np
    import torch

    from components.common.config import load_settings
    from components.training.api import merge_params
    from components.training.electra import build_model
    from components.training.model import score_encoded

    settings = load_settings("local")
    cfg = merge_params(settings.training, {"max_steps": args.steps, "eval_every": 10**6, "checkpoint_every": 10**6,
                                           "log_every": 1, "log_flush_every": 25})
    train, val, tok, source = load_data(args, settings)
    n_feat = train.features.shape[1]

    def model_fn():
        return build_model(cfg, tok.get_vocab_size(), n_feat)

    print(f"data: {source}; train rows {len(train)}; batch {cfg.batch_size}; steps {args.steps}; "
          f"torch threads {torch.get_num_threads()}; model {sum(p.numel() for p in model_fn().parameters()):,} params")
    bench_fit(cfg.model_copy(update={"max_steps": 3}), model_fn, train, val)  # warm-up

    samples = args.steps * cfg.batch_size
    production = merge_params(settings.training, {"max_steps": args.steps, "eval_every": 10**6})
    bare, ours, trainer, shares = [], [], [], []
    for _ in range(args.repeats):  # interleaved, so drift of the machine hits all three alike
        bare.append(samples / bench_bare(cfg, model_fn, train))
        wall, state = bench_ours(production, model_fn, train, val)
        ours.append(samples / wall)
        shares.append(state.data_seconds / state.step_seconds)
        trainer.append(samples / bench_trainer(cfg, model_fn, train))
    b, o, t = statistics.median(bare), statistics.median(ours), statistics.median(trainer)
    print(f"[1] rankops trainer {o:.0f} samples/s vs bare torch loop {b:.0f} samples/s = {o / b:.2f}x (target >= 0.95x; "
          f"checkpoint every {production.checkpoint_every} steps, MLflow stream) | transformers.Trainer {t:.0f} "
          f"samples/s = {t / b:.2f}x")
    print(f"[2] data loading share of step time: {100 * statistics.median(shares):.2f} % (target < 5 %)")

    model = model_fn().eval()
    ids, types, feats = val.ids, val.types, val.features
    lengths = [len(x) for x in ids]
    score_encoded(model, ids[:64], types[:64], feats[:64])
    timings = {}
    for name, kw in (("dynamic+bucketed", {"bucket": True}), ("fixed max-length", {"bucket": False, "pad_to": cfg.model.max_length})):
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            score_encoded(model, ids, types, feats, batch_size=64, **kw)
            runs.append(time.perf_counter() - t0)
        timings[name] = len(ids) / min(runs)
    print(f"[3] scoring {len(ids)} pairs (mean {np.mean(lengths):.0f} / max {max(lengths)} tokens, pad-to {cfg.model.max_length}): "
          f"dynamic {timings['dynamic+bucketed']:.0f} pairs/s vs fixed {timings['fixed max-length']:.0f} pairs/s "
          f"= {timings['dynamic+bucketed'] / timings['fixed max-length']:.2f}x (target >= 1.5x)")

    bench_logging(cfg, model_fn, train, val)


class TimedStream:
    """Wraps a MetricStream and accumulates the time the training thread spends in it."""

    def __init__(self, inner):
        self.inner, self.seconds = inner, 0.0

    def add(self, metrics, step):
        t0 = time.perf_counter()
        self.inner.add(metrics, step)
        self.seconds += time.perf_counter() - t0

    def step_done(self):
        t0 = time.perf_counter()
        self.inner.step_done()
        self.seconds += time.perf_counter() - t0


class SyncLogger(TimedStream):
    """Three synchronous log_metric calls per step: what not to do, for contrast."""

    def __init__(self, client, run_id):
        super().__init__(None)
        self.client, self.run_id = client, run_id

    def add(self, metrics, step):
        if "train_loss" not in metrics:
            return
        t0 = time.perf_counter()
        for key in ("train_loss", "learning_rate", "grad_norm"):
            self.client.log_metric(self.run_id, key, float(metrics[key]), step=step)
        self.seconds += time.perf_counter() - t0

    def step_done(self):
        pass


def bench_logging(cfg, model_fn, train, val) -> None:
    import mlflow

    from components.training.tracking import MetricStream

    with temp_tracking() as (uri, client, exp):
        mlflow.set_tracking_uri(uri)
        run_id = client.create_run(exp).info.run_id
        inner = MetricStream(run_id, uri, cfg.log_flush_every)
        timed = TimedStream(inner)
        state, wall = bench_fit(cfg, model_fn, train, val, stream=timed)
        t0 = time.perf_counter()
        inner.close()
        tail = time.perf_counter() - t0
        logged = len(client.get_metric_history(run_id, "train_loss"))
        share = timed.seconds / state.step_seconds
        sync_run = client.create_run(exp).info.run_id
        sync = SyncLogger(client, sync_run)
        state2, _ = bench_fit(cfg.model_copy(update={"max_steps": min(cfg.max_steps, 20)}), model_fn, train, val,
                              stream=sync)
        sync_share = sync.seconds / state2.step_seconds
    print(f"[4] MLflow (SQLite) batched async logging: {1000 * timed.seconds / state.step:.2f} ms/step on the training "
          f"thread = {100 * share:.2f} % of step time (target <= 2 %); {logged} train_loss points logged, "
          f"{1000 * tail:.0f} ms final flush | synchronous 3x log_metric: {100 * sync_share:.1f} % of step time")


if __name__ == "__main__":
    main()
