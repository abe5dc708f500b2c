"""Many rows in one statement, on SQLite and PostgreSQL alike (issue "Proof under load", B1).

A burst of ballots is written in batches (services.group_commit): a batch of 32 ballots of
30 targets is a thousand rows. Sent row by row, as psycopg's ``executemany`` does, that is a
thousand statements for PostgreSQL to run; and SQLAlchemy does not cache the compiled form
of ``INSERT … ON CONFLICT``, so building one per batch cost more than running it. Here each
kind of insert is one fixed SQL text, made once per process, and the rows travel as one JSON
value, which both databases take apart in C (``json.dumps`` is C too; psycopg's array
adaptation, tried first, is Python and cost a tenth of a cast):

- PostgreSQL: ``INSERT INTO t (a, b) SELECT a, b FROM json_populate_recordset(CAST(NULL AS t), :rows)``,
  the rows as objects typed by the table's own row type;
- SQLite: ``INSERT INTO t (a, b) SELECT json_extract(value, '$[0]'), … FROM json_each(:rows)``,
  the rows as arrays (SQLite's JSON functions are built in since 3.38; Debian 12 has 3.40). A
  plain insert uses the driver's ``executemany`` instead, one prepared statement stepped in
  C, with the rows as tuples, which is faster still.

``skip_conflicts`` adds ``ON CONFLICT DO NOTHING`` and ``returning`` a ``RETURNING`` clause:
together they tell which rows a unique key let in.

Values go to the database as JSON, past SQLAlchemy's type processing: only ``int``, ``str``,
``bool`` and None are accepted (a Decimal, a date or an Enum would need converting first).
"""

from __future__ import annotations

import json

from sqlalchemy import Table, text

_STATEMENTS: dict[tuple, object] = {}


def insert_many(conn, table: Table, rows: list[dict], *, skip_conflicts: bool = False, returning: tuple[str, ...] = ()) -> list[tuple]:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in one statement.

    :return: the ``returning`` columns of the rows inserted (with ``skip_conflicts``, those
        no unique key refused), as tuples; empty without ``returning``.
    """
    if not rows:
        return []
    # The first row stands for all: a caller builds every row alike, and checking each value
    # of a thousand rows would put the check on the hot path of every batch.
    for value in rows[0].values():
        if value is not None and type(value) not in (int, str, bool):
            raise TypeError(f"insert_many takes int, str, bool or None, not {type(value).__name__}")
    columns = tuple(rows[0])
    dialect = conn.dialect
    if dialect.name == "sqlite" and not skip_conflicts and not returning:
        # The driver's executemany with plain tuples: SQLAlchemy's would process each row's
        # parameters in Python (a third of the cost of a batch).
        conn.exec_driver_sql(_plain_sqlite_insert(dialect, table, columns), [tuple(row[name] for name in columns) for row in rows])
        return []
    key = (dialect.name, table.name, columns, skip_conflicts, returning)
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = text(_sql(dialect, table, columns, skip_conflicts, returning))
    if dialect.name == "postgresql":
        params = {"rows": json.dumps(rows)}
    else:
        params = {"rows": json.dumps([[row[name] for name in columns] for row in rows])}
    result = conn.execute(statement, params)
    return [tuple(row) for row in result] if returning else []


def _plain_sqlite_insert(dialect, table: Table, columns: tuple[str, ...]) -> str:
    key = ("sqlite-plain", table.name, columns)
    sql = _STATEMENTS.get(key)
    if sql is None:
        quote = dialect.identifier_preparer.quote
        sql = _STATEMENTS[key] = (
            f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({', '.join(quote(c) for c in columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
    return sql


def _sql(dialect, table: Table, columns: tuple[str, ...], skip_conflicts: bool, returning: tuple[str, ...]) -> str:
    quote = dialect.identifier_preparer.quote
    name = dialect.identifier_preparer.format_table(table)
    names = ", ".join(quote(c) for c in columns)
    target = f"INSERT INTO {name} ({names})"
    if dialect.name == "postgresql":
        source = f"SELECT {names} FROM json_populate_recordset(CAST(NULL AS {name}), CAST(:rows AS json))"
    else:
        values = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(columns)))
        # "WHERE true": without it SQLite would read ON CONFLICT as the ON of a join.
        source = f"SELECT {values} FROM json_each(:rows) WHERE true"
    sql = f"{target} {source}"
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(quote(c) for c in returning)
    return sql


def dialect_insert(conn_or_engine, table: Table):
    """The INSERT of the connection's dialect, which has ``on_conflict_do_*`` (SQLite and
    PostgreSQL spell them alike; the generic INSERT has neither)."""
    if conn_or_engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_specific
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_specific
    return dialect_specific(table)
