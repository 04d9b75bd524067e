"""The benchmark's inputs, made inside the stack's database (run with the stack's environment).

    python -m bench.load.fixtures prepare OUT_DIR --customers 500
    python -m bench.load.fixtures grow-posts --to 1000000

``prepare`` gives demo customers API tokens, raises every weekly slot's capacity (booking
creation must measure the write path, not a calendar that fills up in seconds), and writes the
request lists the Lua scripts replay (bench/load/lua/common.lua: METHOD, PATH, TOKEN, BODY a line)
plus ``fixtures.json`` (data volumes, the deep cursor's depth). ``grow-posts`` copies published
posts with SQL until the table holds ``--to`` posts, for the deep-cursor check at 1M posts.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import random
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Every weekly slot's capacity during a benchmark (the column is a smallint).
BENCH_SLOT_CAPACITY = 30000
# Requests a list holds before it repeats (lists are replayed round robin).
LIST_LENGTH = 5000
# How deep the deep page is: this share of all published posts, newest first.
DEEP_PAGE_SHARE = 0.9
SEARCH_WORDS = 24
AVAILABILITY_WINDOWS = 7  # 30-day windows starting on each of the next few days


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    import django

    django.setup()


def write_list(path: Path, lines: Sequence[tuple[str, str, str, str]]) -> None:
    """One request a line: METHOD, PATH, TOKEN, BODY separated by tabs."""
    for line in lines:
        if any("\t" in part or "\n" in part for part in line):
            raise ValueError(f"a request field holds a tab or a newline: {line!r}")
    path.write_text("".join("\t".join(line) + "\n" for line in lines))


Line = tuple[str, str, str, str]
POSTS = "/api/v1/blog/posts/"
# What a day's traffic reads, by weight: the blog's pages first, then the booking funnel.
MIXED_READ_WEIGHTS = {
    "featured": 20,
    "post_list_first": 15,
    "post_detail": 25,
    "search": 5,
    "review_stats": 10,
    "availability": 15,
    "my_bookings": 10,
}
# The share of mixed.lua's requests that are booking creations (BENCH_WRITE_SHARE).
MIXED_WRITE_SHARE = 0.1


@dataclasses.dataclass
class _Seeded:
    """What the request lists are drawn from, read once from the primary."""

    tokens: list[str]
    customer_ids: dict[str, int]  # each token's customer: the floors name customers by id
    slugs: list[str]
    titles: list[str]
    deep_index: int
    deep_position: Any  # the deep page's published_at, None without published posts
    packages: list[Any]
    zones: list[Any]
    schedule: dict[int, list[datetime.time]]
    volumes: dict[str, int]


def prepare(out_dir: Path, *, customers: int, seed: int = 8) -> dict[str, Any]:
    """Tokens, slot capacity and every request list; return what ``fixtures.json`` holds."""
    from django.utils import timezone

    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    seeded = _read_seeded(_tokens_and_capacity(customers))
    today = timezone.localdate()
    lists = _anonymous_reads(seeded, rng, today)
    lists.update(_customer_requests(seeded, rng, today))
    lists.update(floor_requests(lists, seeded.customer_ids))
    lists["mixed_reads"] = _mixed_reads(lists, rng)
    for name, lines in lists.items():
        if lines:
            write_list(out_dir / f"{name}.txt", lines)
    fixtures = {
        "volumes": seeded.volumes,
        "deep_page": {"index": seeded.deep_index, "share": DEEP_PAGE_SHARE},
        "lists": {name: len(lines) for name, lines in lists.items()},
    }
    (out_dir / "fixtures.json").write_text(json.dumps(fixtures, indent=2))
    return fixtures


def _tokens_and_capacity(customers: int) -> dict[str, int]:
    """API tokens for the first ``customers`` demo customers, each with its customer's id;
    every slot roomy."""
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from bookings.demo_data import DEMO_EMAIL_DOMAIN
    from bookings.models import TimeSlot
    from core.cache import invalidate_everything
    from core.db import use_primary

    with use_primary(), transaction.atomic():
        users = list(
            User.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").order_by("pk")[:customers]
        )
        have = set(Token.objects.filter(user__in=users).values_list("user_id", flat=True))
        Token.objects.bulk_create(
            [Token(key=Token.generate_key(), user=user) for user in users if user.pk not in have]
        )
        customer_ids = dict(Token.objects.filter(user__in=users).values_list("key", "user_id"))
        TimeSlot.objects.update(capacity=BENCH_SLOT_CAPACITY)
    # Bulk updates send no signals: cached availability must forget the old capacities.
    invalidate_everything()
    return customer_ids


def _read_seeded(customer_ids: dict[str, int]) -> _Seeded:
    from accounts.models import User
    from blog.models import Post
    from blog.selectors import NEWEST_FIRST
    from bookings.demo_data import DEMO_EMAIL_DOMAIN
    from bookings.models import Booking, Package, ServiceZone, TimeSlot
    from core.db import use_primary
    from reviews.models import Review

    with use_primary():
        published = Post.objects.filter(status=Post.Status.PUBLISHED)
        published_count = published.count()
        deep_index = int(published_count * DEEP_PAGE_SHARE)
        schedule: dict[int, list[datetime.time]] = {}
        for weekday, start_time in TimeSlot.objects.values_list("weekday", "start_time"):
            schedule.setdefault(weekday, []).append(start_time)
        return _Seeded(
            tokens=list(customer_ids),
            customer_ids=customer_ids,
            slugs=list(published.order_by("?").values_list("slug", flat=True)[:LIST_LENGTH]),
            titles=list(published.order_by("?").values_list("title", flat=True)[:500]),
            deep_index=deep_index,
            deep_position=(
                published.order_by(*NEWEST_FIRST).values_list("published_at", flat=True)[deep_index]
                if published_count
                else None
            ),
            packages=list(Package.objects.filter(is_active=True)),
            zones=list(ServiceZone.objects.filter(is_active=True)),
            schedule=schedule,
            volumes={
                "posts": Post.objects.count(),
                "published_posts": published_count,
                "bookings": Booking.objects.count(),
                "reviews": Review.objects.count(),
                "customers": User.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").count(),
                "customers_with_tokens": len(customer_ids),
            },
        )


def _anonymous_reads(
    seeded: _Seeded, rng: random.Random, today: datetime.date
) -> dict[str, list[Line]]:
    lists: dict[str, list[Line]] = {
        "featured": [("GET", f"{POSTS}featured/", "", "")],
        "post_list_first": [("GET", POSTS, "", "")],
        "post_detail": [("GET", f"{POSTS}{slug}/", "", "") for slug in seeded.slugs],
        "review_stats": [("GET", "/api/v1/reviews/stats/", "", "")],
        "minimal_json": [("GET", "/json", "", "")],
        "minimal_one_query": [("GET", f"/db/{slug}", "", "") for slug in seeded.slugs],
    }
    lists["post_list_deep"] = _deep_page(seeded.deep_position) or lists["post_list_first"]
    titles = seeded.titles
    words = sorted({w.lower() for t in titles for w in re.findall(r"[A-Za-z]{5,}", t)})
    rng.shuffle(words)
    lists["search"] = [("GET", f"{POSTS}?q={word}", "", "") for word in words[:SEARCH_WORDS]] or [
        ("GET", f"{POSTS}?q=hibachi", "", "")
    ]
    lists["availability"] = [
        ("GET", f"/api/v1/bookings/availability/?{window}", "", "")
        for window in _availability_windows(today)
    ]
    return lists


def _availability_windows(today: datetime.date) -> list[str]:
    """The 30-day windows availability is asked for, as query strings."""
    return [
        f"start={today + datetime.timedelta(days=offset)}"
        f"&end={today + datetime.timedelta(days=offset + 29)}"
        for offset in range(AVAILABILITY_WINDOWS)
    ]


def _deep_page(position: Any) -> list[Line]:
    """The post list's page that far down, or none without published posts."""
    from rest_framework.pagination import Cursor

    from blog.api.pagination import PublishedPostCursorPagination

    if position is None:
        return []
    pager = PublishedPostCursorPagination()
    pager.base_url = f"http://bench{POSTS}"
    # The cursor the API's own "next" link carries at that depth (DRF encodes it).
    url = pager.encode_cursor(Cursor(offset=0, reverse=False, position=str(position)))
    return [("GET", url.removeprefix("http://bench"), "", "")]


