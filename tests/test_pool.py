"""Stale pooled connections (app/pool.py): a connection unused for a while is pinged before
use and replaced if the database cut it (a restart); one in steady use is not pinged, which
spares PostgreSQL a round trip per cast (B1)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.pool import ping_when_idle
from tests.conftest import PG_URL, _normalized_pg_url


def _count_pings(monkeypatch, engine) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(1) or real(connection))
    return pings


def _select_one(engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def test_only_a_connection_left_idle_is_pinged(monkeypatch, tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/pool.sqlite3", pool_size=1, max_overflow=0)  # one connection, reused
    ping_when_idle(engine, idle_seconds=0.5)
    pings = _count_pings(monkeypatch, engine)
    for _ in range(3):
        _select_one(engine)
    assert pings == []  # new, then back in use at once
    time.sleep(0.6)
    _select_one(engine)
    assert pings == [1]
    _select_one(engine)
    assert pings == [1]
    engine.dispose()


def _terminate(pid: int) -> None:
    killer = create_engine(_normalized_pg_url(), isolation_level="AUTOCOMMIT")
    with killer.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    killer.dispose()
    time.sleep(0.2)  # the backend exits


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL: a server process to cut the connection")
def test_the_app_replaces_a_connection_cut_while_idle(app):
    db.engine.dispose()
    before = _backend_pid(db.engine)  # the pool's one connection, now idle in it
    _terminate(before)
    time.sleep(app.config["DB_PING_IDLE_SECONDS"] + 0.1)
    assert db.session.execute(text("SELECT pg_backend_pid()")).scalar() != before  # no error: replaced


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL: a server process to cut the connection")
def test_without_the_ping_a_cut_connection_fails_its_statement():
    """The counterpart: what the ping is there to prevent (an error page after a restart)."""
    engine = create_engine(_normalized_pg_url(), pool_size=1, max_overflow=0)
    ping_when_idle(engine, idle_seconds=3600)
    _terminate(_backend_pid(engine))
    with pytest.raises(OperationalError):
        _select_one(engine)
    _select_one(engine)  # SQLAlchemy invalidated the pool: the next checkout connects afresh
    engine.dispose()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL: a server process to cut the connection")
def test_one_dead_connection_replaces_the_whole_pool():
    """A connection cut while idle means the database restarted: the others were cut too, so
    they are all replaced, as ``pool_pre_ping`` would (none of them fails a request)."""
    engine = create_engine(_normalized_pg_url(), pool_size=2, max_overflow=0, pool_use_lifo=True)
    ping_when_idle(engine, idle_seconds=0)
    first, second = engine.connect(), engine.connect()
    pids = [conn.execute(text("SELECT pg_backend_pid()")).scalar() for conn in (first, second)]
    first.close()
    second.close()  # the next checkout takes this one: last in, first out
    _terminate(pids[1])
    with engine.connect() as a, engine.connect() as b:
        now = {conn.execute(text("SELECT pg_backend_pid()")).scalar() for conn in (a, b)}
    assert not now & set(pids)
    engine.dispose()
