"""The background work in every deploy target: Compose, Kubernetes, Prometheus (the local stack
is started for real by tests/e2e/test_topology_cli.py)."""

from __future__ import annotations

import yaml

from tests.deploy.conftest import DEPLOY, PROMETHEUS

K8S = DEPLOY / "k8s"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker" / "docker-compose.yml").read_text())


def manifest(name: str) -> dict:
    return yaml.safe_load((K8S / name).read_text())


def test_compose_runs_a_worker_and_one_beat_on_a_durable_broker():
    services = compose()["services"]
    worker, beat, broker = services["worker"], services["beat"], services["redis-broker"]
    assert worker["entrypoint"][:4] == ["celery", "-A", "config", "worker"]
    assert beat["entrypoint"][:4] == ["celery", "-A", "config", "beat"]
    # the backends publish where the worker consumes, and that is not the evicting cache
    # (through Sentinel since issue 18: the master "myhibachi-broker" is redis-broker or, after
    # a failover, its replica; tests/deploy/test_docker.py checks the sentinels watch it)
    for name in ("backend1", "worker", "beat"):
        env = services[name]["environment"]
        assert env["CELERY_BROKER_URL"].startswith("sentinel://")
        assert env["CELERY_BROKER_SENTINEL_MASTER"] == "myhibachi-broker"
    options = dict(zip(broker["command"][1::2], broker["command"][2::2], strict=False))
    assert options["--appendonly"] == "yes" and options["--maxmemory-policy"] == "noeviction"
    # graceful: the warm shutdown may take the longest task's hard limit (90 s)
    assert int(worker["stop_grace_period"].rstrip("s")) > 90
    assert worker["environment"]["CELERY_WORKER_READY_FILE"] in " ".join(
        worker["healthcheck"]["test"]
    )
    assert "deploy" not in beat or beat["deploy"].get("replicas", 1) == 1


def test_kubernetes_worker_deployment_scales_on_cpu_and_shuts_down_warmly():
    worker = manifest("celery-worker.yaml")
    pod = worker["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"][:4] == ["celery", "-A", "config", "worker"]
    # SIGTERM is a warm shutdown: the grace period covers the longest task (90 s hard limit)
    assert pod["terminationGracePeriodSeconds"] > 90
    env = {item["name"]: item for item in container["env"]}
    assert env["CELERY_BROKER_URL"]["valueFrom"]["secretKeyRef"]["key"] == "CELERY_BROKER_URL"
    assert (
        container["readinessProbe"]["exec"]["command"][-1]
        == env["CELERY_WORKER_READY_FILE"]["value"]
    )
    # liveness: the event loop's own file, not the broker
    liveness = " ".join(container["livenessProbe"]["exec"]["command"])
    assert env["CELERY_WORKER_LIVENESS_FILE"]["value"] in liveness and "inspect" not in liveness
    hpa = manifest("celery-worker-hpa.yaml")
    assert hpa["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    [target] = hpa["spec"]["metrics"]
    assert target["resource"]["name"] == "cpu"
    assert worker["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"


def test_kubernetes_runs_exactly_one_beat():
    beat = manifest("celery-beat.yaml")
    assert beat["spec"]["replicas"] == 1
    # never two at once, not even during a rollout
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    [container] = beat["spec"]["template"]["spec"]["containers"]
    assert container["command"][:4] == ["celery", "-A", "config", "beat"]


def test_the_backends_publish_to_the_workers_broker():
    backend = manifest("deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    names = {item["name"] for item in backend["env"]}
    assert "CELERY_BROKER_URL" in names


def test_prometheus_scrapes_the_workers_and_alerts_on_tasks():
    for config in (PROMETHEUS / "prometheus.yml", DEPLOY / "docker" / "prometheus.yml"):
        jobs = {job["job_name"] for job in yaml.safe_load(config.read_text())["scrape_configs"]}
        assert "myhibachi-worker" in jobs, config
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert {"TaskQueueLatencyHigh", "TaskFailuresHigh", "TaskOutboxBacklog"} <= alerts
