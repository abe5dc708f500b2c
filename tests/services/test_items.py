"""Ballot items (R9, R15, R18) and the per-ballot cap on the top level, through the services."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Ballot, BallotItem, BallotItemMark, SlipUse, StateError
from app.services import items as item_service, meetings, voting
from app.services.items import ballot_spec
from app.services.results import report_as_dict, round_report

DNQJL = [("德", Decimal(15)), ("能", Decimal(10)), ("勤", Decimal(30)), ("绩", Decimal(30)), ("廉", Decimal(15))]
PEOPLE = [
    {"kind": "person", "unit": "区发改局", "name": "张三", "title": "局长", "principal": True},
    {"kind": "person", "unit": "区发改局", "name": "李四", "title": "副局长", "principal": False},
    {"kind": "person", "unit": "区财政局", "name": "王五", "title": "局长", "principal": True},
]


def _set(round_, kind="person", *, dimensions=(), reverse=(), intent=(), top_cap=None):
    item_service.set_kind_items(
        round_, kind, dimensions=list(dimensions), reverse=list(reverse), intent=list(intent), top_cap=top_cap, actor="test"
    )


def _ids(round_, item_type, kind="person") -> dict[str, int]:
    return {i.label: i.id for i in round_.items if i.item_type == item_type and i.kind == kind}


@pytest.fixture
def itemized(make_meeting):
    """Three leaders; 德能勤绩廉 weighted, the default 逆向测评 and 使用意向 lists, at most one 优秀."""
    meeting = make_meeting(targets=PEOPLE, slips={"A": 10, "B": 10, "C": 10})
    round_ = meeting.rounds[0]
    _set(round_, dimensions=DNQJL, reverse=item_service.DEFAULT_REVERSE["person"], intent=item_service.DEFAULT_INTENT, top_cap=1)
    meetings.open_round(round_, "test")
    return meeting


def slip_uses() -> int:
    return db.session.scalar(select(func.count()).select_from(SlipUse))


def test_items_are_saved_per_kind_in_order(itemized):
    """R9, R15, R18: the round keeps the labels, weights and order as entered; the cap too."""
    round_ = itemized.rounds[0]
    spec = ballot_spec(round_).items_for("person")
    assert [(d.label, d.weight) for d in spec.dimensions] == DNQJL
    assert [r.label for r in spec.reverse] == list(item_service.DEFAULT_REVERSE["person"])
    assert [i.label for i in spec.intent] == ["提拔", "继任", "改非", "降职"]
    assert spec.top_cap == 1 and spec.weighted
    assert ballot_spec(round_).items_for("team").is_plain


@pytest.mark.parametrize(
    "values, message",
    [
        ({"dimensions": [("德", Decimal(15)), ("能", None)]}, "要么都填权重"),
        ({"dimensions": [("德", None), ("德", None)]}, "重复"),
        ({"dimensions": [("德", Decimal(0)), ("能", Decimal(0))]}, "权重之和应大于 0"),
        ({"reverse": ["很长" * 30]}, "超过 50 个字"),
        ({"intent": ["提拔"]}, "至少要有两个选项"),
        ({"top_cap": 3}, "应小于本轮领导干部数 3"),
        ({"top_cap": 0}, "至少为 1"),
    ],
)
def test_bad_items_are_refused_and_change_nothing(make_meeting, values, message):
    meeting = make_meeting(targets=PEOPLE)
    round_ = meeting.rounds[0]
    _set(round_, dimensions=[("德", None)])
    with pytest.raises(StateError, match=message):
        _set(round_, **values)
    db.session.rollback()
    assert [i.label for i in db.session.scalars(select(BallotItem))] == ["德"]
    assert round_.top_cap_person is None


def test_items_are_fixed_once_the_round_opens(itemized):
    """Ballots already cast answer exactly the items they were shown."""
    with pytest.raises(StateError, match="选票内容已不能修改"):
        _set(itemized.rounds[0], dimensions=[("德", None)])


def test_selection_rounds_take_no_items(make_meeting):
    meeting = make_meeting(targets=PEOPLE, rounds=[{"title": "票决", "targets": "all"}])
    round_ = meeting.rounds[0]
    round_.kind, round_.seats = "selection", 1
    db.session.commit()
    with pytest.raises(StateError, match="差额票决"):
        _set(round_, dimensions=[("德", None)])


def test_dimension_lines_parse_labels_and_weights():
    items, errors = item_service.parse_dimension_lines("德 15\n能：10\n\n勤,30%\n绩\n廉 x")
    assert items == [("德", Decimal(15)), ("能", Decimal(10)), ("勤", Decimal(30)), ("绩", None), ("廉 x", None)]
    assert errors == []
    assert item_service.parse_option_lines("提拔、继任\n改非，降职") == ["提拔", "继任", "改非", "降职"]


def test_a_full_ballot_is_stored_and_counted(itemized, codes_of):
    """R9, R15, R18: dimensions, 逆向测评 ticks and one 使用意向 per target, all anonymous."""
    round_ = itemized.rounds[0]
    zhang, li, wang = (t.id for t in round_.targets)
    dims, rev, intent = _ids(round_, "dimension"), _ids(round_, "reverse"), _ids(round_, "intent")
    voting.cast(
        voting.resolve(codes_of(itemized)[0]),
        round_.id,
        {zhang: 0, li: 1, wang: None},
        {
            zhang: {"dimensions": {dims["德"]: 0, dims["能"]: 1}, "reverse": [], "intent": intent["提拔"]},
            str(li): {"dimensions": {str(dims["勤"]): "2", str(dims["绩"]): ""}, "reverse": [rev["协作不好"], rev["创新能力弱"]]},
        },
    )
    stored = {(m.target_id, m.item_id, m.level) for m in db.session.scalars(select(BallotItemMark))}
    assert stored == {
        (zhang, dims["德"], 0),
        (zhang, dims["能"], 1),
        (zhang, intent["提拔"], 0),
        (li, dims["勤"], 2),
        (li, rev["协作不好"], 0),
        (li, rev["创新能力弱"], 0),
    }


@pytest.mark.parametrize(
    "items, message",
    [
        (lambda r, t, d: {t: {"dimensions": {d["德"]: 4}}}, "评价等次不正确"),
        (lambda r, t, d: {t: {"dimensions": {999999: 0}}}, "没有这个测评项目"),
        (lambda r, t, d: {t: {"reverse": [_ids(r, "intent")["提拔"]]}}, "没有这个测评项目"),
        (lambda r, t, d: {t: {"intent": [_ids(r, "intent")["提拔"], _ids(r, "intent")["继任"]]}}, "只能选一项"),
        (lambda r, t, d: {t: {"colour": "red"}}, "格式不正确"),
        (lambda r, t, d: {t: ["德"]}, "格式不正确"),
        (lambda r, t, d: {999999: {"dimensions": {}}}, "没有这个测评对象"),
        (lambda r, t, d: ["not", "a", "mapping"], "格式不正确"),
    ],
)
def test_bad_answers_are_refused_and_consume_nothing(itemized, codes_of, items, message):
    round_ = itemized.rounds[0]
    target = round_.targets[0].id
    slip = voting.resolve(codes_of(itemized)[0])
    with pytest.raises(voting.InvalidBallot, match=message):
        voting.cast(slip, round_.id, {target: 1}, items(round_, target, _ids(round_, "dimension")))
    assert slip_uses() == 0 and db.session.scalar(select(func.count()).select_from(Ballot)) == 0
    voting.cast(slip, round_.id, {target: 1})  # the slip is still good


def test_items_of_another_kind_are_not_on_this_target(make_meeting, codes_of):
    """A team is not asked a leader's dimensions."""
    meeting = make_meeting()
    round_ = meeting.rounds[0]
    _set(round_, dimensions=[("德", None)])
    meetings.open_round(round_, "test")
    team = next(t.id for t in round_.targets if t.kind == "team")
    with pytest.raises(voting.InvalidBallot, match="没有这个测评项目"):
        voting.cast(voting.resolve(codes_of(meeting)[0]), round_.id, {}, {team: {"dimensions": {_ids(round_, "dimension")["德"]: 0}}})


