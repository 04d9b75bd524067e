"""The dependency audit for a machine that reaches only the package indexes: each pin against
PyPI's project JSON, ``https://pypi.org/pypi/<name>/json``.

pip-audit needs PyPI's per-release JSON or OSV; the project JSON is what answers where neither
does. It carries the latest release (``info.version``), every release with its files
(``releases``) and PyPI's known vulnerabilities of the latest release (``vulnerabilities``).
So a pin is judged in one of two ways:

* **exact**: the pin is the latest release, and PyPI's list is the vulnerability data for exactly
  that release. Any entry not withdrawn is a finding.
* **by series only**: the pin is older (an LTS line, a major we have not moved to). PyPI publishes
  no vulnerability data for it here, so what is checked is that it is the newest release of its
  own series (same epoch, major and minor; pre-releases, dev releases and yanked releases do not
  count): security fixes ship as patch releases, so a pin behind its series misses them.
  Vulnerabilities listed for the latest release that may or may not reach back to the pin are
  reported as undecided, never as found and never as clean.

Every pin, whichever way it was judged, must also be a release on PyPI that is not yanked.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.error import HTTPError
from urllib.parse import quote

from packaging.version import InvalidVersion, Version

PYPI_PROJECT_JSON = "https://pypi.org/pypi/{name}/json"
TIMEOUT_SECONDS = 8
WORKERS = 8
RETRIES = 1  # one more try after a transient failure
RETRY_PAUSE_SECONDS = 1.0
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


class NoAnswer(Exception):
    """PyPI did not answer (connection refused, name not resolved, timeout, a 5xx or 429 every
    time): says nothing about the package."""


# -- the decision, on the project JSON alone ----------------------------------------------------


def series(version: Version) -> tuple[int, int, int]:
    """(epoch, major, minor): the line whose patch releases carry its security fixes."""
    major, minor = (*version.release, 0)[:2]
    return (version.epoch, major, minor)


def installable(files: list[dict[str, Any]]) -> bool:
    """Whether a release has a file pip would pick without an explicit pin (one not yanked)."""
    return any(not file.get("yanked") for file in files)


def _releases(project: Mapping[str, Any]) -> dict[Version, tuple[str, list[dict[str, Any]]]]:
    """Every release with a PEP 440 version, by version: (the string PyPI spells it, files).
    Ancient non-PEP 440 version strings cannot be compared and are left out."""
    releases = {}
    for spelled, files in project.get("releases", {}).items():
        try:
            releases[Version(spelled)] = (spelled, files or [])
        except InvalidVersion:
            continue
    return releases


def newest_in_series(pin: Version, project: Mapping[str, Any]) -> str | None:
    """The newest installable final release of ``pin``'s series as PyPI spells it, or None when
    the series has none (a pre-release pin of a series not yet released)."""
    candidates = {
        version: spelled
        for version, (spelled, files) in _releases(project).items()
        if not version.is_prerelease  # also excludes dev releases
        and series(version) == series(pin)
        and installable(files)
    }
    return candidates[max(candidates)] if candidates else None


def _is_fixed_for(pin: Version, vulnerability: Mapping[str, Any]) -> bool:
    """Whether ``fixed_in`` names a release of the pin's own series at or below the pin."""
    for spelled in vulnerability.get("fixed_in") or ():
        try:
            fixed = Version(spelled)
        except InvalidVersion:
            continue
        if series(fixed) == series(pin) and fixed <= pin:
            return True
    return False


def describe(vulnerability: Mapping[str, Any]) -> str:
    """``PYSEC-2026-1 (CVE-2026-1234), fixed in 5.2.20, 6.1.4``."""
    aliases = ", ".join(vulnerability.get("aliases") or ())
    fixed_in = ", ".join(vulnerability.get("fixed_in") or ()) or "no release yet"
    return (
        f"{vulnerability.get('id', '?')}{f' ({aliases})' if aliases else ''}, fixed in {fixed_in}"
    )


@dataclass(frozen=True)
class Verdict:
    """What PyPI's project JSON says about one pin."""

    name: str
    version: str
    exact: bool  # the pin is the latest release: checked against its own vulnerability data
    latest: str | None = None  # PyPI's latest release; None when the pin could not be judged
    vulnerabilities: tuple[str, ...] = ()  # findings (exact only)
    upgrade_to: str | None = None  # the newest release of the pin's series, when the pin is behind
    undecided: tuple[str, ...] = ()  # listed for the latest release; may or may not reach the pin
    problem: str | None = None  # the pin cannot be judged or must not be used (not a release...)

    @property
    def failures(self) -> list[str]:
        pin = f"{self.name}=={self.version}"
        failures = [f"{pin}: {self.problem}"] if self.problem else []
        failures += [f"{pin}: known vulnerability {finding}" for finding in self.vulnerabilities]
        if self.upgrade_to:
            failures.append(
                f"{pin}: behind its release series, upgrade to {self.upgrade_to} "
                "(security fixes ship as patch releases)"
            )
        return failures


