"""No pinned dependency has a known vulnerability: pip-audit when one of its vulnerability
sources answers, otherwise the check by PyPI's project JSON (tests/security/pypi_audit.py).

pip-audit reads vulnerability data from PyPI's per-release JSON API or from OSV. It audits the
environment the suite runs in: what ``make test`` installed from requirements*.txt, the pins
and their transitive dependencies.

Where neither source answers (a machine that reaches only the package indexes), pip-audit still
exits 0 and prints "No known vulnerabilities found" after skipping every package. So each source
is first asked about one release it must know (pip-audit's own), and a package the audit
skipped counts as unaudited, never as clean.

When neither answers, the fallback judges every ``==`` pin on PyPI's project JSON
(``https://pypi.org/pypi/<name>/json``, which such machines do reach): a pin that is the latest
release against PyPI's vulnerability data for exactly that release, any other pin by release
series only (it must be the newest patch release of its major.minor). It covers the pins, not
their transitive dependencies, and prints how many pins were judged each way (``pytest -rP``).
Only when that API does not answer either is the test skipped, saying why.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

from tests.security import pypi_audit

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


def pins() -> set[tuple[str, str]]:
    """Every (package, version) pinned with == in requirements*.txt."""
    found = set()
    for requirements in ROOT.glob("requirements*.txt"):
        for line in requirements.read_text().splitlines():
            match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*==\s*([^\s;#,]+)", line)
            if match:
                found.add((normalised(match.group(1)), match.group(3)))
    return found


def pinned_names() -> set[str]:
    """Every package pinned with == in requirements*.txt."""
    return {name for name, _ in pins()}


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


@dataclass(frozen=True)
class Source:
    """pip-audit's first vulnerability source that answers (None when none does) and why each
    one asked before it did not."""

    service: str | None
    failures: dict[str, str]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Source:
    scratch = tmp_path_factory.mktemp("pip-audit")
    failures = {}
    for candidate in SERVICES:
        failure = why_not_usable(candidate, scratch)
        if failure is None:
            return Source(candidate, failures)
        failures[candidate] = failure
    return Source(None, failures)


def test_no_pinned_dependency_has_a_known_vulnerability(source):
    if source.service is not None:
        audit_with_pip_audit(source.service)
    else:
        audit_by_pypi_project_json(source)


def audit_by_pypi_project_json(source: Source) -> None:
    """The fallback: every pin judged on PyPI's project JSON (tests/security/pypi_audit.py)."""
    # when each pin is judged on PyPI's project JSON
    report = pypi_audit.audit(pins())
    if not report.fetched:
        pip_audit_failures = "; ".join(f"{name}: {why}" for name, why in source.failures.items())
        pytest.skip(
            "dependency audit not run: no vulnerability source answers from this machine "
            f"(pip-audit: {pip_audit_failures}; PyPI's project JSON: "
            f"{next(iter(report.unchecked.values()), 'no pins')})"
        )
    print(report.summary())
    # then every pin was checked and none is vulnerable, yanked or behind its release series
    failures = report.failures
    assert not failures, "\n".join(
        ["dependency audit by PyPI's project JSON found:", *failures, report.summary()]
    )


def audit_with_pip_audit(service: str) -> None:
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
