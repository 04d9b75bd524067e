"""The report of one run: ``results.json`` (everything), ``report.md`` (for people) and PNG
plots (throughput and p99 against concurrency per scenario, the target ratios)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

NONE = "-"  # a figure that was not measured
PLOTS = {
    "throughput": "throughput.png",
    "p99": "p99.png",
    "targets": "targets.png",
    "comparisons": "comparisons.png",
}


def write(results: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=str))
    plot(results, out_dir)
    (out_dir / "report.md").write_text(markdown(results))


# ---------------------------------------------------------------------------- formatting
def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return NONE
    return f"{value:,.{digits}f}"


def _ms(value: float | None) -> str:
    if value is None:
        return NONE
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return NONE if value is None else f"{100 * value:.1f} %"


def ok_per_s(run: dict[str, Any]) -> float:
    """2xx answers a second (results written before the field existed: derived)."""
    if "ok_per_s" in run:
        return float(run["ok_per_s"])
    return (run["requests"] - run["non_2xx"]) / run["duration_s"] if run["duration_s"] else 0.0


def _non_2xx(run: dict[str, Any]) -> str:
    """The count, and which statuses: a 502 from nginx is not a 503 from the app."""
    if not run["non_2xx"]:
        return "0"
    parts = [
        f"{status}: {count}"
        for status, count in sorted(run["statuses"].items())
        if not status.startswith("2")
    ]
    return f"{run['non_2xx']} ({', '.join(parts)})"


def _verdict(passed: bool | None) -> str:
    return {True: "**pass**", False: "**MISS**", None: "not measured"}[passed]


def _measured(target: dict[str, Any]) -> str:
    value = target["measured"]
    if value is None:
        return NONE
    if target["unit"] == "x":
        return f"{value:.2f}x"
    return f"{value:.3g}"


def targets_table(results: dict[str, Any]) -> list[str]:
    lines = ["| target | wanted | measured | result |", "|---|---|---|---|"]
    for target in results["targets"]:
        note = f" ({target['note']})" if target["note"] else ""
        lines.append(
            f"| {target['description']}{note} | {target['target']} | {_measured(target)} "
            f"| {_verdict(target['passed'])} |"
        )
    return lines


def comparisons_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| comparison | c | A | B | A / B | others' CPU |",
        "|---|---|---|---|---|---|",
    ]
    cores = results.get("machine", {}).get("cpus_usable") or 1
    for comparison in results["comparisons"].values():
        runs = comparison["a"]["runs"] + comparison["b"]["runs"]
        shares = [
            run["cpu_s"]["others"] / run["duration_s"] / cores
            for run in runs
            if "others" in run["cpu_s"] and run["duration_s"]
        ]
        others = f"{max(shares):.0%}" if shares else NONE
        unit = " ms p50" if comparison["metric"] == "p50" else " req/s"
        digits = 2 if comparison["metric"] == "p50" else 0
        a, b = comparison["a"], comparison["b"]
        ratio = comparison["ratio"]
        lines.append(
            f"| {comparison['title']} | {comparison['connections']} "
            f"| {a['label']}: {_num(a['value'], digits)}{unit} "
            f"| {b['label']}: {_num(b['value'], digits)}{unit} "
            f"| {NONE if ratio is None else f'{ratio:.2f}x'} | {others} |"
        )
    return lines


def scenarios_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| scenario | c | 2xx/s | p50 ms | p95 ms | p99 ms | errors | non-2xx | SQL/req "
        "| cache hit | backend CPU ms/req | stack CPU ms/req |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in results["scenarios"].values():
        for connections, run in scenario["runs"].items():
            latency = run["latency_ms"]
            lines.append(
                f"| {scenario['title']} | {connections} | {_num(ok_per_s(run))} "
                f"| {_ms(latency['p50'])} | {_ms(latency['p95'])} | {_ms(latency['p99'])} "
                f"| {run['errors']} | {_non_2xx(run)} | {_num(run['sql_per_request'], 2)} "
                f"| {_pct(run['cache_hit_rate'])} "
                f"| {_ms(run['cpu_ms_per_request'].get('backends'))} "
                f"| {_ms(run['stack_cpu_ms_per_request'])} |"
            )
    return lines


def ceilings_table(results: dict[str, Any]) -> list[str]:
    found = results["ceilings"]
    static_bytes = results.get("fixtures", {}).get("static_file_bytes")
    static = f"{static_bytes:,} B" if static_bytes else "small"
    lines = ["| ceiling | throughput | latency |", "|---|---|---|"]
    for key, title in (
        ("nginx_static_file", f"nginx, static file ({static}, the featured answer's size)"),
        ("minimal_django_json", "minimal Django view, constant JSON (direct)"),
        ("minimal_django_one_query", "minimal Django view, one ORM query (direct)"),
        ("minimal_booking_create", "minimal booking view: lock, count, insert, outbox (direct)"),
        ("minimal_my_bookings", "minimal bookings list, one query (direct)"),
        ("minimal_availability", "minimal availability, one query (direct)"),
    ):
        if key in found:
            row = found[key]
            lines.append(
                f"| {title}, c={row['connections']} | {_num(row['requests_per_s'])} req/s "
                f"| p50 {_ms(row['p50_ms'])} ms, p99 {_ms(row['p99_ms'])} ms |"
            )
    if "redis_get" in found:
        row = found["redis_get"]
        lines.append(
            f"| redis-benchmark GET, {row['clients']} clients | {_num(row['ops_per_s'])} ops/s "
            f"| p50 {_ms(row['latency_ms'].get('p50'))} ms |"
        )
    if "pgbench_select_only" in found:
        row = found["pgbench_select_only"]
        lines.append(
            f"| pgbench -S, {row['clients']} clients, scale {row['scale']} "
            f"| {_num(row['tps'])} tps | avg {_ms(row['latency_ms'].get('avg'))} ms |"
        )
    pooled = found.get("pgbouncer", {})
    for key, title in (("persistent_t1", "persistent connection, 1 thread"),
                       ("persistent_t4", "persistent connection, 4 threads"),
                       ("per_request_t1", "connection per request, 1 thread")):  # fmt: skip
        if key in pooled:
            row = pooled[key]
            lines.append(
                f"| PgBouncer vs direct ({title}; health check + 1 read) "
                f"| {_num(row['pgbouncer']['throughput_per_s'])} vs "
                f"{_num(row['direct']['throughput_per_s'])} req/s "
                f"| {row['added_wall_us']:+.0f} us per request, pooler CPU "
                f"{row['pgbouncer']['pooler_cpu_us']:.0f} us |"
            )
    return lines


def machine_lines(results: dict[str, Any]) -> list[str]:
    machine = results.get("machine", {})
    packages = ", ".join(
        f"{name} {version}" for name, version in machine.get("packages", {}).items()
    )
    config = results["config"]
    volumes = results.get("fixtures", {}).get("volumes", {})
    load = machine.get("load_average") or []
    load_end = machine.get("load_average_at_end") or []
    return [
        f"- **CPU**: {machine.get('cpu_model')}, {machine.get('cpus_usable')} usable of "
        f"{machine.get('cpus_online')} online; **memory** {machine.get('memory_gib')} GiB; "
        f"kernel {machine.get('kernel')}; load average (1, 5, 15 min) before the run "
        f"{', '.join(f'{value:.2f}' for value in load)} (above the core count: other "
        "processes were busy), after it "
        f"{', '.join(f'{value:.2f}' for value in load_end)} (our own load included)"
        + _others_line(results),
        f"- **Software**: Python {machine.get('python')}, {packages}; {machine.get('nginx')}; "
        f"{machine.get('postgresql')}; {machine.get('redis')}; {machine.get('wrk')}",
        # Results from before the --workers/--threads knob ran 2 x 4.
        "- **Topology**: nginx -> 3 gunicorn backends (gthread "
        f"{config.get('backend_workers', 2)} workers x {config.get('backend_threads', 4)} "
        "threads, deploy/gunicorn.conf.py) -> PostgreSQL primary + streaming replica, Redis; "
        "a Celery worker and beat on their own Redis broker; the load "
        f"generator (wrk, {config['wrk_threads']} threads) on the same cores",
        f"- **Data**: {_num(volumes.get('posts'))} posts ({_num(volumes.get('published_posts'))} "
        f"published), {_num(volumes.get('bookings'))} bookings, {_num(volumes.get('reviews'))} "
        f"reviews, {_num(volumes.get('customers'))} customers "
        f"({_num(volumes.get('customers_with_tokens'))} with API tokens); seed_demo --scale "
        f"{config['scale']}" + (f" --bookings {config['bookings']}" if config["bookings"] else ""),
        f"- **Runs**: {config['duration_s']} s each after {config['warmup_s']} s of warm-up; "
        f"scenarios at {', '.join(map(str, config['connections']))} connections; comparisons "
        f"at {config['compare_connections']} (latency ones at {config['latency_connections']}) "
        f"in {config['rounds']} alternating round(s)"
        + (" — **smoke run**" if config["smoke"] else ""),
        f"- **When**: {results.get('started_at')} to {results.get('finished_at')} (UTC); "
        f"steps (s): {', '.join(f'{k} {v}' for k, v in results.get('steps', {}).items())}",
    ]


def _others_line(results: dict[str, Any]) -> str:
    """How much of the machine other processes took during the measured runs."""
    shares = []
    for scenario in results["scenarios"].values():
        for run in scenario["runs"].values():
            if "others" in run["cpu_s"] and run["duration_s"]:
                shares.append(run["cpu_s"]["others"] / run["duration_s"])
    for comparison in results["comparisons"].values():
        for side in ("a", "b"):
            for run in comparison[side]["runs"]:
                if "others" in run["cpu_s"] and run["duration_s"]:
                    shares.append(run["cpu_s"]["others"] / run["duration_s"])
    if not shares:
        return ""
    shares.sort()
    median, worst = shares[len(shares) // 2], shares[-1]
    cores = results.get("machine", {}).get("cpus_usable") or 1
    return (
        f"; CPU the machine spent outside our processes during the runs (other processes; "
        f"before this figure left out interrupt work, also the kernel's loopback traffic): "
        f"median {median / cores:.0%} of the machine, worst {worst / cores:.0%}"
    )


def markdown(results: dict[str, Any]) -> str:
    lines = [
        *_summary_sections(results),
        *_measured_sections(results),
        *_grown_section(results),
        *_profile_section(results),
    ]
    return "\n".join(lines) + "\n"


def _summary_sections(results: dict[str, Any]) -> list[str]:
    """The machine, the targets and the comparisons."""
    return [
        "# MyHibachi benchmark",
        "",
        *machine_lines(results),
        "",
        "Ratios compare runs made minutes apart on the same machine; absolute numbers move with "
        "the host (up to 30 % between runs here).",
        "",
        "## Targets",
        "",
        *targets_table(results),
        "",
        "![targets](targets.png)",
        "",
        "## Comparisons",
        "",
        "Throughput counts 2xx answers. Others' CPU: the largest share of the machine any of "
        "the comparison's runs spent outside our processes (/proc/stat minus our processes: "
        "other processes; in results from before 2026-11-26 08:55 UTC also the kernel's "
        "interrupt work, large at tens of thousands of requests a second); a ratio measured "
        "while others took a large share is less trustworthy.",
        "",
        *comparisons_table(results),
        "",
        "![comparisons](comparisons.png)",
        "",
    ]


def _measured_sections(results: dict[str, Any]) -> list[str]:
    """The ceilings, the scenarios and the micro-cache probe."""
    probe = results.get("micro_cache_probe", {})
    return [
        "## Ceilings (same run, same servers)",
        "",
        *ceilings_table(results),
        "",
        "## Scenarios (through nginx, micro-cache off, 3 backends)",
        "",
        "2xx/s counts only successful answers (fast 502s are not throughput; the non-2xx "
        "column says which statuses came back). "
        "SQL/req and cache hit rate come from the backends' /metrics (differences around each "
        "run); CPU from /proc (backends: gunicorn masters and workers; stack: backends, nginx, "
        "PostgreSQL, Redis, and the background work: broker, Celery worker and beat).",
        "",
        *scenarios_table(results),
        "",
        "![throughput](throughput.png)",
        "",
        "![p99](p99.png)",
        "",
        "## Micro-cache probe",
        "",
        f"- public answer (featured posts): `Cache-Control: {probe.get('public_cache_control')}`, "
        f"X-Cache-Status over three requests {probe.get('public_cache_status')}",
        f"- personal answer (a customer's bookings, with a token): `Cache-Control: "
        f"{probe.get('personal_cache_control')}`, "
        f"X-Cache-Status {probe.get('personal_cache_status')}",
    ]


def _grown_section(results: dict[str, Any]) -> list[str]:
    if "grown" not in results:
        return []
    grown = results["grown"]
    return [
        "",
        "## Grown posts table",
        "",
        f"{_num(grown.get('added'))} posts copied in SQL; the table then held "
        f"{_num(grown.get('volumes', {}).get('posts'))} posts; deep page at index "
        f"{_num(grown.get('deep_page', {}).get('index'))}.",
    ]


def _profile_section(results: dict[str, Any]) -> list[str]:
    if "profile" not in results:
        return []
    lines = ["", "## Profile (py-spy, cached featured posts, one backend)", ""]
    lines += ["| self time | frame |", "|---|---|"]
    lines += [f"| {share:.1%} | `{frame}` |" for frame, share in results["profile"].get("top", [])]
    lines += ["", "| with callees | our frame |", "|---|---|"]
    lines += [
        f"| {share:.1%} | `{frame}` |"
        for frame, share in results["profile"].get("ours_inclusive", [])
    ]
    return lines


# ---------------------------------------------------------------------------- plots
def plot(results: dict[str, Any], out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    for key, metric, ylabel in (
        ("throughput", ok_per_s, "2xx answers/s"),
        ("p99", lambda run: run["latency_ms"]["p99"], "p99 latency (ms)"),
    ):
        _plot_scenarios(pyplot, results["scenarios"], metric, ylabel, out_dir / PLOTS[key])
    _plot_targets(pyplot, results["targets"], out_dir / PLOTS["targets"])
    _plot_comparisons(pyplot, results["comparisons"], out_dir / PLOTS["comparisons"])


def _plot_scenarios(
    pyplot: Any,
    scenarios: dict[str, Any],
    metric: Callable[[dict[str, Any]], float],
    ylabel: str,
    path: Path,
) -> None:
    """One line per scenario: ``metric`` against the connections."""
    figure, axes = pyplot.subplots(figsize=(9, 5.5))
    for scenario in scenarios.values():
        connections = [int(c) for c in scenario["runs"]]
        axes.plot(
            connections,
            [metric(run) for run in scenario["runs"].values()],
            marker="o",
            label=scenario["title"],
        )
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xlabel("connections")
    axes.set_ylabel(ylabel)
    axes.set_title(f"{ylabel} vs concurrency (nginx -> 3 backends)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def _plot_targets(pyplot: Any, targets: list[dict[str, Any]], path: Path) -> None:
    """The measured ratios against their targets."""
    ratios = [t for t in targets if t["unit"] == "x" and t["measured"]]
    figure, axes = pyplot.subplots(figsize=(9, 0.5 + 0.5 * max(1, len(ratios))))
    names = [t["name"] for t in ratios]
    values = [t["measured"] for t in ratios]
    colours = ["tab:green" if t["passed"] else "tab:red" for t in ratios]
    axes.barh(names, values, color=colours)
    for index, target in enumerate(ratios):
        wanted = float(target["target"].split()[1].rstrip("x"))
        axes.plot([wanted, wanted], [index - 0.4, index + 0.4], color="black", linewidth=2)
    axes.set_xscale("log")
    axes.set_xlabel("measured ratio, log scale (black bar: target; green pass, red miss)")
    axes.invert_yaxis()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def _plot_comparisons(pyplot: Any, comparisons: dict[str, Any], path: Path) -> None:
    measured = [c for c in comparisons.values() if c["ratio"] is not None]
    figure, axes = pyplot.subplots(figsize=(9, 0.5 + 0.5 * max(1, len(measured))))
    axes.barh(
        [f"{c['a']['label']} / {c['b']['label']}" for c in measured],
        [c["ratio"] for c in measured],
        color="tab:blue",
    )
    axes.axvline(1.0, color="black", linewidth=1)
    axes.set_xscale("log")
    axes.set_xlabel("ratio A / B (throughput; p50 latency for the cursor pages)")
    axes.invert_yaxis()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
