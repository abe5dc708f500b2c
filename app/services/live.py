"""What the hall display, the organizer console and the phones follow in real time (R19, R24).

Events must cross gunicorn worker processes, so nothing is pushed in-process: a stream polls
``version()`` — two small queries — a few times a second and sends the new state only when
it changed. The state never contains a result unless the round is published, or the chair
chose 随投随显示 (live) for it: in hidden mode the display page, its polling endpoint and its
event stream carry turnout only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from ..extensions import db
from ..models import Meeting, Round, RoundState, Slip, SlipUse
from .results import RoundReport, round_report

if TYPE_CHECKING:  # pragma: no cover
    from .selection import SelectionReport


@dataclass(frozen=True)
class RoundTurnout:
    id: int
    title: str
    state: str
    state_label: str
    mode: str
    cast: int  # 已投 (收回)
    present: int  # 实到

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "state": self.state,
            "state_label": self.state_label,
            "mode": self.mode,
            "cast": self.cast,
            "present": self.present,
        }


@dataclass(frozen=True)
class HallState:
    meeting_id: int
    meeting_title: str
    version: str
    current: RoundTurnout | None
    rounds: tuple[RoundTurnout, ...]
    report: RoundReport | SelectionReport | None  # only when the current round's result may be shown
    rehearsal: bool = False  # 模拟测试: the display says so

    def event(self) -> dict:
        """What the event stream and the polling endpoint send: turnout, never results."""
        return {
            "version": self.version,
            "current": self.current.as_dict() if self.current else None,
            "rounds": [r.as_dict() for r in self.rounds],
            "has_result": self.report is not None,
            "rehearsal": self.rehearsal,
        }


def _issued(meeting_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Slip).where(Slip.meeting_id == meeting_id, Slip.voided_dt.is_(None)))


def _cast_count():
    """已投 (收回) of the round in the enclosing query: its ``slip_use`` rows, counted on their
    round index (R19: the same figure as the ballots, which are written in the same
    transaction)."""
    return select(func.count()).where(SlipUse.round_id == Round.id).correlate(Round).scalar_subquery()


def turnout(meeting_id: int) -> dict[int, int]:
    """Round id → ballots cast so far, for every round of the meeting."""
    return {round_id: n for round_id, n in db.session.execute(select(Round.id, _cast_count()).where(Round.meeting_id == meeting_id))}


def version(meeting_id: int) -> str:
    """A short digest that changes whenever anything the display shows may have changed:
    a round's state, mode or count, 实到, the slips handed out. Two queries, no ballots read."""
    rows = db.session.execute(
        select(
            Round.id, Round.opened_dt, Round.closed_dt, Round.published_dt, _cast_count(), Round.result_mode, Round.show_on_phones
        ).where(Round.meeting_id == meeting_id).order_by(Round.position, Round.id)
    ).all()
    found = db.session.execute(select(Meeting.present_count, Meeting.rehearsal).where(Meeting.id == meeting_id)).first()
    present, rehearsal = found if found is not None else (None, False)
    raw = repr((rows, present, rehearsal, _issued(meeting_id) if present is None else None))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def current_round(rounds: list[Round]) -> Round | None:
    """The round the hall is looking at: the open one; else the last one that was opened;
    else the first draft."""
    opened = [r for r in rounds if r.state is RoundState.OPEN]
    if opened:
        return opened[0]
    started = [r for r in rounds if r.opened_dt is not None]
    if started:
        return started[-1]
    return rounds[0] if rounds else None


def result_visible(round_: Round) -> bool:
    """R24: published, or 随投随显示 chosen and voting has begun."""
    if round_.state is RoundState.PUBLISHED:
        return True
    return round_.shows_live and round_.state in (RoundState.OPEN, RoundState.CLOSED)


def hall_state(meeting: Meeting) -> HallState:
    """The whole state of the hall, through the one results function when a result shows."""
    present = meeting.present_count if meeting.present_count is not None else _issued(meeting.id)
    rounds = list(meeting.rounds)
    cast = turnout(meeting.id)
    turnouts = tuple(
        RoundTurnout(r.id, r.title, r.state.value, r.state_label, r.result_mode, cast.get(r.id, 0), present) for r in rounds
    )
    current = current_round(rounds)
    report = None
    if current is not None and result_visible(current):
        if current.is_selection:
            from .selection import selection_report

            report = selection_report(current)
        else:
            report = round_report(current)
    return HallState(
        meeting_id=meeting.id,
        meeting_title=meeting.title,
        version=version(meeting.id),
        current=next((t for t in turnouts if current is not None and t.id == current.id), None),
        rounds=turnouts,
        report=report,
        rehearsal=meeting.rehearsal,
    )


def event_stream(app, meeting_id: int, *, interval: float, max_seconds: float, keepalive: float = 15.0):
    """Server-Sent Events of a meeting's hall state (``event: state``, JSON turnout).

    Polls ``version()`` every ``interval`` seconds and sends the state when it changed, a
    comment line as keep-alive otherwise. Ends after ``max_seconds`` so that a stream never
    holds a worker thread for ever; the browser's EventSource reconnects by itself (``retry``)
    and receives the current state at once.

    Each poll runs in an application context of its own, so it has a session of its own that
    is closed at once: an idle stream holds no connection and no snapshot, and it never
    touches the session of the request that started it.
    """
    import json
    import time

    started = time.monotonic()
    last_version = None
    last_sent = started
    yield "retry: 1500\n\n"
    while time.monotonic() - started < max_seconds:
        with app.app_context():
            now_version = version(meeting_id)
            payload = None
            if now_version != last_version:
                meeting = db.session.get(Meeting, meeting_id)
                if meeting is None:
                    return
                state = hall_state(meeting)
                payload = f"id: {state.version}\nevent: state\ndata: {json.dumps(state.event(), ensure_ascii=False)}\n\n"
                last_version = now_version
        if payload is not None:
            last_sent = time.monotonic()
            yield payload
        elif time.monotonic() - last_sent >= keepalive:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"
        time.sleep(interval)
