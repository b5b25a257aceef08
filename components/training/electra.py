"""The ELECTRA cross-encoder family: tokenizer, model, the resumable torch loop, packaging.

`FAMILY` is what `training.model.family: electra` selects (registered in pyproject.toml's
`rankops.families`); `api.train` reaches `train_electra` only through the family registry.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np

from components.training.api import ModelInvalid, TrainingError, TrainResult
from components.training.families import Family
from components.training.settings import ElectraParams, TrainingSettings

MODEL_KIND = "electra-cross-encoder"


def seed_everything(cfg: TrainingSettings) -> None:
    import torch

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if not torch.cuda.is_available():
        torch.use_deterministic_algorithms(True, warn_only=True)


def build_model(cfg: TrainingSettings, vocab_size: int, n_features: int):
    """Tiny ELECTRA from the config, or the pretrained discriminator of `cfg.checkpoint`."""
    import torch
    from transformers import ElectraConfig, ElectraModel

    from components.training.model import CrossEncoder

    torch.manual_seed(cfg.seed)
    m = cfg.model
    if cfg.checkpoint:
        encoder = ElectraModel.from_pretrained(cfg.checkpoint, local_files_only=True)
        return CrossEncoder(encoder.config, n_features, m.head_hidden, m.dropout, encoder=encoder)
    config = ElectraConfig(vocab_size=vocab_size, embedding_size=m.embedding_size, hidden_size=m.hidden_size,
                           num_hidden_layers=m.num_layers, num_attention_heads=m.num_heads,
                           intermediate_size=m.intermediate_size, max_position_embeddings=max(m.max_length, 32),
                           hidden_dropout_prob=m.dropout, attention_probs_dropout_prob=m.dropout, pad_token_id=0)
    return CrossEncoder(config, n_features, m.head_hidden, m.dropout)


def init_distributed(device) -> None:
    """Join the torchrun process group (NCCL on GPU, gloo on CPU) once per process."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def _tokenizer_for(cfg: TrainingSettings, train_frame, saved: str | None):
    from tokenizers import Tokenizer

    from components.training.model import document_text
    from components.training.tokenizer import load_tokenizer, train_tokenizer

    if saved and os.path.exists(saved):
        return Tokenizer.from_file(saved)
    if cfg.checkpoint:
        return load_tokenizer(cfg.checkpoint, cfg.model.max_length)
    texts = list(train_frame["query_text"].fillna("").astype(str))
    texts += [document_text(t, d) for t, d in zip(train_frame["title"], train_frame["description"], strict=True)]
    return train_tokenizer(texts, cfg.model.vocab_size, cfg.model.max_length)


