"""What ``manage.py tasks_status`` reports: the broker's queues, live workers, what is stuck.

Each part is asked separately and reports its own failure, so a broker that is down still
leaves the database's part (outbox backlog, dead letters) to read, and the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from celery import current_app
from kombu.exceptions import ChannelError

from core.background import outbox
from core.models import FailedTask
from core.observability.logging import one_line


@dataclass(frozen=True)
class QueueDepth:
    name: str
    depth: int | None  # None: the broker did not answer
    error: str = ""


@dataclass(frozen=True)
class TasksStatus:
    broker: str  # the broker URL without its password
    eager: bool
    queues: list[QueueDepth]
    workers: list[str] | None  # None: the broker did not answer
    workers_error: str
    outbox_pending: int
    outbox_oldest_age_seconds: float
    failed_open: int
    failed_recent: list[FailedTask] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """The broker answers and at least one worker is alive (always, when tasks run eagerly).

        Dead letters and an outbox backlog are reported, not judged: they need a person.
        """
        if self.eager:
            return True
        return bool(self.workers) and all(queue.depth is not None for queue in self.queues)

    def as_dict(self) -> dict[str, object]:
        return {
            "broker": self.broker,
            "eager": self.eager,
            "healthy": self.healthy,
            "queues": [
                {"name": q.name, "depth": q.depth, "error": q.error or None} for q in self.queues
            ],
            "workers": self.workers,
            "workers_error": self.workers_error or None,
            "outbox": {
                "pending": self.outbox_pending,
                "oldest_age_seconds": round(self.outbox_oldest_age_seconds, 1),
            },
            "failed_tasks": {
                "open": self.failed_open,
                "recent": [
                    {
                        "id": failed.pk,
                        "task": failed.task_name,
                        "failed_at": failed.failed_at.isoformat(),
                        "exception": failed.exception,
                    }
                    for failed in self.failed_recent
                ],
            },
        }


def queue_names() -> list[str]:
    """Every queue the app routes to (the default one unless routes add more)."""
    names = {current_app.conf.task_default_queue}
    for queue in current_app.conf.task_queues or ():
        names.add(queue.name)
    return sorted(names)


def queue_depths(names: list[str] | None = None) -> list[QueueDepth]:
    """Messages ready on the broker per queue (passive declares: Redis and RabbitMQ alike).

    A queue that does not exist yet is empty: Redis deletes an empty list, and RabbitMQ only
    knows queues a worker or publisher declared.
    """
    names = names or queue_names()
    try:
        with current_app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2)
            channel = connection.default_channel
            depths = []
            for name in names:
                try:
                    _, count, _ = channel.queue_declare(queue=name, passive=True)
                except (ChannelError, *connection.channel_errors):
                    depths.append(QueueDepth(name, 0))
                    channel = connection.channel()  # AMQP closes a channel on NOT_FOUND
                    continue
                depths.append(QueueDepth(name, int(count)))
            return depths
    except Exception as exc:  # the transport's connection errors vary by broker
        return [
            QueueDepth(name, None, f"{type(exc).__name__}: {one_line(exc)}"[:300]) for name in names
        ]


def workers_alive(timeout: float = 1.0) -> tuple[list[str] | None, str]:
    """Names of the workers that answered a ping within ``timeout``, and an error if none could
    be asked."""
    try:
        replies = current_app.control.ping(timeout=timeout)
    except Exception as exc:
        return None, f"{type(exc).__name__}: {one_line(exc)}"[:300]
    return sorted(name for reply in replies for name in reply), ""


def tasks_status(*, timeout: float = 1.0, recent: int = 5) -> TasksStatus:
    eager = bool(current_app.conf.task_always_eager)
    if eager:
        queues: list[QueueDepth] = []
        workers: list[str] | None = []
        workers_error = ""
    else:
        queues = queue_depths()
        workers, workers_error = workers_alive(timeout)
    open_failures = FailedTask.objects.filter(retried_at__isnull=True)
    return TasksStatus(
        broker=redact(current_app.conf.broker_url or ""),
        eager=eager,
        queues=queues,
        workers=workers,
        workers_error=workers_error,
        outbox_pending=outbox.pending_count(),
        outbox_oldest_age_seconds=outbox.oldest_pending_age_seconds(),
        failed_open=open_failures.count(),
        failed_recent=list(open_failures.order_by("-failed_at", "-id")[:recent]),
    )


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def format_status(status: TasksStatus) -> str:
    """The human-readable report ``manage.py tasks_status`` prints."""
    lines = [f"broker         {status.broker or '(none)'}"]
    if status.eager:
        lines.append("mode           eager: tasks run in the process that enqueues them")
    else:
        for queue in status.queues:
            depth = f"{queue.depth} waiting" if queue.depth is not None else f"?  {queue.error}"
            lines.append(f"queue          {queue.name:<20} {depth}")
        if status.workers is None:
            lines.append(f"workers        ?  {status.workers_error}")
        else:
            names = ", ".join(status.workers) or "NONE answered"
            lines.append(f"workers        {len(status.workers)} alive: {names}")
    lines.append(
        f"outbox         {status.outbox_pending} unpublished"
        + (f" (oldest {status.outbox_oldest_age_seconds:.0f}s)" if status.outbox_pending else "")
    )
    lines.append(f"failed tasks   {status.failed_open} not retried (admin: Core > Failed tasks)")
    for failed in status.failed_recent:
        lines.append(
            f"  #{failed.pk:<6} {failed.failed_at:%Y-%m-%d %H:%M:%S}  {failed.task_name}  "
            f"{failed.exception[:80]}"
        )
    return "\n".join(lines)
