"""Single-GPU training throughput and MFU of the production training path (run on a GPU node).

It times `engine.fit` as the training step calls it (bf16 autocast on CUDA, gradient clipping,
AdamW with schedule, the loop's per-step bookkeeping), without MLflow (no tracking server there),
next to a bare loop on the same model and batches, and prints per configuration:
  - samples/s and ms per optimiser step (median of the steady-state steps);
  - model FLOPs per sample, counted by torch's FlopCounterMode on one training step (forward and
    backward at the real shapes), with the 6*N*T rule of thumb beside it as a cross-check;
  - MFU against the datasheet's dense bf16 peak and against a bf16 matmul measured in the same run;
  - GPU-hours per training run (rows x epochs / samples/s) for the cost table in docs/scaleout.md.

    python benchmarks/training_gpu.py --profile prod --json out.json
    python benchmarks/training_gpu.py --sizes small,base --batches 32,256,1024 --doc-words 0,120

`--doc-words W` appends W words to every description so that pairs fill `max_length` (production
titles and descriptions are longer than the built-in sample's); 0 keeps the sample's short pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BASE = {
    "hidden_size": 768,
    "embedding_size": 768,
    "num_layers": 12,
    "num_heads": 12,
    "intermediate_size": 3072,
}
DATA: dict[int, tuple] = {}
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12}  # dense bf16, datasheets


def build_data(cfg, queries: int, doc_words: int):
    from components.training.data import encode_split
    from components.training.model import FeatureSpec, document_text
    from components.training.tokenizer import train_tokenizer
    from tests.support.training_data import DEFAULTS, FEATURES, FILLER, build_sample_training_set

    frame = build_sample_training_set(n_queries=queries, per_query=10)
    if doc_words:
        frame["description"] = (
            frame["description"] + " " + " ".join(FILLER[i % len(FILLER)] for i in range(doc_words))
        )
    train = frame[frame["split"] == "train"]
    texts = list(train["query_text"]) + [
        document_text(t, d) for t, d in zip(train["title"], train["description"], strict=True)
    ]
    tok = train_tokenizer(texts, cfg.model.vocab_size, cfg.model.max_length)
    spec = FeatureSpec.fit(train, FEATURES, DEFAULTS, lexical=cfg.model.lexical_features)
    val = frame[frame["split"] != "train"]
    return (
        encode_split(train, tok, spec),
        encode_split(val[val["query_id"] == val["query_id"].iloc[0]], tok, spec),
        tok,
    )


class StepClock:
    """Wall time at the end of every optimiser step (fit syncs each step when it reads the loss)."""

    def __init__(self):
        self.marks = [time.perf_counter()]

    def on_step(self, step, total, logs):
        self.marks.append(time.perf_counter())

    def steady_ms(self, warmup: int) -> float:
        gaps = [b - a for a, b in zip(self.marks[warmup:], self.marks[warmup + 1 :], strict=False)]
        return 1e3 * statistics.median(gaps)


def time_fit(cfg, model, train, val, device, warmup: int):
    from components.training.checkpoint import CheckpointManager
    from components.training.engine import fit

    clock = StepClock()
    with tempfile.TemporaryDirectory() as tmp:
        state = fit(
            model,
            train,
            val,
            cfg,
            device=device,
            ckpt=CheckpointManager(tmp),
            run_id="gpu",
            callbacks=[clock],
        )
    return clock.steady_ms(warmup), state


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def time_bare(cfg, model, train, device, warmup: int, steps: int) -> float:
    """ms per step of forward, loss, backward, clip, AdamW, schedule with no host sync per step."""
    import torch

    from components.training import engine
    from components.training.data import micro_batches
    from components.training.losses import LOSSES

    optimizer, scheduler = engine.build_optimizer(model, cfg, warmup + steps)
    loss_fn = LOSSES[cfg.loss]
    batches = micro_batches(len(train), cfg.batch_size, cfg.seed, 0)
    while len(batches) < warmup + steps:
        batches += batches
    model.train()
    t0 = 0.0
    for i, idx in enumerate(batches[: warmup + steps]):
        if i == warmup:
            sync(device)
            t0 = time.perf_counter()
        batch = {k: v.to(device, non_blocking=True) for k, v in train.batch(idx).items()}
        with engine.autocast_for(cfg, device):
            scores = model(
                batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], batch["features"]
            )
        loss_fn(scores, batch["labels"], batch["qcodes"]).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    sync(device)
    return 1e3 * (time.perf_counter() - t0) / steps


def time_variants(settings, args, device) -> list[dict]:
    """ms per step of the bare loop on the profile's model at max_length, eager against the levers a
    GPU node offers: fused AdamW, torch.compile, and CUDA graphs (compile mode reduce-overhead)."""
    import torch

    from components.training import engine
    from components.training.api import merge_params
    from components.training.electra import build_model

    out = []
    base_opt = engine.build_optimizer
    for batch in (int(b) for b in args.batches.split(",")):
        cfg = merge_params(settings.training, {"batch_size": batch, "checkpoint": None})
        if 120 not in DATA:
            DATA[120] = build_data(cfg, args.queries, 120)
        train, _, tok = DATA[120]
        for name, fused, mode in (
            ("eager", False, None),
            ("fused adamw", True, None),
            ("compile", True, "default"),
            ("compile+graphs", True, "reduce-overhead"),
        ):

            def optimizer_of(model, cfg, total, fused=fused):
                opt, sched = base_opt(model, cfg, total)
                for group in opt.param_groups:
                    group["fused"] = fused
                return opt, sched

            engine.build_optimizer = optimizer_of
            model = build_model(cfg, tok.get_vocab_size(), train.features.shape[1]).to(device)
            runner = torch.compile(model, mode=mode) if mode else model
            t0 = time.perf_counter()
            ms = time_bare(cfg, runner, train, device, args.warmup, args.steps)
            out.append(
                {
                    "variant": name,
                    "batch": batch,
                    "ms": ms,
                    "samples_per_s": batch / ms * 1e3,
                    "wall_with_compile_s": time.perf_counter() - t0,
                }
            )
            print(
                f"  {name:>15} batch {batch:>5}: {ms:7.1f} ms/step, {batch / ms * 1e3:9,.0f} samples/s "
                f"(wall incl. compile {time.perf_counter() - t0:5.1f} s)",
                flush=True,
            )
    engine.build_optimizer = base_opt
    return out


def count_flops(cfg, model, train, device) -> tuple[float, float]:
    """(FLOPs of one training step per sample, mean padded length) at the real batch shapes."""
    from torch.utils.flop_counter import FlopCounterMode

    from components.training.data import micro_batches
    from components.training.engine import autocast_for
    from components.training.losses import LOSSES

    idx = micro_batches(len(train), cfg.batch_size, cfg.seed, 0)[0]
    batch = {k: v.to(device) for k, v in train.batch(idx).items()}
    with FlopCounterMode(display=False) as counter:
        with autocast_for(cfg, device):
            scores = model(
                batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], batch["features"]
            )
        LOSSES[cfg.loss](scores, batch["labels"], batch["qcodes"]).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(idx), float(batch["input_ids"].shape[1])


def matmul_rate(n: int = 8192, reps: int = 10) -> float:
    """bf16 FLOP/s of an n x n x n product on this GPU, measured now (the practical ceiling)."""
    import torch

    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def run_config(settings, size: str, batch: int, doc_words: int, args, device) -> dict:
    from components.training.api import merge_params
    from components.training.electra import build_model

    model_params = {**settings.training.model.model_dump(), **(BASE if size == "base" else {})}
    cfg = merge_params(
        settings.training,
        {
            "batch_size": batch,
            "grad_accumulation": 1,
            "max_steps": args.warmup + args.steps,
            "eval_every": 10**6,
            "checkpoint_every": 10**6,
            "model": model_params,
            "checkpoint": None,
        },
    )  # same dims, random init: no checkpoint there
    if doc_words not in DATA:  # tokenizer and encoding depend on the text, not on the model's size
        DATA[doc_words] = build_data(cfg, args.queries, doc_words)
    train, val, tok = DATA[doc_words]
    model = build_model(cfg, tok.get_vocab_size(), train.features.shape[1]).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    n_embed = sum(p.numel() for n, p in model.named_parameters() if "embeddings" in n)
    flops, seq = count_flops(cfg, model, train, device)
    fit_ms, state = time_fit(cfg, model, train, val, device, args.warmup)
    bare_ms = time_bare(
        cfg,
        build_model(cfg, tok.get_vocab_size(), train.features.shape[1]).to(device),
        train,
        device,
        args.warmup,
        args.steps,
    )
    return {
        "size": size,
        "batch": batch,
        "doc_words": doc_words,
        "seq_len": seq,
        "params": n_params,
        "non_embedding_params": n_params - n_embed,
        "flops_per_sample": flops,
        "flops_6nt": 6 * (n_params - n_embed) * seq,
        "fit_ms": fit_ms,
        "bare_ms": bare_ms,
        "samples_per_s": batch / fit_ms * 1e3,
        "bare_samples_per_s": batch / bare_ms * 1e3,
        "data_share": state.data_seconds / max(state.step_seconds, 1e-9),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="prod", help="settings profile whose training section is timed")
    parser.add_argument(
        "--sizes", default="small,base", help="small = the profile's model; base = ELECTRA-base dims"
    )
    parser.add_argument("--batches", default="32,256,1024")
    parser.add_argument("--doc-words", default="0,120")
    parser.add_argument("--queries", type=int, default=3000, help="sample queries (10 rows each)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rows", type=float, default=10e6, help="training rows per run, for GPU-hours")
    parser.add_argument(
        "--usd-per-gpu-hour", type=float, default=4.0, help="price assumed for the cost column"
    )
    parser.add_argument("--json", default=None)
    parser.add_argument(
        "--variants", action="store_true", help="only time eager vs fused AdamW vs torch.compile"
    )
    parser.add_argument("--device", default="cuda", help="cpu only to smoke-test the script itself")
    args = parser.parse_args()
    import torch

    from components.common.config import load_settings

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: this benchmark runs on a GPU node (benchmarks/training.py is the CPU one)")
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
    measured = matmul_rate() if device.type == "cuda" else float("nan")
    settings = load_settings(args.profile)
    epochs = settings.training.epochs
    print(
        f"device {name}; torch {torch.__version__}; bf16 matmul measured {measured / 1e12:.0f} TFLOP/s; "
        f"datasheet dense bf16 {peak / 1e12 if peak else float('nan'):.0f} TFLOP/s; profile {args.profile}; "
        f"epochs {epochs}; cost at {args.rows:,.0f} rows x {epochs} epochs, ${args.usd_per_gpu_hour}/GPU-hour"
    )
    if args.variants:
        rows = time_variants(settings, args, device)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"device": name, "torch": torch.__version__, "variants": rows}, f, indent=2)
        return
    head = (
        f"{'size':>5} {'batch':>5} {'seq':>4} {'params':>7} {'GFLOP/sample':>12} {'6NT':>6} {'fit ms':>7} "
        f"{'bare ms':>7} {'samples/s':>9} {'fit/bare':>8} {'data %':>6} {'MFU peak':>8} {'MFU meas':>8} "
        f"{'GPU-h/run':>9} {'$/run':>6}"
    )
    print(head)
    rows = []
    for size in args.sizes.split(","):
        for words in (int(w) for w in args.doc_words.split(",")):
            for batch in (int(b) for b in args.batches.split(",")):
                r = run_config(settings, size, batch, words, args, device)
                achieved = r["samples_per_s"] * r["flops_per_sample"]
                r["mfu_datasheet"] = achieved / peak if peak else None
                r["mfu_measured"] = achieved / measured
                r["gpu_hours_per_run"] = args.rows * epochs / r["samples_per_s"] / 3600
                rows.append(r)
                print(
                    f"{size:>5} {batch:>5} {r['seq_len']:>4.0f} {r['params'] / 1e6:>6.1f}M {r['flops_per_sample'] / 1e9:>12.2f} "
                    f"{r['flops_6nt'] / 1e9:>6.2f} {r['fit_ms']:>7.1f} {r['bare_ms']:>7.1f} {r['samples_per_s']:>9,.0f} "
                    f"{r['bare_ms'] / r['fit_ms']:>8.2f} {100 * r['data_share']:>6.1f} "
                    f"{100 * (r['mfu_datasheet'] or 0):>7.1f}% {100 * r['mfu_measured']:>7.1f}% "
                    f"{r['gpu_hours_per_run']:>9.2f} {r['gpu_hours_per_run'] * args.usd_per_gpu_hour:>6.2f}",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "device": name,
                    "torch": torch.__version__,
                    "matmul_bf16_flops": measured,
                    "datasheet_bf16_flops": peak,
                    "profile": args.profile,
                    "epochs": epochs,
                    "rows": args.rows,
                    "configs": rows,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