def _customer_requests(
    seeded: _Seeded, rng: random.Random, today: datetime.date
) -> dict[str, list[Line]]:
    tokens = seeded.tokens
    creates = [
        (
            "POST",
            "/api/v1/bookings/",
            rng.choice(tokens),
            _booking_body(rng, seeded.packages, seeded.zones, seeded.schedule, today),
        )
        for _ in range(LIST_LENGTH if tokens else 0)
    ]
    return {
        "my_bookings": [("GET", "/api/v1/bookings/", token, "") for token in tokens],
        "booking_create": creates,
    }


def floor_requests(
    lists: dict[str, list[Line]], customer_ids: dict[str, int]
) -> dict[str, list[Line]]:
    """The framework floors' lists (bench/minimal/urls.py), made from the app's own: the same
    bodies, customers and windows, so each floor does the same work as its endpoint. The
    token's place holds the customer's id, which the floors read from the same header. The
    ids are demo customers' rows of the primary both the app and the floor write to."""
    availability_prefix = "/api/v1/bookings/availability/?"
    return {
        "minimal_booking_create": [
            ("POST", "/bookings/", str(customer_ids[token]), body)
            for _, _, token, body in lists["booking_create"]
        ],
        "minimal_my_bookings": [
            ("GET", "/bookings/mine/", str(customer_ids[token]), "")
            for _, _, token, _ in lists["my_bookings"]
        ],
        "minimal_availability": [
            ("GET", f"/availability/?{path.removeprefix(availability_prefix)}", "", "")
            for _, path, _, _ in lists["availability"]
        ],
    }


