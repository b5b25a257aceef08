"""Train the tiny cross-encoder with the production loop and save rank 0's final weights.

    python -m tests.support.ddp_job OUT BATCH_SIZE GRAD_ACCUMULATION           # one process
    torchrun --nproc-per-node 2 -m tests.support.ddp_job OUT BATCH_SIZE 1       # two gloo ranks
    torchrun --nnodes 2 --nproc-per-node 1 --rdzv-backend c10d ... -m tests.support.ddp_job OUT BATCH_SIZE 1
                                                                 # one rank per node (container)

`components.training.engine.fit` (DDP under torchrun), `encode_split`, `build_model` and the
tokenizer are the production code; only the data is a fixed tiny table. Dropout is 0 so that
ranks with different RNG streams compute the same function. The row count is cut to a multiple
of 2 x BATCH_SIZE so every micro-batch is full and both layouts see the same global batches.
"""

from __future__ import annotations

import os
import sys
import tempfile


def main(out: str, batch_size: int, accumulation: int) -> None:
    import torch

    from components.training.checkpoint import CheckpointManager
    from components.training.data import encode_split
    from components.training.electra import build_model, init_distributed, seed_everything
    from components.training.engine import dist_info, fit
    from components.training.model import FeatureSpec, document_text
    from components.training.settings import ModelSettings, TrainingSettings
    from components.training.tokenizer import train_tokenizer
    from tests.support import serving_data as sample

    torch.set_num_threads(1)
    cfg = TrainingSettings(batch_size=batch_size, grad_accumulation=accumulation, epochs=2, eval_every=10**6,
                           checkpoint_every=10**6, early_stopping_patience=0, device="cpu", precision="fp32",
                           learning_rate=5e-3, model=ModelSettings(dropout=0.0, vocab_size=400, max_length=48))
    frame = sample.make_tables(n_queries=20, n_videos=60, seed=2)["training_set"]
    frame = frame.iloc[: len(frame) // (2 * batch_size) * (2 * batch_size)].reset_index(drop=True)
    texts = list(frame["query_text"]) + [document_text(t, d) for t, d in zip(frame["title"], frame["description"],
                                                                            strict=True)]
    tokenizer = train_tokenizer(texts, cfg.model.vocab_size, cfg.model.max_length)
    spec = FeatureSpec.fit(frame, sample.FEATURES, {}, lexical=cfg.model.lexical_features)
    data = encode_split(frame, tokenizer, spec)
    seed_everything(cfg)
    model = build_model(cfg, tokenizer.get_vocab_size(), len(spec.names))
    device = torch.device("cpu")
    rank, _, world = dist_info()
    if world > 1:
        init_distributed(device)
    with tempfile.TemporaryDirectory() as tmp:
        state = fit(model, data, data, cfg, device=device, ckpt=CheckpointManager(tmp, keep=1), run_id="ddp",
                    pad_id=tokenizer.token_to_id("[PAD]") or 0)
    if rank == 0:
        torch.save({"state": model.state_dict(), "steps": state.step, "rows": len(frame), "world": world,
                    "local_world": int(os.environ.get("LOCAL_WORLD_SIZE", 1))}, out)
    if world > 1:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
