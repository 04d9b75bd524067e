"""Invalidation on write: bump the versions of the scopes a write touched, after it commits.

Two ways in, both ending in ``invalidate()``:

- model changes, wired once per app (``<app>/caching.py``)::

      invalidate_on_change(Post, Tag, Post.tags.through, scopes=[POSTS])

  post_save / post_delete (and m2m_changed for a many-to-many table), so the admin's edit
  forms, which save models directly, invalidate too;
- services, for writes that send no signal (``QuerySet.update()``, ``bulk_create``)::

      invalidate(POSTS)

Bumps run in ``transaction.on_commit``: a rolled-back write invalidates nothing, and a committed
one is invalidated after its rows are visible, so no reader can refill the new version from
before the write (except from a lagging replica: see ``core.cache.results``).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from core.cache.keys import EVERYTHING
from core.cache.versions import store as versions
from core.observability import metrics

M2M_WRITES = frozenset({"post_add", "post_remove", "post_clear"})


def invalidate(*scopes: str, using: str | None = None) -> None:
    """Invalidate every dataset that depends on ``scopes`` once the current transaction on
    ``using`` commits (at once outside a transaction). Never raises."""
    transaction.on_commit(partial(_bump, scopes), using=using, robust=True)


def invalidate_everything(*, using: str | None = None) -> None:
    """Invalidate every cached result (after bulk loads that send no signals)."""
    invalidate(EVERYTHING, using=using)


def invalidate_on_change(*senders: type[models.Model], scopes: Iterable[str]) -> None:
    """Invalidate ``scopes`` whenever a row of one of ``senders`` is saved or deleted (or, for
    an automatic many-to-many table, added, removed or cleared)."""
    scopes = tuple(scopes)

    def on_write(sender: type[models.Model], using: str | None = None, **kwargs: Any) -> None:
        action = kwargs.get("action")  # m2m_changed only; it also fires before each change
        if action is None or action in M2M_WRITES:
            invalidate(*scopes, using=using)

    for sender in senders:
        uid = f"core.cache:{sender._meta.label}:{','.join(scopes)}"
        if sender._meta.auto_created:
            m2m_changed.connect(on_write, sender=sender, weak=False, dispatch_uid=uid)
        else:
            post_save.connect(on_write, sender=sender, weak=False, dispatch_uid=uid)
            post_delete.connect(on_write, sender=sender, weak=False, dispatch_uid=uid)


def invalidate_on_field_change(
    sender: type[models.Model], *, fields: Iterable[str], scopes: Iterable[str]
) -> None:
    """Invalidate ``scopes`` when a saved row of ``sender`` may have changed one of ``fields``
    (a dataset that shows, say, its author's name). A new row cannot be shown yet, and a save
    that names its ``update_fields`` without any of ``fields`` (a login's ``last_login``)
    cannot have changed them: neither invalidates."""
    fields, scopes = frozenset(fields), tuple(scopes)

    def on_save(sender: type[models.Model], created: bool, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if not created and (update_fields is None or fields & set(update_fields)):
            invalidate(*scopes, using=kwargs.get("using"))

    uid = f"core.cache:{sender._meta.label}:{','.join(sorted(fields))}:{','.join(scopes)}"
    post_save.connect(on_save, sender=sender, weak=False, dispatch_uid=uid)


def _bump(scopes: Iterable[str]) -> None:
    scopes = list(scopes)
    versions.bump(scopes)
    for scope in scopes:
        metrics.cache_invalidations.labels(scope=scope.partition(":")[0]).inc()
