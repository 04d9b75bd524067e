"""Querysets compiled to SQL once, for the hot queries whose ORM compilation costs more than
their execution.

Building and compiling a queryset is pure Python, repeated on every call: the booking path's
capacity query (a three-way ``UNION ALL``) took ~1.7 ms to compile and ~0.04 ms to run on
SQLite. A ``PreparedQuery`` compiles its queryset once per database connection, with
``Param`` placeholders where the call's values go, and then only binds the values, runs the
SQL and converts the rows as the ORM would (dates and times read back from SQLite's text)::

    weekly = PreparedQuery(
        lambda: TimeSlot.objects.filter(start_time=Param("at", TimeField()))
        .values_list("weekday", "capacity")
    )
    rows = weekly.rows(at=datetime.time(11, 30))

The database is the one the router picks for a read of the queryset's model, as evaluating
the queryset would (the primary inside a transaction or under ``use_primary()``); the SQL
goes through the connection's cursor, so query metrics, failover and
``CaptureQueriesContext`` see it like any other.
"""

import functools
import weakref
from collections.abc import Callable
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Expression, Field, QuerySet
from django.db.models.sql.compiler import SQLCompiler

Row = tuple[Any, ...] | list[Any]
# A row position -> (converters, the expression they convert), as the ORM's compiler keeps them.
_Converters = dict[int, tuple[list[Callable[..., Any]], Any]]


def columns_of(model: Any) -> list[str]:
    """The model's concrete columns in ``from_db`` order: select them (``values_list``) to
    build instances from a ``PreparedQuery``'s rows with ``model.from_db``."""
    return [field.attname for field in model._meta.concrete_fields]


class _NoMatch(Exception):
    """A ``Param``'s value cannot be stored in its column, so no row equals it."""


class Param(Expression):
    """A named value of a ``PreparedQuery``, compared for equality: compiles to a placeholder,
    bound at each call the way a literal of ``output_field`` would be (``get_db_prep_value``).
    An integer outside the column's range matches no row (as the ORM's exact lookup answers),
    and is never sent: bound on the server, PostgreSQL could not even receive it."""

    def __init__(self, name: str, output_field: "Field[Any, Any]") -> None:
        super().__init__(output_field=output_field)
        self.name = name

    def as_sql(  # type: ignore[override]  # the parameter is this Param, bound by rows()
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, list[Any]]:
        return "%s", [self]

    def bind(self, values: dict[str, Any], connection: BaseDatabaseWrapper) -> Any:
        value = self.output_field.get_db_prep_value(values[self.name], connection)
        if isinstance(value, int) and not isinstance(value, bool):
            internal_type = self.output_field.get_internal_type()
            low, high = connection.ops.integer_field_range(internal_type)
            if (low is not None and value < low) or (high is not None and value > high):
                raise _NoMatch(self.name)
        return value


class PreparedQuery:
    """``build()``'s queryset, compiled once per database connection (a thread's connection to
    one alias: the compiler and its converters belong to it); ``rows(**values)`` runs it.
    ``build`` is called on first use, so a module can declare its queries at import time even
    when they name other apps' expressions."""

    def __init__(self, build: Callable[[], QuerySet[Any, Any]]) -> None:
        self._build = build
        self._compiled: weakref.WeakKeyDictionary[
            BaseDatabaseWrapper, tuple[str, list[Any], _Converters]
        ] = weakref.WeakKeyDictionary()

    @functools.cached_property
    def _queryset(self) -> QuerySet[Any, Any]:
        return self._build()

    def database(self) -> str:
        """The alias a read of the queryset's model goes to now: ``rows()``'s default (model
        instances made from the rows name it, so pass the same one as ``using``)."""
        return router.db_for_read(self._queryset.model)

    def rows(self, *, using: str | None = None, **values: Any) -> list[Row]:
        connection = connections[using or self.database()]
        sql, params, converters = self._compiled.get(connection) or self._compile(connection)
        try:
            bound = [p.bind(values, connection) if isinstance(p, Param) else p for p in params]
        except _NoMatch:
            return []
        with connection.cursor() as cursor:
            cursor.execute(sql, bound)
            rows: list[Row] = cursor.fetchall()
        if not converters:
            return rows
        converted: list[Row] = []
        for row in map(list, rows):
            for position, (functions, expression) in converters.items():
                for convert in functions:
                    row[position] = convert(row[position], expression, connection)
            converted.append(row)
        return converted

    def _compile(self, connection: BaseDatabaseWrapper) -> tuple[str, list[Any], _Converters]:
        compiler = self._queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        selected = [expression for expression, _sql, _alias in compiler.select]
        converters = compiler.get_converters(selected[: compiler.col_count])
        self._compiled[connection] = (sql, list(params), converters)
        return self._compiled[connection]
