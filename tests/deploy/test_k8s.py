"""deploy/k8s: every manifest passes ``kubernetes-validate --strict`` (bundled schemas, no
network, unknown fields rejected), and says what the issue and the seed ask for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import DEPLOY

K8S = DEPLOY / "k8s"
MANIFESTS = sorted(K8S.glob("*.yaml"))
VALIDATE = Path(sys.executable).with_name("kubernetes-validate")


# The web backends' objects; other workloads (deploy/k8s/celery-*.yaml) have their own names.
NAMES = {
    "Deployment": "myhibachi-backend",
    "Service": "myhibachi-backend",
    "HorizontalPodAutoscaler": "myhibachi-backend",
    "PodDisruptionBudget": "myhibachi-backend",
    "ConfigMap": "myhibachi-config",
    "Ingress": "myhibachi",
    "Job": "myhibachi-migrate-1-0-0",
}


def documents() -> list[dict]:
    return [
        document
        for path in MANIFESTS
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def resources() -> dict[str, dict]:
    """The backends' object of each kind the issue asks for, by kind."""
    found = {}
    for kind, name in NAMES.items():
        (found[kind],) = [
            d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name
        ]
    return found


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    if not VALIDATE.exists():
        pytest.fail("kubernetes-validate is missing: it comes with requirements-dev.txt")
    return subprocess.run(
        [str(VALIDATE), "--strict", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def container(kind: str = "Deployment") -> dict:
    return resources()[kind]["spec"]["template"]["spec"]["containers"][0]


def test_every_manifest_passes_strict_validation():
    assert MANIFESTS
    result = validate(*MANIFESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == len(MANIFESTS), result.stdout


def test_strict_validation_rejects_an_unknown_field(tmp_path):
    # so the test above would notice a typo such as "readynessProbe"
    deployment = resources()["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {}
    broken = tmp_path / "deployment.yaml"
    broken.write_text(yaml.safe_dump(deployment))
    assert validate(broken).returncode != 0


def test_the_kinds_the_issue_asks_for():
    kinds = {document["kind"] for document in documents()}
    assert set(NAMES) <= kinds
    assert resources()["Deployment"]["spec"]["template"]["spec"]["containers"][0]["name"] == (
        "backend"
    )


def test_resources_are_the_seeds():
    assert container()["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }


def test_probes_readiness_liveness_and_startup():
    backend = container()
    # not /readyz: a primary outage would take every pod out of the Service, and reads with it
    assert backend["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert backend["livenessProbe"]["httpGet"]["path"] == "/healthz"
    startup = backend["startupProbe"]
    assert startup["httpGet"]["path"] == "/healthz"
    # a minute to boot before liveness may restart it
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60
    # the probes' Host header is the pod's IP: Django must allow it
    env = {item["name"]: item for item in backend["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert "$(POD_IP)" in env["DJANGO_ALLOWED_HOSTS"]["value"]
    names = [item["name"] for item in backend["env"]]
    assert names.index("POD_IP") < names.index("DJANGO_ALLOWED_HOSTS")  # expansion order


def test_pre_stop_sleep_and_graceful_shutdown_fit_the_grace_period():
    pod = resources()["Deployment"]["spec"]["template"]["spec"]
    command = container()["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    sleep = int(command[1])
    graceful = int(resources()["ConfigMap"]["data"]["GUNICORN_GRACEFUL_TIMEOUT"])
    assert sleep > 0
    assert sleep + graceful < pod["terminationGracePeriodSeconds"]


def test_the_configmap_sizes_the_workers_to_the_memory_limit(load_config):
    data = resources()["ConfigMap"]["data"]
    gunicorn = load_config()
    assert gunicorn["worker_class"].endswith("ThreadWorkerClosingListeners")  # gthread
    assert int(data["WEB_CONCURRENCY"]) <= 3  # ~100 MiB a worker under a 512Mi limit
    assert data["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert "*" not in data["TRUSTED_PROXIES"]


def test_config_and_secrets_are_references():
    for kind in ("Deployment", "Job"):
        spec = container(kind)
        assert {"configMapRef": {"name": "myhibachi-config"}} in spec["envFrom"]
        secrets = {
            item["name"]: item["valueFrom"]["secretKeyRef"]
            for item in spec["env"]
            if "secretKeyRef" in item.get("valueFrom", {})
        }
        assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= set(secrets)
        assert {ref["name"] for ref in secrets.values()} == {"myhibachi-secrets"}
        # no value of a secret in the repository
        assert all("value" not in item for item in spec["env"] if item["name"] in secrets)


def test_hpa_3_to_20_on_cpu_70_and_memory_80_with_a_slow_scale_down():
    hpa = resources()["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": resources()["Deployment"]["metadata"]["name"],
    }
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 20)
    targets = {
        m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
        for m in spec["metrics"]
    }
    assert targets == {"cpu": 70, "memory": 80}
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300


def test_selectors_match_the_pods():
    found = resources()
    labels = found["Deployment"]["spec"]["template"]["metadata"]["labels"]
    for selector in (
        found["Deployment"]["spec"]["selector"]["matchLabels"],
        found["Service"]["spec"]["selector"],
        found["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()
    assert found["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    # the Ingress routes to the Service's named port, and never /metrics
    paths = found["Ingress"]["spec"]["rules"][0]["http"]["paths"]
    assert {p["backend"]["service"]["name"] for p in paths} == {
        found["Service"]["metadata"]["name"]
    }
    assert not [p for p in paths if p["path"].startswith("/metrics") or p["path"] == "/"]


def test_the_migration_job_runs_once_and_gives_up():
    job = resources()["Job"]["spec"]
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    assert job["backoffLimit"] <= 3 and job["activeDeadlineSeconds"] > 0
    assert container("Job")["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert container("Job")["image"] == container()["image"]


def test_pods_run_as_non_root_with_a_read_only_root_filesystem():
    for kind in ("Deployment", "Job"):
        pod = resources()[kind]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        security = pod["containers"][0]["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert "/tmp" in mounts  # Prometheus's multiprocess files
