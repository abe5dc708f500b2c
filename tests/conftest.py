"""Fixtures shared by the whole suite.

The suite runs on SQLite by default and on PostgreSQL when ``CEPING_TEST_DATABASE_URL`` is
set (``run.sh test`` runs both). The schema always comes from the Alembic migrations: on
SQLite a migrated template file is copied for each test; on PostgreSQL each test session
migrates a schema of its own (so two runs on one database cannot collide) and every table is
truncated after each test.

If PostgreSQL is asked for but unreachable, the run fails under ``CI=true`` and is skipped
with a clear message elsewhere.
"""

from __future__ import annotations

import os
import shutil
from datetime import date

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from app.config import TestConfig, normalize_url
from app.extensions import db

PG_URL = os.environ.get("CEPING_TEST_DATABASE_URL", "").strip()
IS_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _normalized_pg_url() -> str:
    return normalize_url(PG_URL)


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + _normalized_pg_url() if PG_URL else 'SQLite (a migrated file per test)'}"


PG_SCHEMA = f"ceping_test_{os.getpid()}"


def _make_config(url: str, instance: str) -> type[TestConfig]:
    class _Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url
        if url.startswith("postgresql"):
            SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {"options": f"-csearch_path={PG_SCHEMA}"}}

    os.environ["CEPING_INSTANCE_PATH"] = instance
    return _Config


def _migrate(url: str, instance: str) -> None:
    from flask_migrate import upgrade

    app = create_app(_make_config(url, instance))
    with app.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Migrate once: a template SQLite file, or the PostgreSQL test database itself."""
    instance = str(tmp_path_factory.mktemp("instance"))
    if PG_URL:
        url = _normalized_pg_url()
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
                conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
        except Exception as error:  # noqa: BLE001
            engine.dispose()
            message = f"PostgreSQL at {url} is unreachable: {error}"
            if IS_CI:
                pytest.exit(message + " (CI=true: PostgreSQL tests must run)", returncode=1)
            pytest.skip(message + " — PostgreSQL tests skipped on this machine")
        _migrate(url, instance)
        yield url
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        engine.dispose()
        return
    path = os.path.join(instance, "template.sqlite3")
    _migrate("sqlite:///" + path, instance)
    yield path


def _truncate_all() -> None:
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def app(database_template, tmp_path):
    instance = str(tmp_path / "instance")
    os.makedirs(instance, exist_ok=True)
    if PG_URL:
        url = database_template
    else:
        path = str(tmp_path / "test.sqlite3")
        shutil.copyfile(database_template, path)
        url = "sqlite:///" + path
    app = create_app(_make_config(url, instance))
    with app.app_context():
        yield app
        db.session.remove()
        if PG_URL:
            _truncate_all()
        db.engine.dispose()


@pytest.fixture
def is_postgres(app) -> bool:
    return db.engine.dialect.name == "postgresql"


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def organizer(app):
    from app.models import Organizer

    user = Organizer(username="kaohe")
    user.set_password("correct horse")
    db.session.add(user)
    db.session.commit()
    return user


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, username="kaohe", password="correct horse"):
        page = self._client.get("/login")
        token = csrf_token(page.get_data(as_text=True))
        return self._client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def csrf_token(html: str) -> str:
    import re

    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def auth(client, organizer):
    actions = AuthActions(client)
    actions.login()
    return actions


def meeting_definition(**overrides) -> dict:
    """A small but complete meeting: 3 categories (30/40/30), 2 units × (team + 2 leaders),
    one round over all targets."""
    data = {
        "title": "2026年度领导班子和领导干部民主测评大会",
        "date": date(2026, 12, 1).isoformat(),
        "place": "区行政中心第一会议室",
        "expected": 30,
        "categories": [
            {"code": "A", "name": "领导班子成员", "weight": 30},
            {"code": "B", "name": "中层干部", "weight": 40},
            {"code": "C", "name": "一般干部·服务对象", "weight": 30},
        ],
        "targets": [
            {"kind": "team", "unit": "区发改局", "name": "", "title": "", "principal": True},
            {"kind": "person", "unit": "区发改局", "name": "张三", "title": "局长", "principal": True},
            {"kind": "person", "unit": "区发改局", "name": "李四", "title": "副局长", "principal": False},
            {"kind": "team", "unit": "区财政局", "name": "", "title": "", "principal": True},
            {"kind": "person", "unit": "区财政局", "name": "王五", "title": "局长", "principal": True},
            {"kind": "person", "unit": "区财政局", "name": "赵六", "title": "副局长", "principal": False},
        ],
        "rounds": [{"title": "民主测评", "targets": "all"}],
    }
    data.update(overrides)
    return data


@pytest.fixture
def make_meeting(app):
    """``make_meeting(slips={"A": 10, ...}, open=True, **definition_overrides)`` → meeting.

    Slips default to 10 per category, enough for the default quorum of 应到 30.
    """
    from app.services import meetings, slips as slip_service

    def make(*, slips: dict[str, int] | None = None, open: bool = False, **overrides):
        meeting = meetings.import_definition(meeting_definition(**overrides), "test")
        counts = slips if slips is not None else {c.code: 10 for c in meeting.categories}
        for category in meeting.categories:
            if counts.get(category.code):
                slip_service.issue(meeting, category, counts[category.code], "test")
        if open:
            meetings.open_round(meeting.rounds[0], "test")
        return meeting

    return make


@pytest.fixture
def codes_of(app):
    """``codes_of(meeting, category=None)`` → the canonical codes of its usable slips."""
    from sqlalchemy import select

    from app.models import Slip, VoterCategory
    from app.services.slips import code_of

    def get(meeting, category: str | None = None) -> list[str]:
        query = select(Slip).where(Slip.meeting_id == meeting.id, Slip.voided_dt.is_(None)).order_by(Slip.id)
        if category:
            query = query.join(VoterCategory).where(VoterCategory.code == category)
        return [code_of(s) for s in db.session.scalars(query)]

    return get


def follow_slip_job(client, start_url: str, timeout: float = 120.0):
    """Start the slip sheet job at ``start_url`` (…/slips.pdf), wait for it as its page's
    script does (polling its state), and return ``(download response, job page URL, every
    ``done`` value seen)``. Fails when the job fails or outlasts ``timeout`` seconds.
    """
    import time
    from urllib.parse import urlparse

    started = client.get(start_url)
    assert started.status_code == 303, (started.status_code, started.get_data(as_text=True)[:300])
    page_url = urlparse(started.headers["Location"]).path
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        state = client.get(page_url + "/state").get_json()
        seen.append(state["done"])
        if state["state"] != "running":
            break
        assert time.monotonic() < deadline, f"the slip sheet job is still running after {timeout} s: {state}"
        time.sleep(0.05)
    assert state["state"] == "done", state
    return client.get(page_url + "/download"), page_url, seen


@pytest.fixture
def make_selection(make_meeting):
    """``make_selection(units, seats=1, group="部门组")`` → ``(meeting, round)``: a meeting
    with those units (scores falling in the given order) and a draft 差额票决 round among them."""
    from app.services import selection, units as unit_service

    def make(names: list[str], seats: int = 1, group: str = "部门组"):
        meeting = make_meeting()
        unit_service.import_units(
            meeting,
            [{"name": n, "group": group, "target_score": 95 - i, "vetoed": False, "staff": 10} for i, n in enumerate(names)],
            "test",
        )
        return meeting, selection.create_selection_round(meeting, group, list(names), "test", seats=seats)

    return make
