"""Generator throughput: impressions/s and peak Python memory at growing N (prints figures).

    .venv/bin/python benchmarks/datagen.py --sizes 100000 1000000

Target: 1M impressions well under a minute; peak memory flat in N (streamed writing).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

from components.datagen.generate import generate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="also trace peak memory (slower)")
    args = parser.parse_args()
    print(f"{'impressions':>12} {'seconds':>8} {'rows/s':>10} {'MB on disk':>11} {'peak MB':>8}")
    for n in args.sizes:
        out = Path(tempfile.mkdtemp(prefix="rankops-datagen-"))
        try:
            if args.memory:
                tracemalloc.start()
            began = time.perf_counter()
            generate_dataset(out, impressions=n, days=args.days, seed=7, dirty_share=0.02)
            seconds = time.perf_counter() - began
            peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.memory else float("nan")
            tracemalloc.stop()
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
            print(f"{n:>12,} {seconds:>8.1f} {n / seconds:>10,.0f} {size:>11,.0f} {peak:>8.1f}")
        finally:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
