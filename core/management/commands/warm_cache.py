"""``manage.py warm_cache [--only NAME ...]``: fill the hot datasets before traffic arrives."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.cache import warming
from core.cache.backend import CacheUnavailable


class Command(BaseCommand):
    help = (
        "Fill the cache with the hot datasets (featured posts, first pages, packages, the service "
        "area, the next 30 days of availability, review stats). Exits 1 if a warmer failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only", nargs="+", metavar="NAME", help=f"only these: {', '.join(warming.names())}"
        )

    def handle(self, *args: Any, only: list[str] | None, **options: Any) -> None:
        try:
            results = warming.warm(only)
        except KeyError as exc:
            raise CommandError(f"unknown warmer(s): {exc.args[0]}") from None
        except CacheUnavailable as exc:
            raise CommandError(f"the cache is unavailable: {exc}") from None
        for result in results:
            outcome = f"failed: {result.error}" if result.error else "ok"
            self.stdout.write(f"{result.name:<32} {result.seconds * 1000:8.1f} ms  {outcome}")
        if any(result.error for result in results):
            raise CommandError("some datasets could not be warmed", returncode=1)
