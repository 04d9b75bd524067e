"""deploy/nginx: the template renders to a configuration open-source nginx accepts (``nginx -t``,
every temporary path inside the test's own directory), with the directives the issue asks for.
Behaviour under load is proven against the running stack in tests/e2e/test_topology.py."""

from __future__ import annotations

import dataclasses
import os
import runpy
import shutil
from pathlib import Path

import pytest

from deploy.nginx import render as renderer
from deploy.nginx.render import DOCKER_CONFIG, NginxSite, docker_site, render
from devstack.nginx import check_config, prepare_prefix
from tests.deploy.conftest import DEPLOY
from tests.deploy.nginxconf import Directive, find, location, parse, walk

GUNICORN_CONFIG = DEPLOY / "gunicorn.conf.py"


@pytest.fixture(scope="module")
def nginx() -> str:
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(path, os.X_OK):
        if os.geteuid() != 0:
            pytest.skip("nginx is not installed: `sudo apt-get install nginx`")
        pytest.fail("nginx is not installed: run `make system-deps`")
    return path


def local_site(tmp_path: Path, **changes) -> NginxSite:
    site = NginxSite(
        listen="127.0.0.1:18080",
        backends=["127.0.0.1:18000", "127.0.0.1:18001", "127.0.0.1:18002"],
        static_root=str(tmp_path / "static"),
        limit_exempt=["127.0.0.3"],
        upstream_header=True,
    )
    return dataclasses.replace(site, **changes)


def nginx_t(site: NginxSite, prefix: Path) -> str:
    prepare_prefix(prefix)
    config = prefix / "nginx.conf"
    config.write_text(render(site))
    return check_config(config, prefix)


def tree(site: NginxSite) -> list[Directive]:
    return parse(render(site))


def http_servers(directives: list[Directive]) -> list[Directive]:
    return [d for d in find(directives, "server") if d.block is not None]  # not upstream's


def site_server(directives: list[Directive]) -> Directive:
    servers = http_servers(directives)
    return next(s for s in servers if "default_server" not in s.first("listen").args)


def files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*")}


# ---------------------------------------------------------------------------- nginx -t
@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"micro_cache": False, "upstream_header": False, "limit_exempt": ()},
        {"real_ip_from": ("10.0.0.0/8", "192.0.2.10")},
    ],
    ids=["local-stack", "minimal", "behind-a-load-balancer"],
)
def test_nginx_accepts_the_rendered_config(nginx, tmp_path, changes):
    # given a prefix of the test's own
    prefix = tmp_path / "nginx"
    # when nginx -t reads the rendered config
    output = nginx_t(local_site(tmp_path, **changes), prefix)
    # then it loads, and every path it created is inside the prefix
    assert "emerg" not in output
    created = files_under(prefix)
    assert prefix / "tmp" / "proxy" in created and prefix / "tmp" / "client_body" in created
    rendered = (prefix / "nginx.conf").read_text()
    absolute = {
        arg
        for d in walk_args(parse(rendered))
        for arg in d
        if arg.startswith("/") and not arg.startswith(str(tmp_path))
    }
    # the only absolute paths are URI paths (locations, error pages), never files outside
    assert absolute <= {"/static/", "/metrics", "/", "/dev/stderr", "/dev/stdout"}, absolute


def walk_args(directives: list[Directive]):
    for directive in walk(directives):
        if directive.name not in ("location", "return", "log_format", "add_header"):
            yield directive.args


def test_the_checked_in_docker_config_is_the_rendered_template():
    # deploy/docker/nginx.conf is generated: `python -m deploy.nginx.render --profile docker`
    assert DOCKER_CONFIG.read_text() == render(docker_site()), (
        "deploy/docker/nginx.conf is stale: run "
        "`python -m deploy.nginx.render --profile docker --output deploy/docker/nginx.conf`"
    )


def test_the_docker_config_loads_with_its_backends_on_loopback(nginx, tmp_path):
    # the Compose service names do not resolve here; the rest of the file is checked as is
    site = dataclasses.replace(
        docker_site(),
        backends=("127.0.0.1:8000", "127.0.0.1:8001", "127.0.0.1:8002"),
        pid_path="logs/nginx.pid",
        temp_dir="tmp",
        cache_dir="cache/micro",
        static_root=str(tmp_path / "static"),
    )
    assert "emerg" not in nginx_t(site, tmp_path / "nginx")


def test_open_source_nginx_only(tmp_path):
    names = {directive.name for directive in walk(tree(local_site(tmp_path)))}
    # NGINX Plus directives fail `nginx -t` on open-source nginx
    assert not names & {"health_check", "zone_sync", "sticky", "ntlm", "state"}


