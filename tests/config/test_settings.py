"""Production settings stop at start-up naming a missing variable, and pass the deploy check."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "x" * 60 + "-a-long-random-production-secret",
    "DJANGO_ALLOWED_HOSTS": "api.myhibachi.example",
    "DATABASE_URL": "postgres://app:secret@127.0.0.1:5432/myhibachi",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", *args, "--settings=config.settings.production"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_passes_with_the_environment_set():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", sorted(PRODUCTION_ENV))
def test_a_missing_variable_is_named(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert f"The environment variable {missing} is required" in result.stderr


def site_url(env: dict[str, str]) -> str:
    result = manage(
        "shell", "-c", "from django.conf import settings; print(settings.SITE_URL)", env=env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_links_in_emails_default_to_the_first_allowed_host_over_https():
    env = {**PRODUCTION_ENV, "DJANGO_ALLOWED_HOSTS": "book.myhibachi.example,localhost"}
    assert site_url(env) == "https://book.myhibachi.example"
    assert (
        site_url({**env, "SITE_URL": "https://myhibachi.example/"}) == "https://myhibachi.example"
    )


@pytest.mark.parametrize("env", [{"SITE_URL": "myhibachi.example"}, {"DJANGO_ALLOWED_HOSTS": "*"}])
def test_a_site_url_that_cannot_be_a_link_stops_start_up(env):
    result = manage("check", env={**PRODUCTION_ENV, **env})
    assert result.returncode != 0
    assert "SITE_URL" in result.stderr
