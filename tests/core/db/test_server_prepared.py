"""Prepared statements on PostgreSQL (``DATABASE_PREPARED_STATEMENTS``, core/db/urls.py): a
statement a connection runs often is parsed and planned once, not at every request."""

from __future__ import annotations

import pytest
from django.db import connections

from bookings.models import Package
from core.db.urls import PREPARE_THRESHOLD

pytestmark = [pytest.mark.servers, pytest.mark.django_db]


def prepared_statements(alias: str) -> list[str]:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_a_query_the_connection_runs_often_is_prepared_on_the_server():
    alias = Package.objects.filter(pk=0).db  # where the router sends the reads
    assert connections[alias].vendor == "postgresql"
    before = [s for s in prepared_statements(alias) if "bookings_package" in s]
    for pk in range(PREPARE_THRESHOLD + 1):
        assert list(Package.objects.filter(pk=pk).values_list("name", flat=True)) == []
    prepared = [s for s in prepared_statements(alias) if "bookings_package" in s]
    # bound on the server ($1), not as a literal the client wrote into the SQL
    assert len(prepared) == len(before) + 1 and "$1" in prepared[-1]
