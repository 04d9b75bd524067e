"""The decisions of the dependency audit by PyPI's project JSON (tests/security/pypi_audit.py),
on hand-made JSON: no network."""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.error import HTTPError, URLError

import pytest

from tests.security import pypi_audit

FILE = {"packagetype": "bdist_wheel", "yanked": False, "yanked_reason": None}
YANKED = {"packagetype": "bdist_wheel", "yanked": True, "yanked_reason": "broken wheel"}


def project(
    latest: str,
    releases: list[str],
    *,
    vulnerabilities: list[dict[str, Any]] = (),
    yanked: tuple[str, ...] = (),
) -> dict[str, Any]:
    """PyPI's project JSON, reduced to what the audit reads."""
    return {
        "info": {"version": latest},
        "releases": {v: [YANKED if v in yanked else FILE] for v in [*releases, latest]},
        "vulnerabilities": list(vulnerabilities),
    }


def vulnerability(
    id_: str, *, fixed_in: list[str] | None = None, withdrawn: str | None = None
) -> dict[str, Any]:
    return {
        "id": id_,
        "aliases": [f"CVE-{id_}"],
        "fixed_in": fixed_in or [],
        "withdrawn": withdrawn,
        "summary": "",
    }


# -- the pin is the latest release: PyPI's vulnerabilities are exactly its own --------------------


def test_latest_release_without_vulnerabilities_is_clean():
    # when
    verdict = pypi_audit.judge("django", "6.1.3", project("6.1.3", ["6.1.2", "5.2.19"]))
    # then
    assert verdict.exact
    assert verdict.failures == []


def test_latest_release_with_a_vulnerability_fails_naming_id_and_fix():
    # given
    data = project("2.0.1", ["2.0.0"], vulnerabilities=[vulnerability("PYSEC-1", fixed_in=[])])
    # when
    verdict = pypi_audit.judge("pkg", "2.0.1", data)
    # then
    assert verdict.failures == [
        "pkg==2.0.1: known vulnerability PYSEC-1 (CVE-PYSEC-1), fixed in no release yet"
    ]


def test_withdrawn_vulnerability_is_not_a_finding():
    # given
    data = project(
        "2.0.1",
        [],
        vulnerabilities=[
            vulnerability("PYSEC-1", withdrawn="2026-01-02T00:00:00Z"),
            vulnerability("GHSA-2", fixed_in=["2.0.2"]),
        ],
    )
    # when
    verdict = pypi_audit.judge("pkg", "2.0.1", data)
    # then only the standing one counts
    assert verdict.vulnerabilities == ("GHSA-2 (CVE-GHSA-2), fixed in 2.0.2",)


def test_a_spelling_of_the_latest_version_is_the_latest():
    # when "5.2" is pinned and PyPI spells the release "5.2.0"
    verdict = pypi_audit.judge("pkg", "5.2", project("5.2.0", ["5.1.9"]))
    # then
    assert verdict.exact
    assert verdict.failures == []


# -- an older pin: newest of its own series ---------------------------------------------------


def test_newest_of_an_older_series_passes_by_series_only():
    # given Django 5.2 LTS while 6.1 is out
    data = project("6.1.3", ["5.2.18", "5.2.19", "6.0.10", "6.1.2"])
    # when
    verdict = pypi_audit.judge("django", "5.2.19", data)
    # then
    assert not verdict.exact
    assert verdict.failures == []


