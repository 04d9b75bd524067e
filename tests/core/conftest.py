"""Fixtures of the traffic layer's tests."""

from __future__ import annotations

import pytest
from celery import current_app
from kombu import pools as kombu_pools

from config.settings.base import broker_transport_options


@pytest.fixture
def broker_at():
    """Point this process at a broker (a URL) instead of running tasks eagerly; restore after."""
    conf = current_app.conf
    saved = {k: conf[k] for k in ("broker_url", "task_always_eager", "broker_transport_options")}

    def use(url: str) -> None:
        conf.update(
            broker_url=url,
            task_always_eager=False,
            broker_transport_options=broker_transport_options(url),
        )
        _reset_pools()

    yield use
    _reset_pools()
    conf.update(saved)


def _reset_pools() -> None:
    if current_app._pool is not None:
        current_app._pool.force_close_all()
        current_app._pool = None
    current_app.amqp._producer_pool = None
    kombu_pools.reset()  # kombu's process-wide pools, keyed by broker URL
