"""``manage.py tasks_status [--json]``: queue depths, live workers, the outbox, failed tasks."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.background.status import format_status, tasks_status


class Command(BaseCommand):
    help = (
        "Show the background work: messages waiting per queue, the workers that answer a ping, "
        "unpublished outbox rows and failed tasks. Exits 1 when the broker does not answer or "
        "no worker is alive."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument(
            "--timeout", type=float, default=1.0, help="seconds to wait for workers' replies"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        status = tasks_status(timeout=options["timeout"])
        if options["json"]:
            self.stdout.write(json.dumps(status.as_dict(), indent=2))
        else:
            self.stdout.write(format_status(status))
        if not status.healthy:
            raise CommandError("no worker is consuming the queues", returncode=1)
