"""``python -m devstack``: start the data stores, print their variables, wait for Ctrl-C.

$ python -m devstack --replicas 1 --env-file .stack/servers.env
export DATABASE_URL=postgres://postgres@127.0.0.1:40971/myhibachi
...
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from pathlib import Path
from types import FrameType

from devstack.binaries import MissingBinary
from devstack.processes import ServerStartError
from devstack.stack import LocalServers


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("--replicas", type=int, default=1, help="hot standbys (default 1)")
    parser.add_argument("--no-redis", action="store_true", help="start PostgreSQL only")
    parser.add_argument("--database", default="myhibachi", help="database name")
    parser.add_argument("--env-file", type=Path, help="also write the variables to this file")
    args = parser.parse_args(argv)

    servers = LocalServers(replicas=args.replicas, redis=not args.no_redis, database=args.database)
    # Both explicitly: a shell starting us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        servers.start()
    except (MissingBinary, ServerStartError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        lines = [f"export {key}={shlex.quote(value)}" for key, value in servers.env().items()]
        print("\n".join(lines), flush=True)
        if args.env_file:
            args.env_file.parent.mkdir(parents=True, exist_ok=True)
            args.env_file.write_text("\n".join(lines) + "\n")
        print("# running; Ctrl-C stops and removes them", file=sys.stderr, flush=True)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return 0
    finally:
        servers.stop()
        if args.env_file:
            args.env_file.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