def test_the_top_level_cap_refuses_a_phone_ballot_and_voids_a_paper_one(itemized, codes_of):
    """每票"优秀"不超过 1 个: from a phone (or the API) a second 优秀 is refused and the slip
    stays unused; a paper ballot with two is recorded as 废票 (counted in 收回 and 无效 only)."""
    round_ = itemized.rounds[0]
    zhang, li, wang = (t.id for t in round_.targets)
    first, second = codes_of(itemized)[:2]
    with pytest.raises(voting.InvalidBallot, match="每票“优秀”不超过 1 个，您选了 2 个"):
        voting.cast(voting.resolve(first), round_.id, {zhang: 0, li: 0, wang: 1})
    assert slip_uses() == 0
    voting.cast(voting.resolve(first), round_.id, {zhang: 0, li: 1, wang: 1})  # within the cap
    voting.cast(voting.resolve(second), round_.id, {zhang: 0, li: 0}, is_paper=True)
    meetings.close_round(round_, "test")
    report = round_report(round_)
    c = report.counts
    assert (c.returned, c.valid, c.invalid, c.paper) == (2, 1, 1, 1)
    assert report.rows[0].result.counts == (1, 0, 0, 0)


def test_results_carry_dimensions_reverse_and_intent(itemized, codes_of):
    """R15: the weighted headline; R18: reverse and intent counts as a share of valid ballots."""
    round_ = itemized.rounds[0]
    zhang = round_.targets[0].id
    dims, rev, intent = _ids(round_, "dimension"), _ids(round_, "reverse"), _ids(round_, "intent")
    plan = [
        # (德, 能, 勤, 绩, 廉) levels, reverse ticks, intent
        ((0, 1, 0, 2, 0), ["协作不好"], "提拔"),
        ((0, 1, 1, 2, 0), [], "提拔"),
        ((0, 1, 0, 2, 0), ["协作不好", "工作作风不实"], "继任"),
        ((0, 1, 1, 2, 0), [], None),
    ]
    for code, (levels, ticks, choice) in zip(codes_of(itemized), plan):
        answers = {"dimensions": {dims[label]: level for (label, _), level in zip(DNQJL, levels)}, "reverse": [rev[t] for t in ticks]}
        if choice:
            answers["intent"] = intent[choice]
        voting.cast(voting.resolve(code), round_.id, {zhang: 1}, {zhang: answers})
    meetings.close_round(round_, "test")
    report = round_report(round_)
    row = report.rows[0]
    # 德 100, 能 80, 勤 90, 绩 60, 廉 100 → (1500 + 800 + 2700 + 1800 + 1500) / 100 = 83.00 称职,
    # although every overall grade was 称职 (80).
    assert [d.score_text for d in row.dimensions] == ["100.00", "80.00", "90.00", "60.00", "100.00"]
    assert row.result.weighted and row.score_text == "83.00" and row.band_label == "称职"
    assert row.approval_rate_text == "100.00%" and row.excellent_rate_text == "0.00%"
    assert {i.label: (i.count, i.rate_text) for i in row.reverse}["协作不好"] == (2, "50.00%")
    assert {i.label: (i.count, i.rate_text) for i in row.reverse}["民主意识不强"] == (0, "0.00%")
    assert [(i.label, i.count, i.rate_text) for i in row.intent] == [
        ("提拔", 2, "50.00%"),
        ("继任", 1, "25.00%"),
        ("改非", 0, "0.00%"),
        ("降职", 0, "0.00%"),
    ]
    assert report.item_labels("person", "dimensions") == ("德", "能", "勤", "绩", "廉")
    assert any("德15 能10 勤30 绩30 廉15" in rule for rule in report.rules)
    data = report_as_dict(report)["targets"][0]
    assert data["weighted_by_dimensions"] and data["dimensions"][0] == {
        "label": "德",
        "weight": "15",
        "counts": [4, 0, 0, 0],
        "abstained": 0,
        "score": "100.00",
        "score_exact": "100",
        "band": "优秀",
    }
    assert data["intent"][0] == {"label": "提拔", "count": 2, "rate": "50.00%"}


def test_a_round_without_items_reports_none(make_meeting, codes_of):
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    voting.cast(voting.resolve(codes_of(meeting)[0]), round_.id, {round_.targets[0].id: 0})
    report = round_report(round_)
    assert not report.has_items and report.rows[0].dimensions == () and not report.rows[0].result.weighted
