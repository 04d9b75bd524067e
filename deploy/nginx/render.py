"""Render deploy/nginx/nginx.conf.template for one place: the local stack, a test, Docker.

    python -m deploy.nginx.render --profile docker > deploy/docker/nginx.conf
    python -m deploy.nginx.render --listen 127.0.0.1:8080 --backend 127.0.0.1:8000 \\
        --static-root /srv/static --prefix /tmp/nginx

The template's ``{{ name }}`` placeholders are filled from an ``NginxSite``; ``{{#name}}`` ...
``{{/name}}`` sections (on lines of their own) are kept when the site's flag is on. Paths
without a leading slash are relative to nginx's prefix (``nginx -p PREFIX``), which is how the
local stack and the tests keep every file nginx writes inside their own directory.

Standard library only: it runs before the virtualenv exists and in any image.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Sequence
from pathlib import Path

TEMPLATE = Path(__file__).resolve().with_name("nginx.conf.template")
DOCKER_CONFIG = Path(__file__).resolve().parents[1] / "docker" / "nginx.conf"

# The seed's limit: 10 requests a second per client address, bursts of 20 served at once.
LIMIT_RATE = "10r/s"
LIMIT_BURST = 20
# Passive health checks per backend.
MAX_FAILS = 3
FAIL_TIMEOUT = "10s"

_PLACEHOLDER = re.compile(r"\{\{ *([a-z_]+) *\}\}")
_SECTION = re.compile(r"^\{\{([#/])([a-z_]+)\}\}$")


@dataclasses.dataclass(frozen=True)
class NginxSite:
    """Everything that differs between the places nginx runs; the rest is the template's."""

    listen: str
    backends: Sequence[str]
    static_root: str
    server_names: Sequence[str] = ("localhost", "127.0.0.1")
    # Relative paths are under the prefix given to ``nginx -p``.
    pid_path: str = "logs/nginx.pid"
    error_log: str = "logs/error.log"
    access_log: str = "logs/access.log"
    temp_dir: str = "tmp"
    cache_dir: str = "cache/micro"
    worker_processes: str = "auto"
    read_timeout: str = "35s"
    limit_rate: str = LIMIT_RATE
    # Addresses or CIDRs not counted by limit_req (monitoring, a load generator).
    limit_exempt: Sequence[str] = ()
    # Load balancers in front whose X-Forwarded-For / X-Forwarded-Proto are believed.
    real_ip_from: Sequence[str] = ()
    micro_cache: bool = True
    # X-Upstream response header naming the backend that answered (never in production).
    upstream_header: bool = False

    def __post_init__(self) -> None:
        if not self.backends:
            raise ValueError("nginx needs at least one backend")
        if not self.server_names:
            raise ValueError("nginx needs at least one server name")


def render(site: NginxSite, template: str | None = None) -> str:
    """Return the nginx configuration for ``site``; raise ``ValueError`` on an unknown name."""
    text = template if template is not None else TEMPLATE.read_text()
    values = {
        "listen": site.listen,
        "server_names": " ".join(site.server_names),
        "static_root": site.static_root.rstrip("/"),
        "pid_path": site.pid_path,
        "error_log": site.error_log,
        "access_log": site.access_log,
        "temp_dir": site.temp_dir.rstrip("/"),
        "cache_dir": site.cache_dir.rstrip("/"),
        "worker_processes": site.worker_processes,
        "read_timeout": site.read_timeout,
        "limit_rate": site.limit_rate,
        "upstream_servers": "\n".join(
            f"        server {backend} max_fails={MAX_FAILS} fail_timeout={FAIL_TIMEOUT};"
            for backend in site.backends
        ),
        "limit_exempt_geo": "\n".join(f"        {cidr} 1;" for cidr in site.limit_exempt),
        "trusted_proxy_geo": "\n".join(f"        {cidr} 1;" for cidr in site.real_ip_from),
        "real_ip_from": "\n".join(
            f"        set_real_ip_from {cidr};" for cidr in site.real_ip_from
        ),
    }
    flags = {
        "micro_cache": site.micro_cache,
        "upstream_header": site.upstream_header,
        "real_ip": bool(site.real_ip_from),
    }
    lines: list[str] = []
    open_sections: list[tuple[str, bool]] = []
    for line in _sections(text.splitlines(), flags, open_sections):
        rendered = _PLACEHOLDER.sub(lambda match: _value(values, match.group(1)), line)
        if rendered.strip() or not line.strip():
            lines.append(rendered)  # a list placeholder that is empty leaves no blank line
    if open_sections:
        raise ValueError(f"unclosed template section {open_sections[-1][0]!r}")
    header = f"# Rendered from deploy/nginx/{TEMPLATE.name} by deploy/nginx/render.py: edit that.\n"
    return header + "\n".join(lines) + "\n"


def _sections(
    lines: Sequence[str], flags: dict[str, bool], stack: list[tuple[str, bool]]
) -> list[str]:
    kept = []
    for line in lines:
        marker = _SECTION.match(line.strip())
        if marker is None:
            if all(keep for _, keep in stack):
                kept.append(line)
            continue
        kind, name = marker.groups()
        if name not in flags:
            raise ValueError(f"unknown template section {name!r}")
        if kind == "#":
            stack.append((name, flags[name]))
        elif not stack or stack.pop()[0] != name:
            raise ValueError(f"template section {name!r} closed without being opened")
    return kept


def _value(values: dict[str, str], name: str) -> str:
    try:
        return values[name]
    except KeyError:
        raise ValueError(f"unknown template placeholder {name!r}") from None


# ---------------------------------------------------------------------------- profiles
def docker_site() -> NginxSite:
    """The Compose topology (deploy/docker/docker-compose.yml): three backend services, the
    static files baked into the nginx image, an unprivileged nginx on 8080, logs to stdout."""
    # /tmp is the container's own tmpfs (compose: tmpfs, read_only root): nobody else's.
    return NginxSite(
        listen="8080",
        backends=("backend1:8000", "backend2:8000", "backend3:8000"),
        static_root="/srv/static",
        pid_path="/tmp/nginx/nginx.pid",  # noqa: S108
        error_log="/dev/stderr",
        access_log="/dev/stdout",
        temp_dir="/tmp/nginx",  # noqa: S108
        cache_dir="/tmp/nginx/cache",  # noqa: S108
        micro_cache=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.nginx.render", description=__doc__)
    parser.add_argument("--profile", choices=["docker"], help="a ready-made site")
    parser.add_argument("--listen", help="address:port or port")
    parser.add_argument("--backend", action="append", default=[], help="host:port, repeated")
    parser.add_argument("--static-root", help="collectstatic's STATIC_ROOT")
    parser.add_argument("--server-name", action="append", default=[], help="repeated")
    parser.add_argument("--limit-exempt", action="append", default=[], help="CIDR, repeated")
    parser.add_argument("--real-ip-from", action="append", default=[], help="CIDR, repeated")
    parser.add_argument("--no-micro-cache", action="store_true")
    parser.add_argument("--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)

    if args.profile == "docker":
        site = docker_site()
        if args.server_name:
            site = dataclasses.replace(site, server_names=tuple(args.server_name))
    else:
        if not (args.listen and args.backend and args.static_root):
            parser.error("--listen, --backend and --static-root are required without --profile")
        site = NginxSite(
            listen=args.listen,
            backends=tuple(args.backend),
            static_root=args.static_root,
            server_names=tuple(args.server_name) or NginxSite.server_names,
            limit_exempt=tuple(args.limit_exempt),
            real_ip_from=tuple(args.real_ip_from),
            micro_cache=not args.no_micro_cache,
        )
    text = render(site)
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
