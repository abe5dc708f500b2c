"""模拟测试: rehearse with real slips, purge every rehearsal ballot in one action, slips stay valid."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Ballot, BallotItemMark, BallotMark, Receipt, Round, RoundState, SlipUse, StateError
from app.services import items as item_service, live, meetings, rehearsal, selection, voting
from app.services.live import hall_state
from app.services.results import round_report


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_rehearse_purge_then_vote_for_real(make_meeting, codes_of):
    meeting = make_meeting()
    round_ = meeting.rounds[0]
    item_service.set_kind_items(round_, "person", dimensions=[("德", None)], reverse=["协作不好"], intent=[], top_cap=None, actor="t")
    rehearsal.start(meeting, "admin")
    assert meeting.rehearsal and hall_state(meeting).rehearsal
    meetings.open_round(round_, "t")
    person = next(t for t in round_.targets if t.kind == "person")
    dims = {i.label: i.id for i in round_.items}
    codes = codes_of(meeting)
    for code in codes[:5]:
        voting.cast(voting.resolve(code), round_.id, {person.id: 0}, {person.id: {"dimensions": {dims["德"]: 1}, "reverse": [dims["协作不好"]]}})
    assert round_report(round_).rehearsal
    with pytest.raises(StateError, match="请先结束正在进行的投票"):
        rehearsal.purge(meeting, "admin")
    meetings.close_round(round_, "t")
    meetings.publish_round(round_, "t")
    summary = rehearsal.purge(meeting, "admin")
    assert (summary.ballots, summary.rounds_reset, summary.runoffs_removed) == (5, 1, 0)
    for model in (Ballot, BallotMark, BallotItemMark, SlipUse, Receipt):
        assert count(model) == 0, model
    round_ = db.session.get(Round, round_.id)
    assert round_.state is RoundState.DRAFT and live.turnout(round_.meeting_id)[round_.id] == 0 and not round_.meeting.rehearsal
    assert [i.label for i in round_.items] == ["德", "协作不好"]  # set-up is kept
    actions = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert "meeting.rehearsal_start" in actions and actions[-1] == "meeting.rehearsal_purge"
    # The formal vote: the same slips are good again, and only formal ballots count.
    meetings.open_round(round_, "t")
    voting.cast(voting.resolve(codes[0]), round_.id, {person.id: 3})
    meetings.close_round(round_, "t")
    report = round_report(round_)
    assert report.counts.returned == 1 and not report.rehearsal
    assert next(r for r in report.rows if r.target_id == person.id).result.counts == (0, 0, 0, 1)


def test_a_rehearsal_cannot_start_after_formal_voting(make_meeting, codes_of):
    """A formal ballot must never be purged as a rehearsal one."""
    meeting = make_meeting(open=True)
    with pytest.raises(StateError, match="不能再转为模拟测试"):
        rehearsal.start(meeting, "admin")
    assert not meeting.rehearsal
    with pytest.raises(StateError, match="不在模拟测试状态"):
        rehearsal.purge(meeting, "admin")


def test_purge_removes_rehearsal_runoffs(make_selection, codes_of):
    """R21 runoffs created by a rehearsal count go with it; the first round is kept and reset."""
    meeting, round_ = make_selection(["甲局", "乙局", "丙局", "丁局"], seats=1)
    rehearsal.start(meeting, "admin")
    meetings.open_round(round_, "t")
    ids = [rt.target_id for rt in round_.round_targets]
    for i, code in enumerate(codes_of(meeting)[:4]):
        voting.cast(voting.resolve(code), round_.id, {ids[i % 2]: 0})  # 甲 2, 乙 2: a tie
    meetings.close_round(round_, "t")
    runoff = selection.start_runoff(round_, "t")
    assert runoff.runoff_of_id == round_.id
    summary = rehearsal.purge(meeting, "admin")
    assert summary.runoffs_removed == 1 and summary.ballots == 4
    titles = list(db.session.scalars(select(Round.title).where(Round.meeting_id == meeting.id)))
    assert len(titles) == 2 and db.session.get(Round, runoff.id) is None