def judge(name: str, version: str, project: Mapping[str, Any]) -> Verdict:
    """Judge the pin ``name==version`` on PyPI's project JSON for ``name``."""
    try:
        pin = Version(version)
    except InvalidVersion:
        return Verdict(name, version, exact=False, problem="not an exact PEP 440 version")
    releases = _releases(project)
    if pin not in releases:
        return Verdict(name, version, exact=False, problem="not a release on PyPI")
    _, files = releases[pin]
    problem = None
    if files and not installable(files):
        reasons = {file.get("yanked_reason") for file in files} - {None, ""}
        problem = "yanked on PyPI" + (f" ({'; '.join(sorted(reasons))})" if reasons else "")

    known = [v for v in project.get("vulnerabilities") or () if not v.get("withdrawn")]
    exact = pin == Version(project["info"]["version"])
    newest = newest_in_series(pin, project)
    return Verdict(
        name,
        version,
        exact=exact,
        latest=project["info"]["version"],
        vulnerabilities=tuple(describe(v) for v in known) if exact else (),
        upgrade_to=newest if newest is not None and Version(newest) > pin else None,
        undecided=() if exact else tuple(describe(v) for v in known if not _is_fixed_for(pin, v)),
        problem=problem,
    )


# -- fetching ------------------------------------------------------------------------------------


def project_json(
    name: str,
    *,
    opener: Callable[..., Any] = urllib.request.urlopen,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """PyPI's project JSON for ``name``, asked again once after a transient failure.

    Raise NoAnswer when PyPI did not answer, HTTPError for a definite answer such as 404 (no
    such project on PyPI)."""
    url = PYPI_PROJECT_JSON.format(name=quote(name))
    for attempt in range(RETRIES + 1):
        try:
            with opener(url, timeout=TIMEOUT_SECONDS) as response:
                return json.load(response)
        except HTTPError as error:
            if error.code not in TRANSIENT_STATUSES:
                raise
            failure = f"HTTP {error.code}"
        except (OSError, http.client.HTTPException, ValueError) as error:
            # no connection, name not resolved, timeout, a body cut off
            failure = str(getattr(error, "reason", error)) or type(error).__name__
        if attempt < RETRIES:
            sleep(RETRY_PAUSE_SECONDS)
    raise NoAnswer(f"{url}: {failure}")


@dataclass
class Report:
    """The audit of every pin: verdicts, and pins that could not be checked (never clean)."""

    verdicts: list[Verdict] = field(default_factory=list)
    unchecked: dict[str, str] = field(default_factory=dict)  # pin -> why
    fetched: int = 0  # projects whose JSON came back (0: the API does not serve this machine)

    @property
    def failures(self) -> list[str]:
        failures = [failure for verdict in self.verdicts for failure in verdict.failures]
        return failures + [f"{pin}: not checked ({why})" for pin, why in self.unchecked.items()]

    def summary(self) -> str:
        exact = [v for v in self.verdicts if v.exact]
        by_series = [v for v in self.verdicts if not v.exact and v.latest is not None]
        not_checked = len(self.verdicts) - len(exact) - len(by_series) + len(self.unchecked)
        lines = [
            f"dependency audit by PyPI's project JSON (pip-audit's sources do not answer): "
            f"{len(self.verdicts) + len(self.unchecked)} pins, {len(exact)} checked against "
            f"the exact release's vulnerability data, {len(by_series)} by release series only"
            + (f", {not_checked} not checked" if not_checked else ""),
        ]
        lines += [
            f"  by series only: {v.name}=={v.version} (latest {v.latest})"
            + (
                f"; undecided, listed for {v.latest}: {'; '.join(v.undecided)}"
                if v.undecided
                else ""
            )
            for v in by_series
        ]
        return "\n".join(lines)


def audit(
    pins: Iterable[tuple[str, str]],
    *,
    fetch: Callable[[str], dict[str, Any]] = project_json,
) -> Report:
    """Judge every ``(name, version)`` pin, fetching each project's JSON once."""
    pins = sorted(set(pins))
    names = sorted({name for name, _ in pins})
    fetch_one = _outcome(fetch)
    # One project first: where PyPI does not answer at all, that is known after one project's
    # timeouts rather than after every pin's, a round of WORKERS at a time.
    outcomes = {name: fetch_one(name) for name in names[:1]}
    if not any(isinstance(outcome, NoAnswer) for outcome in outcomes.values()):
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            outcomes.update(zip(names[1:], pool.map(fetch_one, names[1:]), strict=True))
    report = Report(fetched=sum(1 for outcome in outcomes.values() if isinstance(outcome, dict)))
    for name, version in pins:
        outcome = outcomes.get(name, "not asked: PyPI did not answer for the first project")
        if isinstance(outcome, dict):
            report.verdicts.append(judge(name, version, outcome))
        elif isinstance(outcome, NoAnswer):
            report.unchecked[f"{name}=={version}"] = f"no answer: {outcome}"
        else:
            report.unchecked[f"{name}=={version}"] = outcome
    return report


def _outcome(
    fetch: Callable[[str], dict[str, Any]],
) -> Callable[[str], dict[str, Any] | NoAnswer | str]:
    """``fetch`` returning what went wrong instead of raising it."""

    def outcome(name: str) -> dict[str, Any] | NoAnswer | str:
        try:
            return fetch(name)
        except NoAnswer as error:
            return error
        except HTTPError as error:
            return "not on PyPI" if error.code == 404 else f"HTTP {error.code} from PyPI"

    return outcome
