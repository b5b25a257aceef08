"""The training loop: a plain torch loop with gradient accumulation, bf16 autocast on GPU, DDP
under torchrun, periodic validation with early stopping, and resumable checkpoints. It runs at
the speed of a bare loop (and of transformers.Trainer, see benchmarks/training.py) while
resume stays bitwise exact.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from components.training.api import call_callbacks
from components.training.checkpoint import CheckpointManager, rng_state, set_rng_state
from components.training.data import SplitData, micro_batches
from components.training.losses import LOSSES, MAX_LABEL
from components.training.metrics import metric_key, ranking_metrics
from components.training.model import CrossEncoder, score_encoded


@dataclass
class LoopState:
    """Where training stands; everything needed (with RNG and optimiser) to resume exactly."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_metric: float = -math.inf
    best_step: int = 0
    bad_evals: int = 0
    stopped_early: bool = False
    samples: int = 0
    data_seconds: float = 0.0
    step_seconds: float = 0.0


def dist_info() -> tuple[int, int, int]:
    """(rank, local rank, world size) from torchrun's environment (1 process otherwise)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def pick_device(cfg) -> torch.device:
    if cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", dist_info()[1])
    return torch.device("cpu")


def autocast_for(cfg, device: torch.device):
    """bf16 autocast on CUDA (auto) or when asked; plain fp32 otherwise."""
    use_bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda")
    if use_bf16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def build_optimizer(model: torch.nn.Module, cfg, total_steps: int):
    """AdamW without decay on biases and LayerNorm; linear warm-up then linear decay. On CUDA the
    fused kernel: 1.3-1.5x samples/s on an H200 for the production model (benchmarks/training_gpu.py)."""
    from transformers import get_linear_schedule_with_warmup

    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    fused = all(p.is_cuda for p in decay + no_decay)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.learning_rate, fused=fused or None)
    warmup = int(cfg.warmup_ratio * total_steps)
    return optimizer, get_linear_schedule_with_warmup(optimizer, warmup, total_steps)


def total_steps_of(n_train: int, cfg, world: int = 1) -> int:
    per_epoch = math.ceil(len(micro_batches(n_train, cfg.batch_size, cfg.seed, 0, 0, world)) / cfg.grad_accumulation)
    return cfg.max_steps or max(1, per_epoch * cfg.epochs)


def evaluate(model: CrossEncoder, split: SplitData, cfg, device: torch.device, metrics=None) -> dict[str, float]:
    """Validation ranking metrics (ranx) and pointwise loss of the model on `split`."""
    with autocast_for(cfg, device):
        scores = score_encoded(model, split.ids, split.types, split.features, batch_size=cfg.eval_batch_size,
                               device=device)
    names = tuple(dict.fromkeys([cfg.metric, *(metrics or ("ndcg@10", "ndcg@5", "mrr@10"))]))
    out = ranking_metrics(split.frame["query_id"], split.frame["video_id"], split.labels, scores, names)
    target = torch.from_numpy(split.labels / MAX_LABEL)
    out["loss"] = float(F.binary_cross_entropy_with_logits(torch.from_numpy(scores), target))
    return out


def fit(model: CrossEncoder, train: SplitData, val: SplitData, cfg, *, device: torch.device,
        ckpt: CheckpointManager, run_id: str, stream=None, callbacks=(), resume: dict[str, Any] | None = None,
        pad_id: int = 0) -> LoopState:
    """Train `model` in place; return the final loop state (the best weights are in `ckpt`)."""
    rank, _, world = dist_info()
    core = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    total = total_steps_of(len(train), cfg, world)
    optimizer, scheduler = build_optimizer(core, cfg, total)
    loss_fn = LOSSES[cfg.loss]
    state = LoopState()
    if resume is not None:
        core.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        state = LoopState(**resume["loop"])
        set_rng_state(resume["rng"])
    key = metric_key(cfg.metric)
    model.train()
    while state.step < total and not state.stopped_early:
        batches = micro_batches(len(train), cfg.batch_size, cfg.seed, state.epoch, rank, world)
        while state.batch_in_epoch < len(batches) and state.step < total and not state.stopped_early:
            t_step = time.perf_counter()
            group = batches[state.batch_in_epoch : state.batch_in_epoch + cfg.grad_accumulation]
            loss_sum, data_s = 0.0, 0.0
            for i, idx in enumerate(group):
                t0 = time.perf_counter()
                batch = {k: v.to(device, non_blocking=True) for k, v in train.batch(idx, pad_id).items()}
                data_s += time.perf_counter() - t0
                sync = contextlib.nullcontext() if world == 1 or i == len(group) - 1 else model.no_sync()
                with sync:
                    with autocast_for(cfg, device):
                        scores = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
                                       batch["features"])
                    loss = loss_fn(scores, batch["labels"], batch["qcodes"]) / len(group)
                    loss.backward()
                loss_sum += float(loss.detach())
            grad_norm = float(torch.nn.utils.clip_grad_norm_(core.parameters(), cfg.max_grad_norm))
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state.step += 1
            state.batch_in_epoch += len(group)
            n = sum(len(g) for g in group)
            state.samples += n * world
            elapsed = time.perf_counter() - t_step
            state.data_seconds += data_s
            state.step_seconds += elapsed
            logs = {"train_loss": loss_sum, "learning_rate": scheduler.get_last_lr()[0], "grad_norm": grad_norm,
                    "samples_per_s": n * world / max(elapsed, 1e-9), "epoch": state.epoch}
            if stream is not None and rank == 0 and state.step % cfg.log_every == 0:
                stream.add(logs, state.step)
            if state.step % cfg.eval_every == 0 or state.step == total:
                val_metrics = evaluate(core, val, cfg, device)
                model.train()
                _update_best(state, val_metrics[key], cfg, ckpt, run_id, core, rank)
                val_logs = {f"val_{k}": v for k, v in val_metrics.items()}
                val_logs["data_time_share"] = state.data_seconds / max(state.step_seconds, 1e-9)
                if stream is not None and rank == 0:
                    stream.add(val_logs, state.step)
                call_callbacks(callbacks, "on_evaluate", state.step, val_logs)
            if stream is not None and rank == 0:
                stream.step_done()
            call_callbacks(callbacks, "on_step", state.step, total, logs)
            if state.step % cfg.checkpoint_every == 0 and rank == 0:
                if stream is not None:  # a resume starts after the checkpoint: what it covers must be logged
                    stream.flush(wait=True)
                ckpt.save(run_id, state.step, {"model": core.state_dict(), "optimizer": optimizer.state_dict(),
                                               "scheduler": scheduler.state_dict(), "loop": asdict(state),
                                               "rng": rng_state()})
                call_callbacks(callbacks, "on_checkpoint", state.step)
        if state.batch_in_epoch >= len(batches):
            state.epoch += 1
            state.batch_in_epoch = 0
    return state


def _update_best(state: LoopState, value: float, cfg, ckpt: CheckpointManager, run_id: str,
                 core: CrossEncoder, rank: int) -> None:
    if not np.isfinite(value):
        value = -math.inf
    if value > state.best_metric:
        state.best_metric, state.best_step, state.bad_evals = value, state.step, 0
        if rank == 0:
            ckpt.save_best(run_id, {k: v.detach().cpu().clone() for k, v in core.state_dict().items()})
    else:
        state.bad_evals += 1
        if cfg.early_stopping_patience and state.bad_evals >= cfg.early_stopping_patience:
            state.stopped_early = True