def _mixed_reads(lists: dict[str, list[Line]], rng: random.Random) -> list[Line]:
    mixed_reads = []
    for name, weight in MIXED_READ_WEIGHTS.items():
        source = lists[name]
        mixed_reads.extend(rng.choice(source) for _ in range(weight * LIST_LENGTH // 100))
    rng.shuffle(mixed_reads)
    return mixed_reads


def _booking_body(
    rng: random.Random,
    packages: Sequence[Any],
    zones: Sequence[Any],
    schedule: dict[int, list[datetime.time]],
    today: datetime.date,
) -> str:
    """A valid booking request: a bookable date (past the minimum notice, within the year),
    a start time of that weekday's schedule, a party the package allows, a served postcode."""
    while True:
        event_date = today + datetime.timedelta(days=rng.randint(5, 300))
        times = schedule.get(event_date.weekday())
        if times:
            break
    package = rng.choice(packages)
    zone = rng.choice(zones)
    adults = rng.randint(package.min_guests, max(package.min_guests, package.max_guests - 2))
    children = rng.randint(0, min(2, package.max_guests - adults))
    body = {
        "package": package.pk,
        "event_date": event_date.isoformat(),
        "start_time": rng.choice(times).strftime("%H:%M"),
        "adults": adults,
        "children": children,
        "postcode": rng.choice(zone.postcode_prefixes).ljust(5, "1"),
        "address": f"{rng.randint(10, 9999)} Benchmark Way",
        "notes": "",
    }
    return json.dumps(body, separators=(",", ":"))


def grow_posts(*, to: int) -> int:
    """Copy published, non-featured posts (new slugs ``bench-NNNNNNN``, older publication
    times) until the table holds ``to`` posts; return how many were added. One INSERT ...
    SELECT per round on the primary: seeding a million posts through the ORM takes minutes."""
    from django.db import connections

    from blog.models import Post

    connection = connections["default"]
    added = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT count(*), coalesce(max(id), 0) FROM blog_post")
            count, max_id = cursor.fetchone()
            missing = to - count
            if missing <= 0:
                break
            columns = [
                field.column
                for field in Post._meta.concrete_fields
                if field.column not in ("id", "slug", "featured", "published_at", "created_at")
            ]
            listed = ", ".join(columns)
            selected = ", ".join(f"p.{column}" for column in columns)
            # Each copy is a day older than everything so far: the deep page lands among them.
            cursor.execute(
                f"""
                INSERT INTO blog_post (slug, featured, published_at, created_at, {listed})
                SELECT 'bench-' || lpad((%s + row_number() OVER ())::text, 9, '0'), false,
                       p.published_at - interval '3 years' * (1 + %s / 100000.0),
                       p.created_at - interval '3 years' * (1 + %s / 100000.0), {selected}
                FROM blog_post p
                WHERE p.status = 'published'
                LIMIT %s
                """,  # noqa: S608 - column names from the model, values as parameters
                [max_id, count, count, missing],
            )
            added += cursor.rowcount
        cursor.execute("ANALYZE blog_post")
    return added


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load.fixtures", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    prepare_parser = commands.add_parser("prepare", help="tokens, capacity, request lists")
    prepare_parser.add_argument("out_dir", type=Path)
    prepare_parser.add_argument("--customers", type=int, default=500)
    grow_parser = commands.add_parser("grow-posts", help="copy posts up to --to")
    grow_parser.add_argument("--to", type=int, required=True)
    args = parser.parse_args(argv)
    _setup_django()
    if args.command == "prepare":
        print(json.dumps(prepare(args.out_dir, customers=args.customers)))
    else:
        print(json.dumps({"added": grow_posts(to=args.to)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
