"""The throttling fixtures of tests/core/throttling (real Redis, injected clock), reused."""

from tests.core.throttling.conftest import clock, throttling  # noqa: F401 (fixtures)