# ---------------------------------------------------------------------------- directives
def test_upstream_least_conn_passive_health_checks_and_keepalive(tmp_path):
    config = tree(local_site(tmp_path))
    upstreams = {tuple(u.args): u for u in find(config, "upstream")}
    assert set(upstreams) == {("myhibachi_backends",), ("myhibachi_backends_no_keepalive",)}
    for upstream in upstreams.values():
        names = [d.name for d in upstream.block or []]
        assert "least_conn" in names
        servers = [d for d in upstream.block or [] if d.name == "server"]
        assert [s.args[0] for s in servers] == [
            "127.0.0.1:18000",
            "127.0.0.1:18001",
            "127.0.0.1:18002",
        ]
        for server in servers:
            assert "max_fails=3" in server.args and "fail_timeout=10s" in server.args
    assert upstreams[("myhibachi_backends",)].first("keepalive").args == ["32"]
    # POST and PATCH never ride an idle connection a stopping backend may drop under them
    assert not upstreams[("myhibachi_backends_no_keepalive",)].find("keepalive")
    (method_map,) = [m for m in find(config, "map") if m.args[0] == "$request_method"]
    choices = {d.name: d.args[0] for d in method_map.block or []}
    assert choices == {
        "POST": "myhibachi_backends_no_keepalive",
        "PATCH": "myhibachi_backends_no_keepalive",
        "default": "myhibachi_backends",
    }
    # keep-alive to the backends: HTTP/1.1 and no "Connection: close" from the client
    site = site_server(config)
    assert site.first("proxy_http_version").args == ["1.1"]
    assert ["Connection", ""] in [d.args for d in site.block if d.name == "proxy_set_header"]


def test_every_proxied_location_inherits_the_proxy_settings(tmp_path):
    site = site_server(tree(local_site(tmp_path)))
    proxied = [d for d in site.block if d.name == "location" and d.find("proxy_pass")]
    assert {tuple(d.args) for d in proxied} == {("/api/",), ("/",)}
    for directive in proxied:
        assert directive.first("proxy_pass").args == ["http://$myhibachi_upstream"]
        # one proxy_set_header or add_header in a location would drop every inherited one
        assert not directive.find("proxy_set_header") and not directive.find("add_header")


def test_nginx_closes_idle_upstream_connections_before_gunicorn_does(tmp_path):
    upstream = find(tree(local_site(tmp_path)), "upstream")[0]
    nginx_idle = int(upstream.first("keepalive_timeout").args[0].removesuffix("s"))
    gunicorn = runpy.run_path(str(GUNICORN_CONFIG))
    # else nginx may send a request on a connection gunicorn is closing at that instant
    assert nginx_idle < gunicorn["keepalive"]
    # and nginx waits longer than gunicorn lets a request run, so gunicorn's timeout fires first
    site = site_server(tree(local_site(tmp_path)))
    assert int(site.first("proxy_read_timeout").args[0].removesuffix("s")) > gunicorn["timeout"]


def test_rate_limit_is_10_per_second_burst_20_answered_with_429(tmp_path):
    config = tree(local_site(tmp_path))
    (zone,) = find(config, "limit_req_zone")
    assert zone.args[0] == "$myhibachi_limit_key" and "rate=10r/s" in zone.args
    assert find(config, "limit_req_status")[0].args == ["429"]
    site = site_server(config)
    for proxied in (location(site, "/"), location(site, "/api/")):
        assert proxied.first("limit_req").args == ["zone=per_ip", "burst=20", "nodelay"]
    assert not location(site, "/static/").find("limit_req")  # a page loads many at once
    # the key is the client's address, except for the exempt addresses (an empty key)
    (key_map,) = [m for m in find(config, "map") if m.args[1] == "$myhibachi_limit_key"]
    assert [d.name for d in key_map.block or []] == ["0", "default"]
    assert key_map.first("0").args == ["$binary_remote_addr"]
    (exempt,) = [g for g in find(config, "geo") if g.args == ["$myhibachi_limit_exempt"]]
    assert exempt.first("127.0.0.3").args == ["1"]


def test_post_is_never_retried_on_another_backend(tmp_path):
    config = tree(local_site(tmp_path))
    retries = find(config, "proxy_next_upstream")
    assert retries, "retries of idempotent requests on the next backend"
    for directive in retries:
        # no http_503: the app's deliberate 503s must not mark backends down
        assert directive.args == ["error", "timeout", "http_502"]
        assert "non_idempotent" not in directive.args


