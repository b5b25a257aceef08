"""The ELECTRA cross-encoder family: tokenizer, model, the resumable torch loop, packaging.

`FAMILY` is what `training.model.family: electra` selects (registered in pyproject.toml's
`rankops.families`); `api.train` reaches `train_electra` only through the family registry.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
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


@dataclass
class Inputs:
    """What one run trains on: tokenizer, feature spec and the encoded splits."""

    tokenizer: Any
    spec: Any
    train_data: Any
    val_data: Any
    pad_id: int


def resolve_run(base: TrainingSettings, ckpt, *, resume: bool, params: dict[str, Any] | None,
                training_set: str | None) -> tuple[TrainingSettings, str | None, dict[str, Any] | None]:
    """(params, training set, last run record) of this run: a resumed run keeps its own, and refuses others."""
    from components.training.api import merge_params, params_digest

    last = ckpt.last_info() if resume else None
    if resume and last is None:
        raise TrainingError(f"nothing to resume: no checkpoint record under {ckpt.root}")
    if last is None:
        return merge_params(base, params), training_set, None
    if params and params_digest(merge_params(base, params)) != last["params_digest"]:
        raise TrainingError("--resume continues the last run with its own params; do not pass different ones")
    return TrainingSettings.model_validate(last["params"]), training_set or last["training_set"], last


def prepare_inputs(cfg: TrainingSettings, frame, features: list[str], defaults, saved_tokenizer: str | None) -> Inputs:
    """Tokenizer (saved, checkpoint's or trained on the train split), feature spec, encoded splits."""
    from components.training.data import encode_split
    from components.training.model import FeatureSpec

    train_frame = frame[frame["split"] == "train"]
    tokenizer = _tokenizer_for(cfg, train_frame, saved_tokenizer)
    spec = FeatureSpec.fit(train_frame, features, defaults, lexical=cfg.model.lexical_features)
    return Inputs(tokenizer, spec, encode_split(train_frame, tokenizer, spec),
                  encode_split(frame[frame["split"] == "validation"], tokenizer, spec),
                  tokenizer.token_to_id("[PAD]") or 0)


def log_run_start(ckpt, cfg: TrainingSettings, snapshot, frame, features: list[str], inputs: Inputs, model, device,
                  run_id: str, *, fresh: bool, nested: bool) -> None:
    """Params, dataset and tokenizer of a fresh run (and the record --resume reads); a resumed run is tagged."""
    import mlflow

    from components.training.api import params_digest
    from components.training.tracking import flatten, log_dataset

    if not fresh:
        mlflow.set_tag("rankops.resumed", "true")
        return
    mlflow.log_params(flatten("", cfg.model_dump()) | {
        "n_train_rows": len(inputs.train_data), "n_validation_rows": len(inputs.val_data),
        "n_features": len(features), "n_model_inputs": len(inputs.spec.names),
        "vocab_size_actual": inputs.tokenizer.get_vocab_size(), "device": device.type,
        "n_parameters": sum(p.numel() for p in model.parameters())})
    log_dataset(snapshot, frame)
    os.makedirs(ckpt.run_dir(run_id), exist_ok=True)
    inputs.tokenizer.save(os.path.join(ckpt.run_dir(run_id), "tokenizer.json"))
    if not nested:  # tuning trials never become the run that --resume continues
        ckpt.mark_last({"run_id": run_id, "training_set": snapshot.ref, "params": cfg.model_dump(),
                        "params_digest": params_digest(cfg)})


def package_model(settings, cfg: TrainingSettings, snapshot, features: list[str], inputs: Inputs, model, run_id: str,
                  *, log_model: bool, validate: bool):
    """(scorer, model URI, validity report): the scorer logged as the run's pyfunc and checked once."""
    import mlflow

    from components.training.api import _validate
    from components.training.data import training_set_service
    from components.training.model import Scorer
    from components.training.packaging import input_example, log_ranker

    service = training_set_service(snapshot.manifest, cfg.feature_service)
    scorer = Scorer(model.cpu().eval(), inputs.tokenizer, inputs.spec, {
        "pad_id": inputs.pad_id, "feature_service": service, "training_set": snapshot.ref,
        "model_kind": MODEL_KIND, "family": FAMILY.name, "max_length": cfg.model.max_length})
    if not log_model:
        return scorer, None, None
    model_uri = log_ranker(scorer, input_example(inputs.val_data.frame, features), {
        "features": features, "defaults": inputs.spec.defaults, "feature_service": service,
        "training_set": snapshot.ref, "text_columns": ["query_text", "title", "description"],
        "model_kind": MODEL_KIND, "family": FAMILY.name})
    mlflow.set_tag("rankops.model_uri", model_uri)
    return scorer, model_uri, _validate(settings, model_uri, run_id) if validate else None


def train_electra(settings, *, training_set: str | None = None, params: dict[str, Any] | None = None, callbacks=(),
                  resume: bool = False, tags: dict[str, str] | None = None, validate: bool = True,
                  log_model: bool = True, nested: bool = False) -> TrainResult:
    """Train the cross-encoder on a training-set snapshot, tracked in MLflow; return run, model URI and metrics.

    `resume=True` continues the last interrupted run from its latest checkpoint (same MLflow run).
    A model that fails `validity.check_model` ends the run FAILED and raises ModelInvalid.
    """
    import mlflow

    from components.training.api import load_training_frame
    from components.training.checkpoint import CheckpointManager
    from components.training.data import training_set_service
    from components.training.engine import call_callbacks, dist_info, evaluate, fit, pick_device
    from components.training.tracking import MetricStream, ensure_experiment, lineage_tags

    ckpt = CheckpointManager(settings.resolve(settings.training.checkpoint_dir), keep=settings.training.keep_checkpoints)
    cfg, training_set, last = resolve_run(settings.training, ckpt, resume=resume, params=params,
                                          training_set=training_set)
    snapshot, frame, features, defaults = load_training_frame(settings, cfg, training_set)
    if last is not None and snapshot.ref != last["training_set"]:
        raise TrainingError(f"--resume: the last run trained on {last['training_set']}, not {snapshot.ref}")
    seed_everything(cfg)
    inputs = prepare_inputs(cfg, frame, features, defaults,
                            os.path.join(ckpt.run_dir(last["run_id"]), "tokenizer.json") if last else None)
    model = build_model(cfg, inputs.tokenizer.get_vocab_size(), len(inputs.spec.names))
    device = pick_device(cfg)
    model.to(device)
    rank, _, world = dist_info()
    if world > 1:
        init_distributed(device)
    if rank != 0:  # torchrun workers train; only rank 0 tracks, checkpoints and packages
        state = fit(model, inputs.train_data, inputs.val_data, cfg, device=device, ckpt=ckpt,
                    run_id=last["run_id"] if last else "_worker", resume=ckpt.latest(last["run_id"]) if last else None,
                    pad_id=inputs.pad_id)
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
        mlflow.set_tags(lineage_tags(snapshot, training_set_service(snapshot.manifest, cfg.feature_service),
                                     MODEL_KIND, tags))
        log_run_start(ckpt, cfg, snapshot, frame, features, inputs, model, device, run_id, fresh=last is None,
                      nested=nested)
        state = fit(model, inputs.train_data, inputs.val_data, cfg, device=device, ckpt=ckpt, run_id=run_id,
                    stream=stream, callbacks=callbacks, resume=ckpt.latest(run_id) if last else None,
                    pad_id=inputs.pad_id)
        best = ckpt.load_best(run_id)
        if best is not None:
            model.load_state_dict(best)
        metrics = {k if k != "loss" else "val_loss": v for k, v in evaluate(model, inputs.val_data, cfg, device).items()}
        stream.add({**metrics, "best_step": state.best_step, "stopped_early": float(state.stopped_early)}, state.step)
        stream.close()
        scorer, model_uri, validity = package_model(settings, cfg, snapshot, features, inputs, model, run_id,
                                                    log_model=log_model, validate=validate)
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
