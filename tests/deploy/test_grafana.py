"""deploy/grafana: the dashboard imports cleanly and every panel queries series that exist."""

from __future__ import annotations

import json
import re

import yaml

from core.observability import metrics
from tests.deploy.conftest import GRAFANA, PROMETHEUS, run_promtool
from tests.deploy.promql import metric_names

DASHBOARD = GRAFANA / "myhibachi-backends.json"
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$job": ".*", "$instance": ".*"}


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def query_panels() -> list[dict]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def expressions() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"]) for panel in query_panels() for target in panel["targets"]
    ]


def recorded_names() -> set[str]:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}


def test_the_dashboard_is_importable_json():
    board = dashboard()
    assert board["title"] and board["uid"] and isinstance(board["schemaVersion"], int)
    # no __inputs: it imports into any Grafana, the data source is picked from a variable
    assert "__inputs" not in board
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_panels_have_unique_ids_and_do_not_overlap():
    panels = dashboard()["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, panel["title"]
        cells |= area


def test_every_panel_queries_the_chosen_prometheus():
    for panel in query_panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_every_expression_uses_series_that_exist():
    known = metrics.exported_series() | recorded_names()
    for title, expr in expressions():
        names = metric_names(expr)
        assert names, (title, expr)
        assert names <= known, (title, names - known)


def test_the_issues_views_are_all_there():
    used = set().union(*(metric_names(expr) for _, expr in expressions()))
    for series in (
        "http_requests_total",  # traffic, errors
        "http_request_duration_seconds_bucket",  # latency percentiles
        "dataset:cache_hit_rate:ratio_rate5m",  # cache hit rate
        "db_replica_lag_seconds",  # replica lag
        "throttle_decisions_total",  # throttling
        "db_connection_pool_size",  # pool use
    ):
        assert series in used, series
    titles = " ".join(title.lower() for title, _ in expressions())
    assert "p95" in titles or "percentile" in titles


def test_every_expression_is_valid_promql(promtool, tmp_path):
    # promtool parses expressions in rule files: one recording rule per panel query
    def concrete(expr: str) -> str:
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, expr
        return expr

    rules = [
        {"record": f"dashboard:query_{index}", "expr": concrete(expr)}
        for index, (_, expr) in enumerate(expressions())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    output = run_promtool(promtool, "check", "rules", str(path), cwd=tmp_path)
    assert re.search(rf"SUCCESS: {len(rules)} rules found", output), output


def test_provisioning_files_are_yaml():
    for name in ("dashboards.yml", "datasources.yml"):
        assert yaml.safe_load((GRAFANA / "provisioning" / name).read_text())["apiVersion"] == 1
