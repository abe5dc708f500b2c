"""Meeting set-up, import validation and round lifecycle (R14, R19, R20, R24, R25)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Meeting, RoundState, Slip, StateError, Target
from app.services import meetings, slips as slip_service
from tests.conftest import meeting_definition


def table_count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_import_creates_the_whole_meeting_and_logs_it(app):
    meeting = meetings.import_definition(meeting_definition(), "kaohe")
    assert [c.code for c in meeting.categories] == ["A", "B", "C"]
    assert len(meeting.targets) == 6
    assert [len(r.round_targets) for r in meeting.rounds] == [6]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "meeting.import"))
    assert entry.actor == "kaohe" and entry.meeting_id == meeting.id


def test_bad_rows_are_all_reported_by_number_and_nothing_is_imported(app):
    """A bad import reports every bad row by number and imports nothing."""
    data = meeting_definition()
    data["categories"][1]["weight"] = "abc"
    data["categories"][1]["_row"] = 3
    data["targets"][2] = {"kind": "人", "unit": "", "name": "", "_row": 4}
    data["targets"][4]["_row"] = 6
    data["targets"][4]["name"] = ""
    with pytest.raises(meetings.DefinitionError) as caught:
        meetings.import_definition(data, "kaohe")
    errors = caught.value.errors
    assert any("测评人员类别」第 3 行" in e and "权重" in e for e in errors), errors
    assert any("测评对象」第 4 行" in e and "类型" in e for e in errors), errors
    assert any("测评对象」第 4 行" in e and "缺少单位" in e for e in errors), errors
    assert any("测评对象」第 6 行" in e and "缺少姓名" in e for e in errors), errors
    assert table_count(Meeting) == 0 and table_count(Target) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": ""}, "缺少会议名称"),
        ({"expected": 0}, "应到人数"),
        ({"expected": "三十"}, "应到人数"),
        ({"date": "12/01"}, "日期"),
        ({"level_values": [100, 80, 60]}, "分值"),
        ({"level_values": [40, 60, 80, 100]}, "分值"),
        ({"categories": []}, "至少需要一个类别"),
        ({"targets": []}, "至少需要一个测评对象"),
        ({"rounds": [{"title": "x", "targets": "其他"}]}, "应为 班子、个人 或 全部"),
    ],
)
def test_meeting_level_errors(app, change, message):
    errors = meetings.validate_definition(meeting_definition(**change))
    assert any(message in e for e in errors), errors


def test_weights_must_sum_to_100_and_codes_be_unique(app):
    cats = [{"code": "A", "name": "甲", "weight": 50}, {"code": "a", "name": "乙", "weight": 40}]
    errors = meetings.validate_definition(meeting_definition(categories=cats))
    assert any("重复" in e for e in errors), errors
    cats[1]["code"] = "B"
    errors = meetings.validate_definition(meeting_definition(categories=cats))
    assert any("合计应为 100%" in e for e in errors), errors


def test_not_a_definition(app):
    assert meetings.validate_definition([1, 2]) == ["文件内容不是一个会议定义"]


def test_small_category_warning(make_meeting):
    """A category with fewer than 3 slips could have its ballots attributed (R23)."""
    meeting = make_meeting(slips={"A": 2, "B": 10, "C": 10})
    warnings = slip_service.category_warnings(meeting)
    assert len(warnings) == 1 and "A 领导班子成员" in warnings[0] and "2 张" in warnings[0]


def test_quorum_is_required_to_open(make_meeting):
    """R20: 实到 must exceed 2/3 of 应到 (30 → more than 20)."""
    meeting = make_meeting(slips={"A": 10, "B": 10})
    round_ = meeting.rounds[0]
    with pytest.raises(StateError, match="未达到法定人数"):
        meetings.open_round(round_, "kaohe")
    assert round_.state is RoundState.DRAFT
    meetings.set_present(meeting, 21, "kaohe")
    meetings.open_round(round_, "kaohe")
    assert round_.state is RoundState.OPEN


def test_lifecycle_transitions_are_guarded_and_logged(make_meeting):
    meeting = make_meeting()
    round_ = meeting.rounds[0]
    with pytest.raises(StateError, match="不能结束"):
        meetings.close_round(round_, "kaohe")
    with pytest.raises(StateError, match="投票结束后才能公布"):
        meetings.publish_round(round_, "kaohe")
    meetings.open_round(round_, "kaohe")
    with pytest.raises(StateError, match="不能再开始"):
        meetings.open_round(round_, "kaohe")
    with pytest.raises(StateError, match="投票结束后才能公布"):
        meetings.publish_round(round_, "kaohe")
    meetings.close_round(round_, "kaohe")
    meetings.publish_round(round_, "kaohe")
    assert round_.state is RoundState.PUBLISHED
    with pytest.raises(StateError, match="已公布"):
        meetings.publish_round(round_, "kaohe")
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.meeting_id == meeting.id).order_by(AuditEntry.id)).all()
    assert actions[-3:] == ["round.open", "round.close", "round.publish"]


def test_concurrent_transition_is_refused_by_the_database(make_meeting):
    """Two organizers clicking 结束 at once: the one holding a stale page is refused by the
    conditional UPDATE, not by a Python check."""
    from datetime import datetime

    from sqlalchemy import update

    from app.models import Round

    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    # Another request closes the round; this session keeps its stale copy (state OPEN).
    db.session.execute(
        update(Round).where(Round.id == round_.id).values(closed_dt=datetime(2026, 1, 1)).execution_options(synchronize_session=False)
    )
    assert round_.state is RoundState.OPEN
    with pytest.raises(StateError, match="已被他人更改"):
        meetings.close_round(round_, "kaohe")


def test_set_up_is_frozen_once_voting_began(make_meeting):
    meeting = make_meeting(open=True)
    with pytest.raises(StateError, match="不能再增加测评对象"):
        meetings.add_target(meeting, kind="person", unit="x", name="y", title="", is_principal=False, actor="kaohe")
    with pytest.raises(StateError, match="不能再增加类别"):
        meetings.add_category(meeting, code="D", name="x", weight=10, actor="kaohe")


def test_void_and_replace(make_meeting):
    meeting = make_meeting()
    slip = db.session.scalar(select(Slip))
    replacement = slip_service.void(slip, "损坏", "kaohe")
    assert slip.is_void and replacement.category_id == slip.category_id and replacement.replaces_id == slip.id
    with pytest.raises(slip_service.SlipError, match="已作废"):
        slip_service.void(slip, "", "kaohe")
    assert meetings.issued_count(meeting) == 30


def test_rounds_run_one_after_another(make_meeting):
    """The chair runs rounds in sequence: a second round cannot open while one is open."""
    meeting = make_meeting(rounds=[{"title": "班子测评", "targets": "team"}, {"title": "干部测评", "targets": "person"}])
    first, second = meeting.rounds
    meetings.open_round(first, "kaohe")
    with pytest.raises(StateError, match="「班子测评」正在投票"):
        meetings.open_round(second, "kaohe")
    assert second.state is RoundState.DRAFT
    meetings.close_round(first, "kaohe")
    meetings.open_round(second, "kaohe")
    assert second.state is RoundState.OPEN
