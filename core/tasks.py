"""Housekeeping of the traffic layer, run by Celery beat (schedule: CELERY_BEAT_SCHEDULE).

Each is a ``HousekeepingTask``: the next tick repeats it, so it is never retried or re-queued,
and safe to run twice or concurrently.
"""

from __future__ import annotations

import logging

from celery import shared_task

from core.background import HousekeepingTask, outbox, status
from core.cache import warming
from core.cache.backend import CacheUnavailable
from core.db import conf as db_conf
from core.db.health import registry
from core.http.idempotency import purge_expired_keys
from core.observability import metrics

logger = logging.getLogger(__name__)


@shared_task(base=HousekeepingTask, name="core.outbox_relay", soft_time_limit=30, time_limit=60)
def outbox_relay() -> int:
    """Publish outbox rows that were not published right after their commit."""
    return outbox.relay()


@shared_task(base=HousekeepingTask, name="core.purge_expired", soft_time_limit=300, time_limit=360)
def purge_expired() -> dict[str, int]:
    """Delete Idempotency-Keys past their TTL and outbox rows published long ago."""
    purged = {
        "idempotency_keys": purge_expired_keys(),
        "outbox_messages": outbox.purge_published(),
    }
    logger.info("purged expired rows", extra=purged)
    return purged


@shared_task(base=HousekeepingTask, name="core.rewarm_caches", soft_time_limit=120, time_limit=180)
def rewarm_caches() -> dict[str, str]:
    """Refill the hot datasets that expired or were invalidated (``manage.py warm_cache``)."""
    try:
        results = warming.warm()
    except CacheUnavailable as exc:
        logger.warning("cache re-warm skipped: the cache is unavailable (%s)", exc)
        return {}
    return {result.name: result.error or "ok" for result in results}


@shared_task(base=HousekeepingTask, name="core.sample_metrics", soft_time_limit=20, time_limit=30)
def sample_metrics() -> dict[str, float]:
    """Put the broker's queue depths, the outbox backlog and replica lag into the metrics."""
    sampled: dict[str, float] = {}
    for queue in status.queue_depths():
        if queue.depth is not None:
            metrics.task_queue_depth.labels(queue=queue.name).set(queue.depth)
            sampled[f"queue:{queue.name}"] = queue.depth
    pending = outbox.pending_count()
    metrics.task_outbox_pending.set(pending)
    metrics.task_outbox_oldest_age.set(outbox.oldest_pending_age_seconds())
    sampled["outbox_pending"] = pending
    for alias in db_conf.replica_aliases():
        health = registry.refresh(alias)  # records db_replica_lag_seconds / _usable
        if health.lag_seconds is not None:
            sampled[f"lag:{alias}"] = health.lag_seconds
    return sampled
