"""Helpers for the web tests: a logged-in organizer client that adds the CSRF token, a dump
of the whole database (to prove a refused request changed nothing), and staged meetings.

Note: the ``app`` fixture keeps one application context open for the whole test, so test
code and requests share ``db.session`` (and ``g``). Use one organizer client per test.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from tests.conftest import csrf_token

EXTERNAL_URL = re.compile(r"""\b(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def db_state() -> dict[str, list[str]]:
    """Every row of every table, as sorted text: equal before and after ⇔ nothing changed."""
    db.session.rollback()  # read what is committed, with a fresh snapshot
    state = {}
    for table in db.metadata.sorted_tables:
        state[table.name] = sorted(repr(tuple(row)) for row in db.session.execute(select(table)).all())
    db.session.rollback()
    return state


def count(model) -> int:
    db.session.rollback()  # a fresh snapshot (SQLite WAL readers keep the old one)
    return db.session.scalar(select(func.count()).select_from(model))


class OrganizerClient:
    """The ``client`` after log-in; ``post`` adds a valid CSRF token unless told not to."""

    def __init__(self, client):
        self.client = client

    def token(self) -> str:
        return csrf_token(self.client.get("/organizer/").get_data(as_text=True))

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, data=None, *, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.token()
        return self.client.post(url, data=data, **kw)


@pytest.fixture
def org(client, auth):
    return OrganizerClient(client)


@pytest.fixture
def staged(make_meeting):
    """Two meetings: ``draft`` (every round a draft, 10 slips per category) and ``rounds``,
    whose three rounds are draft / open / closed (10 slips per category, quorum met)."""
    from app.services import meetings

    draft = make_meeting()
    three = [
        {"title": "第一轮", "targets": "all"},
        {"title": "第二轮", "targets": "team"},
        {"title": "第三轮", "targets": "person"},
    ]
    staged_meeting = make_meeting(rounds=three, title="分轮次测评会议")
    r_draft, r_open, r_closed = staged_meeting.rounds
    meetings.open_round(r_closed, "test")
    meetings.close_round(r_closed, "test")
    meetings.open_round(r_open, "test")
    return {"draft": draft, "rounds": staged_meeting, "r_draft": r_draft.id, "r_open": r_open.id, "r_closed": r_closed.id}


@pytest.fixture
def cookieless(app):
    """A client that keeps no cookies: a phone in WeChat with cookies off, or a script."""
    return app.test_client(use_cookies=False)


@pytest.fixture
def opened(make_meeting, codes_of):
    """``(meeting, its open round, one unused code of category B)``."""
    meeting = make_meeting(open=True)
    return meeting, meeting.rounds[0], codes_of(meeting, "B")[0]
