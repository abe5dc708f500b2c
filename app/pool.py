"""Stale connections after a database restart, found without a round trip per request.

SQLAlchemy's ``pool_pre_ping`` sends the database an empty statement on every checkout. In a
burst of ballots a connection is checked out again within milliseconds of its last use, and
that ping cost PostgreSQL one round trip per cast (about 6% of a cast, B1 in
docs/performance.md). The pool here pings only a connection that has sat unused for a while,
which is when a restart can have cut it (SQLAlchemy's checkout-event recipe). A dead one
means the database went away: as with ``pool_pre_ping``, every pooled connection is then
replaced (``InvalidatePoolError``), and the request gets a fresh one before it sees anything.

A connection cut while in steady use (a restart within the second) fails its one statement;
SQLAlchemy then invalidates the whole pool too. The pool hands out the most recently used
connection first (``pool_use_lifo`` in create_app), so in a quiet spell only the connections
really left idle are pinged.
"""

from __future__ import annotations

import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InvalidatePoolError

#: A connection unused for longer than this is pinged at checkout.
IDLE_PING_SECONDS = 1.0


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy):
        since = record.info.pop("checked_in", None)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # just connected, or in steady use
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            raise InvalidatePoolError("stale pooled connection") from error
