"""deploy/prometheus: the scrape config and alert rules are valid, and every alert is tested."""

from __future__ import annotations

import yaml

from core.observability import metrics
from tests.deploy.conftest import PROMETHEUS, run_promtool
from tests.deploy.promql import metric_names

# From outside the app: node_exporter (CPU, memory) and Prometheus itself (up).
EXTERNAL_SERIES = frozenset(
    {"up", "node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes"}
)
REQUIRED_ALERTS = {
    # the seed's thresholds
    "HostHighCpu",
    "HostHighMemory",
    "HighErrorRate",
    "HighLatencyP95",
    "DatabaseConnectionsNearLimit",
    "CacheHitRateLow",
    # the traffic layer's
    "ReplicaLagOverBudget",
    "ReplicaDown",
    "PrimaryUnreachable",
    "CacheBreakerOpen",
    "TooManyRequestsSurge",
}


def load(name: str) -> dict:
    return yaml.safe_load((PROMETHEUS / name).read_text())


def rules() -> list[dict]:
    return [rule for group in load("alerts.yml")["groups"] for rule in group["rules"]]


def alerts() -> list[dict]:
    return [rule for rule in rules() if "alert" in rule]


def recorded_names() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def test_promtool_accepts_the_config_and_its_rule_files(promtool):
    output = run_promtool(promtool, "check", "config", "prometheus.yml")
    assert "SUCCESS" in output


def test_promtool_accepts_the_rules(promtool):
    assert "SUCCESS" in run_promtool(promtool, "check", "rules", "alerts.yml")


def test_promtool_unit_tests_pass(promtool):
    assert "SUCCESS" in run_promtool(promtool, "test", "rules", "alerts_test.yml")


def test_the_issues_alerts_are_all_there():
    assert {rule["alert"] for rule in alerts()} >= REQUIRED_ALERTS


def test_every_alert_has_for_severity_summary_and_runbook():
    for rule in alerts():
        assert rule.get("for"), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        for annotation in ("summary", "description", "runbook"):
            assert rule["annotations"].get(annotation, "").strip(), (rule["alert"], annotation)


def test_every_alert_is_tested_both_firing_and_silent():
    fired: set[str] = set()
    silent: set[str] = set()
    for test in load("alerts_test.yml")["tests"]:
        for case in test.get("alert_rule_test", []):
            (fired if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - fired == set(), "never seen firing"
    assert names - silent == set(), "never seen silent"


def test_rules_use_only_series_that_exist():
    known = metrics.exported_series() | recorded_names() | EXTERNAL_SERIES
    for rule in rules():
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, (rule.get("alert") or rule.get("record"), unknown)


def test_the_backends_are_scraped_at_metrics():
    config = load("prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"]
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "myhibachi"]
    assert job["metrics_path"] == "/metrics"
    targets = [t for static in job["static_configs"] for t in static["targets"]]
    assert targets == ["127.0.0.1:8000", "127.0.0.1:8001", "127.0.0.1:8002"]
