"""The small end_to_end run that the local and the containerised pipeline tests both make: its data
and training steps, so the two stay one run and its verdict (promote, on seed 7) holds for both."""

DATA = ("-p", "impressions=4000", "-p", "days=2")
STEPS = {"max_steps": 30, "eval_every": 15, "checkpoint_every": 15}