def train_electra(settings, *, training_set: str | None = None, params: dict[str, Any] | None = None, callbacks=(),
                  resume: bool = False, tags: dict[str, str] | None = None, validate: bool = True,
                  log_model: bool = True, nested: bool = False) -> TrainResult:
    """Train the cross-encoder on a training-set snapshot, tracked in MLflow; return run, model URI and metrics.

    `resume=True` continues the last interrupted run from its latest checkpoint (same MLflow run).
    A model that fails `validity.check_model` ends the run FAILED and raises ModelInvalid.
    """
    import mlflow

    from components.common.snapshots import SnapshotStore
    from components.training.api import _validate, merge_params, params_digest
    from components.training.checkpoint import CheckpointManager
    from components.training.data import encode_split, training_frame_meta, validate_frame
    from components.training.engine import dist_info, evaluate, fit, pick_device
    from components.training.model import FeatureSpec, Scorer
    from components.training.packaging import input_example, log_ranker
    from components.training.tracking import (
        MetricStream,
        ensure_experiment,
        flatten,
        lineage_tags,
        log_dataset,
    )

    base = settings.training
    ckpt = CheckpointManager(settings.resolve(base.checkpoint_dir), keep=base.keep_checkpoints)
    last = ckpt.last_info() if resume else None
    if resume and last is None:
        raise TrainingError(f"nothing to resume: no checkpoint record under {ckpt.root}")
    if last is not None:
        cfg = TrainingSettings.model_validate(last["params"])
        training_set = training_set or last["training_set"]
        if params and params_digest(merge_params(base, params)) != last["params_digest"]:
            raise TrainingError("--resume continues the last run with its own params; do not pass different ones")
    else:
        cfg = merge_params(base, params)
    store = SnapshotStore(settings.lakehouse)
    snapshot = store.resolve(training_set or f"features/training_set_{cfg.feature_service}")
    if last is not None and snapshot.ref != last["training_set"]:
        raise TrainingError(f"--resume: the last run trained on {last['training_set']}, not {snapshot.ref}")
    frame = store.read_pandas(snapshot)
    features, defaults = training_frame_meta(snapshot.manifest)
    validate_frame(frame, features, f"training set {snapshot.ref} ({snapshot.data_path})")

    seed_everything(cfg)
    train_frame = frame[frame["split"] == "train"]
    saved_tok = os.path.join(ckpt.run_dir(last["run_id"]), "tokenizer.json") if last else None
    tokenizer = _tokenizer_for(cfg, train_frame, saved_tok)
    spec = FeatureSpec.fit(train_frame, features, defaults, lexical=cfg.model.lexical_features)
    train_data = encode_split(train_frame, tokenizer, spec)
    val_data = encode_split(frame[frame["split"] == "validation"], tokenizer, spec)
    pad_id = tokenizer.token_to_id("[PAD]") or 0
    model = build_model(cfg, tokenizer.get_vocab_size(), len(spec.names))
    device = pick_device(cfg)
    model.to(device)
    rank, _, world = dist_info()
    if world > 1:
        init_distributed(device)
    if rank != 0:  # torchrun workers train; only rank 0 tracks, checkpoints and packages
        state = fit(model, train_data, val_data, cfg, device=device, ckpt=ckpt,
                    run_id=last["run_id"] if last else "_worker", resume=ckpt.latest(last["run_id"]) if last else None,
                    pad_id=pad_id)
        return TrainResult(run_id="", model_uri=None, metrics={}, tracking_uri=settings.tracking_uri,
                           training_set=snapshot.ref, steps=state.step, stopped_early=state.stopped_early)

    experiment_id = ensure_experiment(settings)
    if cfg.system_metrics:
        mlflow.set_system_metrics_sampling_interval(cfg.system_metrics_interval_s)
    run_kwargs: dict[str, Any] = {"run_id": last["run_id"]} if last else {"run_name": f"train-{snapshot.snapshot_id[:8]}"}
    run = mlflow.start_run(experiment_id=experiment_id, nested=nested, log_system_metrics=cfg.system_metrics, **run_kwargs)
    run_id = run.info.run_id
    stream = MetricStream(run_id, settings.tracking_uri, cfg.log_flush_every)
    try:
        all_tags = lineage_tags(snapshot, cfg.feature_service, MODEL_KIND, tags)
        mlflow.set_tags(all_tags)
        if last is None:
            mlflow.log_params(flatten("", cfg.model_dump()) | {
                "n_train_rows": len(train_data), "n_validation_rows": len(val_data), "n_features": len(features),
                "n_model_inputs": len(spec.names),
                "vocab_size_actual": tokenizer.get_vocab_size(), "device": device.type,
                "n_parameters": sum(p.numel() for p in model.parameters())})
            log_dataset(snapshot, frame)
            os.makedirs(ckpt.run_dir(run_id), exist_ok=True)
            tokenizer.save(os.path.join(ckpt.run_dir(run_id), "tokenizer.json"))
            if not nested:  # tuning trials never become the run that --resume continues
                ckpt.mark_last({"run_id": run_id, "training_set": snapshot.ref, "params": cfg.model_dump(),
                                "params_digest": params_digest(cfg)})
        else:
            mlflow.set_tag("rankops.resumed", "true")
        state = fit(model, train_data, val_data, cfg, device=device, ckpt=ckpt, run_id=run_id, stream=stream,
                    callbacks=callbacks, resume=ckpt.latest(run_id) if last else None, pad_id=pad_id)
        best = ckpt.load_best(run_id)
        if best is not None:
            model.load_state_dict(best)
        final = evaluate(model, val_data, cfg, device)
        metrics = {k if k != "loss" else "val_loss": v for k, v in final.items()}
        stream.add({**metrics, "best_step": state.best_step, "stopped_early": float(state.stopped_early)}, state.step)
        stream.close()
        model_uri, validity = None, None
        scorer = Scorer(model.cpu().eval(), tokenizer, spec, {
            "pad_id": pad_id, "feature_service": cfg.feature_service, "training_set": snapshot.ref,
            "model_kind": MODEL_KIND, "family": FAMILY.name, "max_length": cfg.model.max_length})
        if log_model:
            example = input_example(val_data.frame, features)
            model_uri = log_ranker(scorer, example, {
                "features": features, "defaults": spec.defaults, "feature_service": cfg.feature_service,
                "training_set": snapshot.ref, "text_columns": ["query_text", "title", "description"],
                "model_kind": MODEL_KIND, "family": FAMILY.name})
            mlflow.set_tag("rankops.model_uri", model_uri)
            if validate:
                validity = _validate(settings, model_uri, run_id)
        mlflow.end_run("FINISHED")
        ckpt.finish(run_id)
    except ModelInvalid:
        stream.close()
        mlflow.end_run("FAILED")
        ckpt.finish(run_id)
        raise
    except BaseException as exc:
        stopped = isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "TrialPruned"
        if type(exc).__name__ == "TrialPruned":
            ckpt.finish(run_id)
        try:
            stream.close()
        finally:
            mlflow.end_run("KILLED" if stopped else "FAILED")
        raise
    call_result = TrainResult(run_id=run_id, model_uri=model_uri, metrics=metrics, tracking_uri=settings.tracking_uri,
                              training_set=snapshot.ref, steps=state.step, stopped_early=state.stopped_early,
                              validity=validity, scorer=scorer)
    from components.training.engine import call_callbacks

    call_callbacks(callbacks, "on_train_end", call_result)
    return call_result


