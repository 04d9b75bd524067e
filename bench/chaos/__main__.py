"""``python -m bench.chaos [--short] [--out DIR]`` (make chaos)."""

from __future__ import annotations

import sys

from bench.chaos.run import main

if __name__ == "__main__":
    sys.exit(main())
