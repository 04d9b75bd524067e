"""The benchmark's knobs reach its servers and its report."""

import dataclasses
from pathlib import Path

from bench.load.config import BenchConfig
from bench.load.report import machine_lines


def test_the_report_names_the_backends_processes_and_threads():
    config = BenchConfig(out_dir=Path("unused"), backend_workers=1, backend_threads=8)
    results = {"config": dataclasses.asdict(config), "scenarios": {}, "comparisons": {}}

    topology = next(line for line in machine_lines(results) if "**Topology**" in line)

    assert "gthread 1 workers x 8 threads" in topology