def load_scorer(directory: str):
    """The packaged Scorer (what the pyfunc serves), with at least one torch thread."""
    import torch

    from components.training.model import Scorer

    torch.set_num_threads(max(1, torch.get_num_threads()))
    return Scorer.load(directory)


def check_artifact(local_path: str) -> tuple[bool, str]:
    """Every floating tensor of the packaged safetensors weights is finite."""
    import glob

    from safetensors.numpy import load_file

    files = glob.glob(os.path.join(local_path, "**", "*.safetensors"), recursive=True)
    if not files:
        return False, "no safetensors weights in the model artifact"
    bad = [name for f in files for name, arr in load_file(f).items()
           if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all()]
    return (not bad), (f"non-finite values in {bad[:5]}" if bad else f"{len(files)} weight file(s) finite")


def search_space(trial) -> dict[str, Any]:
    """The search space: optimisation knobs and the head/encoder width."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 3e-4, 5e-3, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 0.0, 0.1),
        "loss": trial.suggest_categorical("loss", ["pointwise", "pairwise", "listwise"]),
        "model.dropout": trial.suggest_float("model.dropout", 0.0, 0.2),
        "model.head_hidden": trial.suggest_categorical("model.head_hidden", [32, 64, 128]),
    }


FAMILY = Family(
    name="electra",
    params=ElectraParams,
    train=train_electra,
    load_scorer=load_scorer,
    check_artifact=check_artifact,
    search_space=search_space,
    model_kind=MODEL_KIND,
    description="ELECTRA cross-encoder on (query, title + description) with numeric and lexical features.",
)
