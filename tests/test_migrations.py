"""Migrations keep the data: upgrading a meeting in progress loses no round, slip or ballot
(R25). SQLite rebuilds tables in batch mode, where a DROP with foreign keys on would cascade."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from tests.conftest import PG_URL, _make_config, _normalized_pg_url

FIRST = "0ea8db09e2a7"
ROWS = [
    "INSERT INTO meeting (id, title, place, expected_count, value_0, value_1, value_2, value_3, abstain_as_zero, quorum_num, quorum_den, created_dt) "
    "VALUES (1, '测评', '', 3, 100, 80, 60, 40, false, 2, 3, '2026-11-21 08:00:00')",
    "INSERT INTO voter_category (id, meeting_id, code, name, weight, position) VALUES (1, 1, 'A', '甲', 100, 0)",
    "INSERT INTO target (id, meeting_id, kind, unit, name, title, is_principal, position) VALUES (1, 1, 'person', '局', '张三', '', false, 0)",
    "INSERT INTO round (id, meeting_id, kind, title, position, cast_count, opened_dt) VALUES (1, 1, 'evaluation', '第一轮', 0, 1, '2026-11-21 08:00:00')",
    "INSERT INTO round_target (round_id, target_id, position) VALUES (1, 1, 0)",
    "INSERT INTO slip (id, meeting_id, category_id, nonce, code_digest, issued_dt, void_reason) VALUES (1, 1, 1, :nonce, 'd1', '2026-11-21 08:00:00', '')",
    "INSERT INTO slip_use (slip_id, round_id) VALUES (1, 1)",
    "INSERT INTO ballot (id, round_id, category_id, is_valid, is_paper) VALUES ('b1', 1, 1, true, false)",
    "INSERT INTO ballot_mark (ballot_id, target_id, level) VALUES ('b1', 1, 0)",
]
TABLES = ["meeting", "voter_category", "target", "round", "round_target", "slip", "slip_use", "ballot", "ballot_mark"]


@pytest.fixture
def fresh_database(tmp_path):
    """An empty database of its own: a SQLite file, or a PostgreSQL schema."""
    if not PG_URL:
        yield "sqlite:///" + str(tmp_path / "m.sqlite3"), None
        return
    schema = f"ceping_migrate_{os.getpid()}"
    engine = create_engine(_normalized_pg_url())
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield _normalized_pg_url(), schema
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


def _app_on(fresh_database, tmp_path):
    """The application on the empty database of ``fresh_database``, nothing migrated yet."""
    url, schema = fresh_database
    config = _make_config(url, str(tmp_path))
    if schema:
        config.SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {"options": f"-csearch_path={schema}"}}
    return create_app(config)


def test_upgrading_a_meeting_in_progress_keeps_every_row(fresh_database, tmp_path):
    from flask_migrate import upgrade

    app = _app_on(fresh_database, tmp_path)
    with app.app_context():
        upgrade(revision=FIRST)
        with db.engine.begin() as conn:
            for statement in ROWS:
                conn.execute(text(statement), {"nonce": b"n" * 16} if ":nonce" in statement else {})
        upgrade()
        with db.engine.connect() as conn:
            counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}
            token, mode = conn.execute(text("SELECT m.display_token, r.result_mode FROM meeting m JOIN round r ON r.meeting_id = m.id")).one()
            principal, order = conn.execute(text("SELECT m.principal_target_pct, r.candidate_order FROM meeting m JOIN round r ON r.meeting_id = m.id")).one()
            if db.engine.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.session.remove()
        db.engine.dispose()
    assert counts == {t: 1 for t in TABLES}
    assert len(token) >= 24 and mode == "hidden"
    assert (principal, order) == (60, "score")


def test_migrations_build_the_schema_the_models_describe(fresh_database, tmp_path):
    """The models and the migrations agree: nothing autogenerate would add or drop (a model
    change without its migration, or the reverse, fails here)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from flask_migrate import upgrade

    app = _app_on(fresh_database, tmp_path)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), db.metadata)
        db.session.remove()
        db.engine.dispose()
    assert differences == []
