"""The benchmark's readers on canned input: wrk's report from bench/load/lua/common.lua and the
backends' Prometheus counters."""

from __future__ import annotations

from bench.load import appmetrics
from bench.load.loadgen import _measurement, _parse_report

WRK_STDOUT = """Running 1s test @ http://127.0.0.1:8000
BENCH-JSON-BEGIN
{"duration_us":2000000,"requests":1000,"bytes":5000,"errors":{"connect":0,"read":1,"write":0,"status":3,"timeout":2},"latency_us":{"min":100,"max":90000,"mean":2500.0,"stdev":10.0,"percentiles":{"50":2000,"75":2500,"90":3000,"95":4000,"99":8000,"99.9":9000}},"statuses":{"200":990,"429":3,"304":7}}
BENCH-JSON-END
"""

METRICS = """\
# TYPE http_requests_total counter
http_requests_total{endpoint="blog-post-featured",method="GET",status="200"} 90.0
http_requests_total{endpoint="blog-post-featured",method="GET",status="503"} 4.0
http_requests_total{endpoint="/metrics",method="GET",status="200"} 7.0
# TYPE db_query_duration_seconds histogram
db_query_duration_seconds_bucket{alias="default",le="+Inf"} 5.0
db_query_duration_seconds_count{alias="default"} 5.0
db_query_duration_seconds_sum{alias="default"} 0.01
db_query_duration_seconds_count{alias="replica_1"} 3.0
# TYPE cache_hits_total counter
cache_hits_total{dataset="featured"} 80.0
# TYPE cache_misses_total counter
cache_misses_total{dataset="featured"} 20.0
"""


def test_wrk_report_gives_rate_percentiles_and_non_2xx() -> None:
    # given wrk's output with the Lua report
    report = _parse_report(WRK_STDOUT)

    # when
    measurement = _measurement(report, {"backends": 2.0})

    # then
    assert measurement.requests_per_s == 500
    assert measurement.latency_ms["p50"] == 2.0 and measurement.latency_ms["p99"] == 8.0
    assert measurement.non_2xx == 10  # 429s and 304s alike: only 2xx count as served
    assert measurement.errors == 3  # read + timeout
    assert measurement.cpu_ms_per_request("backends") == 2.0


def test_wrk_output_without_report_is_none() -> None:
    assert _parse_report("Running 1s test\nconnection refused\n") is None


def test_metrics_counters_leave_out_the_scrapes_and_add_aliases() -> None:
    # when
    counters = appmetrics.parse(METRICS)

    # then
    assert counters.requests == 94
    assert counters.requests_by_class == {"2xx": 90, "5xx": 4}
    assert counters.queries == 8
    assert counters.cache_hit_rate == 0.8


def test_metrics_differences() -> None:
    before = appmetrics.parse(METRICS)
    after = appmetrics.parse(METRICS.replace("90.0", "190.0").replace("80.0", "180.0"))

    delta = after - before

    assert delta.requests == 100 and delta.cache_hits == 100 and delta.queries == 0
    assert delta.cache_hit_rate == 1.0


def test_counters_are_read_once_the_backends_finished_what_they_were_serving() -> None:
    # requests still in flight when wrk stopped finish over the next scrapes
    requests = iter([100, 140, 163, 164, 164, 164])
    reads: list[appmetrics.AppCounters] = []

    def scrape_once(urls: list[str]) -> appmetrics.AppCounters:
        done = next(requests)
        reads.append(appmetrics.AppCounters(requests=done, queries=6 * done))
        return reads[-1]

    settled = appmetrics.scrape_settled(["http://127.0.0.1:1"], quiet_s=0, scrape_once=scrape_once)

    assert (settled.requests, settled.queries) == (164, 984)
    assert len(reads) == 5  # stopped at the first two equal scrapes


def test_counters_that_never_settle_are_read_at_the_limit() -> None:
    count = iter(range(1_000_000))

    def scrape_once(urls: list[str]) -> appmetrics.AppCounters:
        return appmetrics.AppCounters(requests=next(count))

    settled = appmetrics.scrape_settled([], quiet_s=0.01, limit_s=0.1, scrape_once=scrape_once)

    assert 0 < settled.requests < 1_000_000