@pytest.mark.parametrize(
    ("pin", "releases", "latest", "upgrade_to"),
    [
        ("0.17.5", ["0.17.5", "0.17.6", "0.16.9"], "0.17.6", "0.17.6"),
        ("5.2.18", ["5.2.18", "5.2.19", "5.2.9"], "6.1.3", "5.2.19"),  # 5.2.19 > 5.2.9
        ("3.0", ["3.0", "3.0.1", "3.1"], "3.1", "3.0.1"),  # "3.0" is of the 3.0 series
        ("1.0rc1", ["1.0rc1", "1.0"], "1.0", "1.0"),  # a final release supersedes its rc
        ("2026.10.1", ["2026.10.1", "2026.10.2"], "2026.11.1", "2026.10.2"),  # calendar versions
    ],
)
def test_a_pin_behind_its_series_fails_naming_the_upgrade(pin, releases, latest, upgrade_to):
    # when
    verdict = pypi_audit.judge("pkg", pin, project(latest, releases))
    # then
    assert verdict.upgrade_to == upgrade_to
    assert verdict.failures == [
        f"pkg=={pin}: behind its release series, upgrade to {upgrade_to} "
        "(security fixes ship as patch releases)"
    ]


@pytest.mark.parametrize(
    "newer",
    ["5.2.20rc1", "5.2.20a1", "5.2.20b2", "5.2.20.dev1", "5.2.20.dev0", "1!5.2.0", "5.3.0"],
)
def test_pre_releases_dev_releases_and_other_series_do_not_count(newer):
    # when a release newer than the pin exists, but not as a final release of its series
    verdict = pypi_audit.judge("pkg", "5.2.19", project("6.0.0", ["5.2.19", newer]))
    # then
    assert verdict.upgrade_to is None
    assert verdict.failures == []


def test_a_yanked_release_is_no_upgrade():
    # when the series' newest release was yanked
    data = project("6.0.0", ["5.2.19", "5.2.20"], yanked=("5.2.20",))
    verdict = pypi_audit.judge("pkg", "5.2.19", data)
    # then
    assert verdict.failures == []


def test_non_pep440_versions_in_the_history_are_ignored():
    # when an ancient release has a version packaging cannot parse
    verdict = pypi_audit.judge("pkg", "1.2.3", project("1.2.3", ["0.1-beta-final_", "1.2.2"]))
    # then
    assert verdict.failures == []


def test_vulnerabilities_of_the_latest_release_are_undecided_for_an_older_pin():
    # given vulnerabilities listed for 6.1.3 while 5.2.19 is pinned
    data = project(
        "6.1.3",
        ["5.2.19"],
        vulnerabilities=[
            vulnerability("PYSEC-1"),  # no fix anywhere: may or may not reach 5.2
            vulnerability("PYSEC-2", fixed_in=["6.1.4"]),  # fixed only in another series
            vulnerability("PYSEC-3", fixed_in=["5.2.18", "6.1.4"]),  # 5.2.19 has the fix
            vulnerability("PYSEC-4", withdrawn="2026-01-02T00:00:00Z"),
        ],
    )
    # when
    verdict = pypi_audit.judge("django", "5.2.19", data)
    # then neither found nor clean: counted as audited by series only, the ids reported
    assert verdict.failures == []
    assert not verdict.exact
    assert [u.split(" ")[0] for u in verdict.undecided] == ["PYSEC-1", "PYSEC-2"]


# -- pins that cannot be used ----------------------------------------------------------------


def test_a_yanked_pin_fails():
    # when
    verdict = pypi_audit.judge("pkg", "1.0.1", project("2.0.0", ["1.0.1"], yanked=("1.0.1",)))
    # then
    assert verdict.failures == ["pkg==1.0.1: yanked on PyPI (broken wheel)"]


def test_a_pin_that_is_not_a_release_fails():
    # when
    verdict = pypi_audit.judge("pkg", "9.9.9", project("1.0.0", []))
    # then
    assert verdict.failures == ["pkg==9.9.9: not a release on PyPI"]


# -- the audit: every pin checked, or said not to be ----------------------------------------------


