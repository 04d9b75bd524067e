"""The helper the deploy tests use to read metric names out of PromQL."""

from tests.deploy.promql import metric_names


def test_metric_names_skip_functions_labels_keywords_and_durations():
    expr = (
        "histogram_quantile(0.95, sum by (le, endpoint) (rate(http_request_duration_seconds_bucket"
        '{job=~"$job", status=~"5.."}[$__rate_interval])))'
        " / on () group_left () max(db_replica_max_lag_seconds) > 2"
        " and dataset:cache_hit_rate:ratio_rate5m offset 5m"
    )
    assert metric_names(expr) == {
        "http_request_duration_seconds_bucket",
        "db_replica_max_lag_seconds",
        "dataset:cache_hit_rate:ratio_rate5m",
    }
