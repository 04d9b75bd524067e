"""``python -m bench [--smoke] [--scale N] [--duration S] [--connections 16,64,256] ...``"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.load.config import BenchConfig
from bench.load.runner import Bench

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _connections(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="the same path in seconds")
    parser.add_argument("--out", type=Path, help="report directory (default results/<time>)")
    parser.add_argument("--scale", type=int, help="seed_demo --scale (default 500)")
    parser.add_argument("--bookings", type=int, help="seed_demo --bookings (default 62000)")
    parser.add_argument("--duration", type=int, help="seconds per measured run (default 10)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up before each run")
    parser.add_argument("--connections", type=_connections, help="e.g. 16,64,256")
    parser.add_argument("--compare-connections", type=int, help="comparisons' concurrency")
    parser.add_argument("--rounds", type=int, help="alternating rounds per comparison")
    parser.add_argument(
        "--grow-posts", type=int, help="posts for the second cursor check (0: skip)"
    )
    parser.add_argument("--workers", type=int, help="gunicorn processes per backend (2)")
    parser.add_argument("--threads", type=int, help="threads per gunicorn process (4)")
    parser.add_argument("--profile", action="store_true", help="py-spy one backend")
    args = parser.parse_args(argv)

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or RESULTS_DIR / (f"{stamp}-smoke" if args.smoke else stamp)
    config = BenchConfig.smoke_run(out) if args.smoke else BenchConfig(out_dir=out)
    overrides = {
        "scale": args.scale,
        "bookings": args.bookings,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "connections": args.connections,
        "compare_connections": args.compare_connections,
        "rounds": args.rounds,
        "grow_posts_to": args.grow_posts or None,
        "profile": args.profile or None,
        "backend_workers": args.workers,
        "backend_threads": args.threads,
    }
    changed = {key: value for key, value in overrides.items() if value is not None}
    if args.grow_posts == 0:
        changed["grow_posts_to"] = None
    config = dataclasses.replace(config, **changed)
    Bench(config, log=lambda line: print(line, flush=True)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