def test_audit_fetches_each_project_once_and_summarises():
    # given
    fetched = []
    projects = {"django": project("6.1.3", ["5.2.19"]), "ruff": project("0.17.6", ["0.17.5"])}

    def fetch(name: str) -> dict[str, Any]:
        fetched.append(name)
        return projects[name]

    pins = {("django", "5.2.19"), ("django", "6.1.3"), ("ruff", "0.17.5")}
    # when
    report = pypi_audit.audit(pins, fetch=fetch)
    # then
    assert sorted(fetched) == ["django", "ruff"]
    assert report.failures == [
        "ruff==0.17.5: behind its release series, upgrade to 0.17.6 "
        "(security fixes ship as patch releases)"
    ]
    assert report.summary().splitlines() == [
        "dependency audit by PyPI's project JSON (pip-audit's sources do not answer): 3 pins, "
        "1 checked against the exact release's vulnerability data, 2 by release series only",
        "  by series only: django==5.2.19 (latest 6.1.3)",
        "  by series only: ruff==0.17.5 (latest 0.17.6)",
    ]


def test_a_pin_pypi_did_not_answer_for_is_a_failure_not_clean():
    # given
    def fetch(name: str) -> dict[str, Any]:
        if name == "redis":
            raise pypi_audit.NoAnswer("timed out")
        if name == "private-thing":
            raise HTTPError("https://pypi.org/pypi/private-thing/json", 404, "Not Found", {}, None)
        return project("1.0.0", [])

    pins = {("django", "1.0.0"), ("redis", "8.1.0"), ("private-thing", "1.0")}
    # when
    report = pypi_audit.audit(pins, fetch=fetch)
    # then
    assert report.fetched == 1
    assert report.failures == [
        "private-thing==1.0: not checked (not on PyPI)",
        "redis==8.1.0: not checked (no answer: timed out)",
    ]
    assert ", 2 not checked" in report.summary()


def test_nothing_fetched_when_pypi_never_answers():
    # given
    asked = []

    def fetch(name: str) -> dict[str, Any]:
        asked.append(name)
        raise pypi_audit.NoAnswer("Name or service not known")

    # when
    report = pypi_audit.audit({("django", "5.2.19"), ("redis", "8.1.0")}, fetch=fetch)
    # then the caller can tell "unreachable" from "clean", known after one project
    assert asked == ["django"]
    assert report.fetched == 0
    assert report.verdicts == []
    assert report.failures == [
        "django==5.2.19: not checked (no answer: Name or service not known)",
        "redis==8.1.0: not checked (not asked: PyPI did not answer for the first project)",
    ]


# -- fetching: bounded, one retry after a transient failure ---------------------------------------


class Opener:
    """urlopen's stand-in: answers with each of ``outcomes`` in turn (an exception is raised)."""

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, float]] = []

    def __call__(self, url: str, *, timeout: float) -> io.BytesIO:
        self.calls.append((url, timeout))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return io.BytesIO(json.dumps(outcome).encode())


def http_error(code: int) -> HTTPError:
    return HTTPError("https://pypi.org/pypi/pkg/json", code, "", {}, None)


@pytest.mark.parametrize(
    "transient", [URLError("Name or service not known"), TimeoutError("timed out"), http_error(503)]
)
def test_a_transient_failure_is_retried_once(transient):
    # given
    opener, pauses = Opener(transient, {"info": {"version": "1.0"}}), []
    # when
    data = pypi_audit.project_json("pkg", opener=opener, sleep=pauses.append)
    # then
    assert data == {"info": {"version": "1.0"}}
    assert opener.calls == [("https://pypi.org/pypi/pkg/json", pypi_audit.TIMEOUT_SECONDS)] * 2
    assert pauses == [pypi_audit.RETRY_PAUSE_SECONDS]


def test_no_answer_twice_raises_no_answer():
    # given
    opener = Opener(URLError("Name or service not known"), http_error(502))
    # when / then
    with pytest.raises(pypi_audit.NoAnswer, match="HTTP 502"):
        pypi_audit.project_json("pkg", opener=opener, sleep=lambda _: None)


def test_a_definite_answer_is_not_retried():
    # given
    opener = Opener(http_error(404))
    # when / then
    with pytest.raises(HTTPError):
        pypi_audit.project_json("pkg", opener=opener, sleep=lambda _: None)
    assert len(opener.calls) == 1