def test_client_address_request_id_and_queue_start_reach_the_app(tmp_path):
    site = site_server(tree(local_site(tmp_path)))
    headers = {d.args[0]: d.args[1] for d in site.block if d.name == "proxy_set_header"}
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["X-Real-IP"] == "$remote_addr"
    assert headers["X-Request-ID"] == "$myhibachi_request_id"
    assert headers["X-Request-Start"] == "t=${msec}"  # core/throttling/shedding.py reads it
    assert headers["Host"] == "$host"


def test_static_files_are_served_from_disk_with_immutable_caching_and_gzip(tmp_path):
    config = tree(local_site(tmp_path))
    static = location(site_server(config), "/static/")
    assert static.first("alias").args == [f"{tmp_path / 'static'}/"]
    assert static.first("gzip_static").args == ["on"]
    (cache_map,) = [
        m for m in find(config, "map") if m.args[1] == "$myhibachi_static_cache_control"
    ]
    hashed = cache_map.block[0]
    assert "immutable" in hashed.args[0] and "max-age=31536000" in hashed.args[0]
    assert find(config, "gzip")[0].args == ["on"]
    assert "application/json" in find(config, "gzip_types")[0].args


def test_body_size_limit_is_above_the_apps_own(tmp_path):
    from django.conf import settings

    (limit,) = find(tree(local_site(tmp_path)), "client_max_body_size")
    assert limit.args == ["1m"]
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < 1024 * 1024


def test_micro_cache_honours_the_app_and_skips_personal_requests(tmp_path):
    config = tree(local_site(tmp_path))
    proxy = location(site_server(config), "/api/")
    assert proxy.first("proxy_cache").args == ["microcache"]
    # probes and the admin never go through the cache (nor its lock)
    assert not location(site_server(config), "/").find("proxy_cache")
    assert proxy.first("proxy_cache_lock").args == ["on"]
    assert "updating" in proxy.first("proxy_cache_use_stale").args
    # the app decides what is cached and for how long: no fixed validity, no ignored headers
    assert not find(config, "proxy_cache_valid") and not find(config, "proxy_ignore_headers")
    assert proxy.first("proxy_cache_bypass").args == ["$myhibachi_personal"]
    assert proxy.first("proxy_no_cache").args == ["$myhibachi_personal"]
    (personal,) = [m for m in find(config, "map") if m.args[1] == "$myhibachi_personal"]
    assert personal.args[0] == "$http_authorization$cookie_sessionid$cookie_replica_pin"
    # switched off, nothing about caching is left
    off = tree(local_site(tmp_path, micro_cache=False))
    assert not [d.name for d in walk(off) if d.name.startswith("proxy_cache")]


def test_unknown_hosts_are_dropped_and_metrics_are_not_public(tmp_path):
    config = tree(local_site(tmp_path))
    servers = http_servers(config)
    (default,) = [s for s in servers if "default_server" in s.first("listen").args]
    assert default.first("return").args == ["444"]
    site = site_server(config)
    assert site.first("server_name").args == ["localhost", "127.0.0.1"]
    metrics = location(site, "^~", "/metrics")
    assert metrics.first("return").args[0] == "404"


def test_the_upstream_header_is_only_rendered_when_asked(tmp_path):
    assert "X-Upstream" in render(local_site(tmp_path, upstream_header=True))
    assert "X-Upstream" not in render(docker_site())


def test_real_ip_from_a_load_balancer(tmp_path):
    site = site_server(tree(local_site(tmp_path, real_ip_from=("10.0.0.0/8",))))
    assert site.first("set_real_ip_from").args == ["10.0.0.0/8"]
    assert site.first("real_ip_header").args == ["X-Forwarded-For"]
    assert "set_real_ip_from" not in render(local_site(tmp_path))


# ---------------------------------------------------------------------------- the renderer
def test_the_renderer_refuses_unknown_names_and_unbalanced_sections(tmp_path):
    site = local_site(tmp_path)
    with pytest.raises(ValueError, match="placeholder 'nope'"):
        render(site, "listen {{ nope }};\n")
    with pytest.raises(ValueError, match="unclosed"):
        render(site, "{{#micro_cache}}\nproxy_cache x;\n")
    with pytest.raises(ValueError, match="unknown template section"):
        render(site, "{{#nope}}\n{{/nope}}\n")
    with pytest.raises(ValueError, match="at least one backend"):
        NginxSite(listen="1", backends=[], static_root="/x")


def test_the_renderer_command_line(tmp_path):
    output = tmp_path / "nginx.conf"
    code = renderer.main(
        [
            "--listen", "127.0.0.1:9999",
            "--backend", "127.0.0.1:9000",
            "--static-root", "/srv/static",
            "--output", str(output),
        ]
    )  # fmt: skip
    assert code == 0
    upstream = find(parse(output.read_text()), "upstream")[0]
    assert upstream.first("server").args[0] == "127.0.0.1:9000"
