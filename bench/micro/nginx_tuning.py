"""Each nginx tuning choice, measured one at a time: ``python -m bench.micro.nginx_tuning``.

The benchmark issue asks to tune nginx in front of the backends (keep-alive, buffering, worker
count, access-log cost) and to say what each change gave. This starts one nginx from
deploy/nginx's template per variant — the template as it is, then with one choice undone —
in front of a tiny constant-JSON backend, and drives three kinds of request with ``wrk``
(bench/load/lua/requests.lua, 64 connections):

- a micro-cache hit (``/api/...``: the backend answered once with ``s-maxage``);
- a proxied request (``/...``: every request reaches the backend);
- a small static file (``/static/...``).

Per variant and kind it reports requests/s and **nginx's CPU microseconds per request** (its
workers' utime + stime from /proc). On a shared 2-core machine requests/s moves by tens of per
cent between runs; nginx's CPU per request barely does, so that is the figure to compare.
Variants run in alternating rounds (A B C ... A B C ...), the best of each kept. Everything
listens on 127.0.0.1 and every run is bounded by ``--duration``.

The backend is Python's threaded HTTP server, so proxied requests/s measure mostly the backend:
read the CPU column for those. The real stack's figures are in ``make bench``'s report.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.server
import json
import re
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.load.loadgen import run_wrk
from deploy.nginx.render import TEMPLATE, NginxSite
from devstack.nginx import NginxServer
from devstack.processes import free_port, make_temp_base_dir, remove_tree

BODY = json.dumps([{"id": n, "title": f"Hibachi night {n}", "slug": f"post-{n}"} for n in range(8)])
KINDS = {
    "micro-cache hit": "/api/v1/tuning/",
    "proxied": "/tuning/",
    "static file": "/static/tuning.txt",
}


def _undo(old: str, new: str = "") -> Callable[[str], str]:
    """A variant: the template with ``old`` replaced (each must match exactly once)."""

    def edit(template: str) -> str:
        if template.count(old) < 1:
            raise ValueError(f"the template no longer contains {old!r}")
        return template.replace(old, new)

    return edit


def _unbuffered_upstream(template: str) -> str:
    return re.sub(r"(location / \{\n)", r"\1            proxy_buffering off;\n", template, count=1)


VARIANTS: dict[str, Callable[[str], str]] = {
    "as deployed": lambda template: template,
    "access log: a write() per line": _undo(" buffer=64k flush=1s"),
    "micro-cache: no open_file_cache": _undo("open_file_cache max=1000 inactive=30s;"),
    "upstream: no keep-alive": _undo("        keepalive 32;\n"),
    "upstream: proxy_buffering off": _unbuffered_upstream,
    "one nginx worker (not auto = 1 per CPU)": _undo(
        "worker_processes {{ worker_processes }};", "worker_processes 1;"
    ),
}


class _ConstantJson(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like gunicorn's gthread workers
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

    def do_GET(self) -> None:  # http.server's naming
        body = BODY.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "public, max-age=60, s-maxage=300")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _Backend(http.server.ThreadingHTTPServer):
    request_queue_size = 1024  # the default 5 drops connects under 64 connections: 504s
    daemon_threads = True


@dataclasses.dataclass
class Figure:
    requests_per_s: float
    nginx_cpu_us: float


def measure(
    variants: Sequence[str], rounds: int, duration: int, log: Callable[[str], None] = print
) -> dict[str, dict[str, Figure]]:
    """Best figures per variant and kind (most requests/s; least CPU per request)."""
    workdir = make_temp_base_dir("myhibachi-nginx-tuning-")
    workdir.chmod(0o755)  # nginx's workers run as nobody under root: they must get in
    static_root = workdir / "static"
    static_root.mkdir()
    (static_root / "tuning.txt").write_text(BODY)
    backend = _Backend(("127.0.0.1", free_port()), _ConstantJson)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    template = TEMPLATE.read_text()
    best: dict[str, dict[str, Figure]] = {name: {} for name in variants}
    try:
        for round_number in range(rounds):
            for index, name in enumerate(variants):
                site = NginxSite(
                    listen=f"127.0.0.1:{free_port()}",
                    backends=[f"127.0.0.1:{backend.server_address[1]}"],
                    static_root=str(static_root),
                    limit_exempt=["127.0.0.1/32"],
                )
                prefix = workdir / f"nginx-{round_number}-{index}"
                nginx = NginxServer(site, prefix=prefix, template=VARIANTS[name](template))
                nginx.start()
                try:
                    for kind, path in KINDS.items():
                        figure = _run(nginx, workdir, path, duration)
                        log(f"round {round_number + 1} {name} / {kind}: {figure}")
                        kept = best[name].get(kind)
                        best[name][kind] = Figure(
                            max(figure.requests_per_s, kept.requests_per_s if kept else 0),
                            min(figure.nginx_cpu_us, kept.nginx_cpu_us if kept else 1e9),
                        )
                finally:
                    nginx.stop()
    finally:
        backend.shutdown()
        remove_tree(workdir)
    return best


def _run(nginx: NginxServer, workdir: Path, path: str, duration: int) -> Figure:
    requests = workdir / "requests.txt"
    requests.write_text(f"GET\t{path}\t\t\n")
    run_wrk(nginx.url, script="requests.lua", env={"BENCH_REQUESTS": str(requests)},
            connections=8, duration_s=1)  # fmt: skip  # warm: fills the micro-cache
    measured = run_wrk(
        nginx.url,
        script="requests.lua",
        env={"BENCH_REQUESTS": str(requests)},
        connections=64,
        duration_s=duration,
        cpu_groups={"nginx": nginx.worker_pids()},
    )
    if measured.non_2xx or measured.errors or not measured.requests:
        raise RuntimeError(f"{path}: {measured.statuses}, socket errors {measured.socket_errors}")
    cpu_ms = measured.cpu_ms_per_request("nginx") or 0.0
    return Figure(round(measured.ok_per_s), round(cpu_ms * 1000, 1))


def markdown(best: dict[str, dict[str, Figure]]) -> str:
    kinds = list(KINDS)
    header = "| variant | " + " | ".join(f"{kind}: req/s, nginx µs/req" for kind in kinds) + " |"
    lines = [header, "|---|" + "---:|" * len(kinds)]
    for name, figures in best.items():
        cells = [f"{figures[k].requests_per_s:,.0f}, {figures[k].nginx_cpu_us:g}" for k in kinds]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.micro.nginx_tuning", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per measured run")
    parser.add_argument("--variant", action="append", choices=list(VARIANTS))
    args = parser.parse_args(argv)
    best = measure(args.variant or list(VARIANTS), args.rounds, args.duration)
    print(markdown(best))
    return 0


if __name__ == "__main__":
    sys.exit(main())
