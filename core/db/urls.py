"""DATABASE_URL, with libpq's multi-host form, to a Django ``DATABASES`` entry.

dj-database-url parses one host only; libpq (and psycopg 3, which re-implements the attempts in
Python) takes a list and connects to the first that answers and matches
``target_session_attrs``. That is how the app follows a promoted standby without a restart
(docs/failover.md)::

    DATABASE_URL=postgres://app@db-a:5432,db-b:5432/myhibachi?target_session_attrs=read-write
    DATABASE_REPLICA_URLS=postgres://app@db-b:5432,db-a:5432/myhibachi?target_session_attrs=prefer-standby

Query parameters become ``OPTIONS`` (psycopg connection parameters), as dj-database-url does.
Django hands ``HOST`` and ``PORT`` to psycopg as they are, so the comma lists reach libpq.
"""

from __future__ import annotations

import re
from typing import Any

import dj_database_url

# scheme://[userinfo@]hostlist[/path][?query]; the host list is everything between "@" (or
# "//") and the first "/" or "?".
_URL = re.compile(r"^(?P<head>[a-z0-9+.-]+://(?:[^@/?]*@)?)(?P<hosts>[^/?]*)(?P<tail>.*)$", re.I)
DEFAULT_PORT = "5432"
# psycopg 3's own default: a statement is prepared at its sixth run on a connection (a one-off
# query is not worth a server-side statement); it keeps the 100 most recently used.
PREPARE_THRESHOLD = 5
# Between URLs in DATABASE_REPLICA_URLS: whitespace, ";", or a comma that starts a new URL (a
# multi-host URL has commas of its own).
_URL_SEPARATOR = re.compile(r"[\s;]+|,(?=\s*[a-z][a-z0-9+.-]*://)", re.I)


def split_urls(text: str | None) -> list[str]:
    """The URLs of a list variable such as ``DATABASE_REPLICA_URLS``, in order."""
    return [url for url in _URL_SEPARATOR.split(text or "") if url.strip()]


def split_hosts(url: str) -> tuple[str, list[tuple[str, str]]]:
    """``(url with only the first host, [(host, port), ...])``; one pair for a plain URL."""
    match = _URL.match(url)
    if match is None or "," not in match["hosts"]:
        return url, []
    pairs = []
    for part in match["hosts"].split(","):
        host, _, port = part.strip().rpartition(":") if ":" in part else (part.strip(), "", "")
        pairs.append((host, port or DEFAULT_PORT))
    first_host, first_port = pairs[0]
    return f"{match['head']}{first_host}:{first_port}{match['tail']}", pairs


def database_config(
    url: str,
    *,
    conn_max_age: int,
    conn_health_checks: bool = True,
    transaction_pooling: bool = False,
    prepared_statements: bool = False,
) -> dict[str, Any]:
    """The ``DATABASES`` entry for ``url`` (one host or ``host1:port1,host2:port2``).

    ``transaction_pooling``: the URL points at PgBouncer in transaction mode, where consecutive
    transactions of one client connection may run on different server connections. Nothing
    may then outlive a transaction on the server: no server-side cursors (a named cursor lives
    until closed, across transactions) and no prepared statements (psycopg 3 prepares a query
    it saw ``prepare_threshold`` times; PgBouncer 1.18 does not track them). See
    docs/pooling.md.

    ``prepared_statements`` (PostgreSQL, not behind a transaction pooler): parameters bound on
    the server and a statement run ``PREPARE_THRESHOLD`` times on a connection prepared there,
    so that its parsing and planning are not paid again at every request. Django's default
    binds parameters on the client, which cannot prepare. See docs/booking-path.md.
    """
    single, hosts = split_hosts(url)
    config: dict[str, Any] = dict(
        dj_database_url.parse(
            single, conn_max_age=conn_max_age, conn_health_checks=conn_health_checks
        )
    )
    if hosts:
        config["HOST"] = ",".join(host for host, _ in hosts)
        config["PORT"] = ",".join(port for _, port in hosts)
    if transaction_pooling:
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
        config["OPTIONS"] = {**config.get("OPTIONS", {}), "prepare_threshold": None}
    elif prepared_statements and "postgresql" in config["ENGINE"]:
        config["OPTIONS"] = {
            **config.get("OPTIONS", {}),
            "server_side_binding": True,
            "prepare_threshold": PREPARE_THRESHOLD,
        }
    return config
