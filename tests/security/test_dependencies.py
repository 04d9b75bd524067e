"""No installed dependency has a known vulnerability (pip-audit), when a vulnerability source
answers; otherwise the test is skipped saying so.

pip-audit reads vulnerability data from PyPI's per-release JSON API or from OSV. It audits the
environment the suite runs in: what ``make test`` installed from requirements*.txt, the pins
and their transitive dependencies.

Where neither source answers (a machine that reaches only the package indexes), pip-audit still
exits 0 and prints "No known vulnerabilities found" after skipping every package. So each source
is first asked about one release it must know (pip-audit's own), and a package the audit
skipped counts as unaudited, never as clean.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("pypi", "osv")
TIMEOUT = 600  # a bound that catches a hang


def pip_audit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_names() -> set[str]:
    """Every package pinned with == in requirements*.txt."""
    names = set()
    for requirements in ROOT.glob("requirements*.txt"):
        for line in requirements.read_text().splitlines():
            match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*==", line)
            if match:
                names.add(normalised(match.group(1)))
    return names


def why_not_usable(service: str, scratch: Path) -> str | None:
    """None when ``service`` audits a release it must know, else what went wrong."""
    requirement = scratch / f"probe-{service}.txt"
    requirement.write_text(f"pip-audit=={metadata.version('pip-audit')}\n")
    result = pip_audit(
        "--vulnerability-service", service, "--no-deps", "--disable-pip", "-r", str(requirement)
    )
    report = _report(result)
    if report is None:  # no answer at all: pip-audit died on a connection error
        return (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1][:300]
    [dependency] = report["dependencies"]
    return dependency.get("skip_reason")


def _report(result: subprocess.CompletedProcess) -> dict | None:
    """pip-audit's JSON report; None when it printed none (exit 1 means either "found
    vulnerabilities" with a report, or a crash without one)."""
    try:
        return json.loads(result.stdout)
    except ValueError:
        return None


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> str:
    scratch = tmp_path_factory.mktemp("pip-audit")
    failures = {}
    for candidate in SERVICES:
        failure = why_not_usable(candidate, scratch)
        if failure is None:
            return candidate
        failures[candidate] = failure
    pytest.skip(
        "dependency audit not run: no vulnerability source answers from this machine "
        f"({'; '.join(f'{name}: {why}' for name, why in failures.items())})"
    )


def test_no_installed_dependency_has_a_known_vulnerability(service):
    # when pip-audit checks every package installed in this environment
    result = pip_audit("--local", "--vulnerability-service", service)
    report = _report(result)
    assert report is not None, result.stderr[-2000:]
    dependencies = {normalised(d["name"]): d for d in report["dependencies"]}
    # then every pinned dependency was actually audited ...
    pinned = pinned_names()
    assert pinned <= set(dependencies), f"not installed: {pinned - set(dependencies)}"
    unaudited = {name: d["skip_reason"] for name, d in dependencies.items() if "skip_reason" in d}
    assert not unaudited.keys() & pinned, f"not audited: {unaudited}"
    # ... and none has a known vulnerability
    vulnerable = {
        f"{name}=={d['version']}": [v["id"] for v in d["vulns"]]
        for name, d in dependencies.items()
        if d.get("vulns")
    }
    assert not vulnerable, f"known-vulnerable dependencies (upgrade the pins): {vulnerable}"
