"""``manage.py dbstatus [--json]``: each database alias's role, reachability, lag and reads."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.db.status import database_status, format_table, primary_reachable


class Command(BaseCommand):
    help = (
        "Show every database alias: role, reachability, replication lag, connections and "
        "whether reads go there now. Exits 1 when the primary is unreachable."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args: Any, **options: Any) -> None:
        statuses = database_status()
        if options["json"]:
            self.stdout.write(json.dumps([s.as_dict() for s in statuses], indent=2))
        else:
            self.stdout.write(format_table(statuses))
        if not primary_reachable(statuses):
            raise CommandError("the primary database is unreachable", returncode=1)
