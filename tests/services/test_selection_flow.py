"""特优 by 差额票决 end to end, with the seed's structure: 18 departments → 9 特优 and
8 towns → 4, a tie at the cut settled by a runoff, every ballot cast through the phone API
(DOMAIN R2–R5, R10, R11, R19, R21, R22, §7)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from app.extensions import db
from app.models import Ballot, Round, SlipUse, StateError
from app.services import meetings, selection, units, voting
from app.services.assessment import archive_year, assessment_report
from app.services.documents import selection_report_pdf

DEPARTMENTS = [f"区{n}局" for n in "一二三四五六七八九十"] + [f"区第{n}办" for n in range(11, 23)]  # 22
TOWNS = [f"{n}镇" for n in "东西南北中上下前后左"]  # 10


def unit_rows() -> list[dict]:
    rows = []
    for i, name in enumerate(DEPARTMENTS):
        score = 99 - i * 0.5  # 99.0 … 88.5: 19 达标 (≥ 90), 3 基本达标
        rows.append({"name": name, "group": "部门组", "target_score": score, "vetoed": False, "staff": 20 + i})
    rows[5]["vetoed"], rows[5]["veto_reason"] = True, "安全生产"  # 区六局: 达标 score but vetoed
    for i, name in enumerate(TOWNS):
        rows.append({"name": name, "group": "乡镇组", "target_score": 98 - i, "vetoed": False, "staff": 40})  # 9 达标
    return rows


@pytest.fixture
def hall(make_meeting):
    meeting = make_meeting(expected=30, slips={"A": 10, "B": 10, "C": 10})
    units.import_units(meeting, unit_rows(), "test")
    units.set_group(meeting, "部门组", places=18, seats=None, actor="test")
    units.set_group(meeting, "乡镇组", places=8, seats=None, actor="test")
    return meeting


def cast(client, code, round_id, choices):
    return client.post(f"/api/v1/ballot/{code}/rounds/{round_id}", json={"choices": choices})


def test_seed_structure_with_a_tie_settled_by_a_runoff(app, hall, codes_of, tmp_path):
    client = app.test_client(use_cookies=False)
    report = assessment_report(hall)
    groups = {g.name: g for g in report.groups}
    # R2/R3: the vetoed 区六局 and the 基本达标 ones are out; the top 18 达标 and top 8 towns in.
    assert len(groups["部门组"].chosen) == 18 and "区六局" not in groups["部门组"].chosen
    assert groups["部门组"].seats == 9 and groups["乡镇组"].seats == 4 and len(groups["乡镇组"].chosen) == 8
    assert next(u for u in report.units if u.name == "区六局").grade_label == "不达标"

    # 部门组: candidates in score order; K = 9
    dept = selection.create_selection_round(hall, "部门组", list(groups["部门组"].chosen), "test")
    assert dept.seats == 9 and len(dept.round_targets) == 18
    ids = [rt.target_id for rt in dept.round_targets]
    meetings.open_round(dept, "test")
    codes = codes_of(hall)
    # R11: more than K is refused on the phone/API and consumes nothing
    over = cast(client, codes[0], dept.id, ids[:10])
    assert over.status_code == 422 and "最多可选 9 名" in over.get_json()["error"]
    assert db.session.query(SlipUse).count() == 0
    # 28 voters: the first 8 candidates plus one of the 9th/10th alternately → 14 : 14
    for i, code in enumerate(codes[:28]):
        assert cast(client, code, dept.id, ids[:8] + [ids[8 + i % 2]]).status_code == 201
    assert cast(client, codes[28], dept.id, []).status_code == 201  # an empty ballot is valid (R11)
    assert cast(client, codes[29], dept.id, ids[:8]).status_code == 201
    assert cast(client, codes[29], dept.id, ids[:8]).status_code == 409  # one ballot per slip per round (R7)
    meetings.close_round(dept, "test")

    first = selection.outcome_of(dept)
    assert len(first.elected) == 8 and set(first.pending) == {ids[8], ids[9]} and first.open_seats == 1
    runoff = selection.start_runoff(dept, "test")
    assert runoff.seats == 1 and [rt.target_id for rt in runoff.round_targets] == [ids[8], ids[9]]
    with pytest.raises(StateError, match="已发起再次投票"):
        selection.start_runoff(dept, "test")
    meetings.open_round(runoff, "test")
    for i, code in enumerate(codes):
        assert cast(client, code, runoff.id, [ids[8] if i < 17 else ids[9]]).status_code == 201
    meetings.close_round(runoff, "test")
    meetings.publish_round(runoff, "test")

    # 乡镇组: clear result; one paper over-selection recorded as invalid (废票)
    towns = selection.create_selection_round(hall, "乡镇组", list(groups["乡镇组"].chosen), "test", order="strokes")
    town_ids = [rt.target_id for rt in towns.round_targets]
    meetings.open_round(towns, "test")
    for i, code in enumerate(codes[:29]):
        assert cast(client, code, towns.id, town_ids[:3] + [town_ids[3 + i % 2]]).status_code == 201
    voting.cast(voting.resolve(codes[29]), towns.id, {t: 0 for t in town_ids[:5]}, is_paper=True)
    meetings.close_round(towns, "test")

    report = assessment_report(hall)
    top = [u.name for u in report.units if u.outcome_label == "特优"]
    dept_top = [u for u in top if u in DEPARTMENTS]
    town_top = [u for u in top if u in TOWNS]
    assert len(dept_top) == 9 and len(town_top) == 4
    tied_units = {rt.target_id: rt.target.unit for rt in dept.round_targets}
    assert tied_units[ids[8]] in dept_top and tied_units[ids[9]] not in dept_top
    assert next(u for u in report.units if u.name == tied_units[ids[9]]).outcome_label == "优秀"

    sel = selection.selection_report(runoff)
    assert [r.title for r in sel.rounds] == [dept.title, runoff.title]
    c = sel.rounds[0].counts
    assert (c.present, c.issued, c.returned, c.valid, c.invalid) == (30, 30, 30, 30, 0)
    assert len(sel.elected) == 9 and len(sel.digest) == 64
    town_counts = selection.selection_report(towns).rounds[0].counts
    assert (town_counts.returned, town_counts.valid, town_counts.invalid, town_counts.paper) == (30, 29, 1, 1)
    assert all(v <= 29 for v in (row.votes for row in selection.selection_report(towns).rounds[0].rows))

    pdf = selection_report_pdf(sel)
    if shutil.which("pdftotext"):
        path = tmp_path / "report.pdf"
        path.write_bytes(pdf)
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
        flat = "".join(text.split())
        for expected in ("计票人", "监票人", "主持人", "待再次投票", "特优", "96.67%", "46.67%", "56.67%", tied_units[ids[8]]):
            assert expected in flat, expected
        assert sel.digest[:16] in flat


def test_candidate_tie_at_the_nth_place_must_be_decided(make_meeting):
    """R3: a tie at the N-th place is shown; the round needs the organizer's choice."""
    meeting = make_meeting()
    rows = [{"name": n, "group": "部门组", "target_score": s, "vetoed": False, "staff": 10} for n, s in (("甲", 98), ("乙", 95), ("丙", 95), ("丁", 95), ("戊", 91))]
    units.import_units(meeting, rows, "test")
    units.set_group(meeting, "部门组", places=3, seats=1, actor="test")
    group = assessment_report(meeting).groups[0]
    assert group.chosen == ("甲",) and set(group.tied) == {"乙", "丙", "丁"} and group.open_places == 2
    with pytest.raises(StateError, match="请选定 2 个"):
        selection.create_selection_round(meeting, "部门组", ["甲", "乙"], "test")
    with pytest.raises(StateError, match="不是「部门组」的特优候选单位"):
        selection.create_selection_round(meeting, "部门组", ["甲", "乙", "戊"], "test")
    round_ = selection.create_selection_round(meeting, "部门组", ["甲", "丙", "丁"], "test", order="strokes")
    assert [rt.target.unit for rt in round_.round_targets] == ["丁", "丙", "甲"]  # 丁 2 strokes, 丙 5, 甲 5 (丙 before 甲 by stroke order)
    with pytest.raises(StateError, match="已有差额票决轮次"):
        selection.create_selection_round(meeting, "部门组", ["甲", "丙", "丁"], "test")


def test_majority_rule_leaves_a_seat_open(app, make_meeting, codes_of):
    """R22: 实到 30 → more than 15 votes needed; B, second with 15, is sent to a runoff."""
    meeting = make_meeting()
    units.import_units(meeting, [{"name": n, "group": "组", "target_score": 95, "vetoed": False, "staff": 1} for n in "ABC"], "test")
    meetings.set_assessment_settings(meeting, "test", majority_required=True)
    round_ = selection.create_selection_round(meeting, "组", ["A", "B", "C"], "test", seats=2)
    ids = [rt.target_id for rt in round_.round_targets]
    meetings.open_round(round_, "test")
    for i, code in enumerate(codes_of(meeting)):  # A 30, B 15, C 10
        marks = {ids[0]: 0, ids[1]: 0} if i < 15 else {ids[0]: 0, ids[2]: 0} if i < 25 else {ids[0]: 0}
        voting.cast(voting.resolve(code), round_.id, marks)
    meetings.close_round(round_, "test")
    outcome = selection.outcome_of(round_)
    assert outcome.elected == (ids[0],) and set(outcome.pending) == {ids[1]} and outcome.open_seats == 1
    with pytest.raises(StateError, match="过半数"):
        meetings.set_assessment_settings(meeting, "test", majority_required=False)


def test_composite_rewards_and_history(app, make_meeting, codes_of):
    """R1 composite from target and 测评 scores; R5 reward; R6 flags after archiving a year."""
    meeting = make_meeting(date="2026-12-01")
    units.import_units(
        meeting,
        [
            {"name": "区发改局", "group": "部门组", "target_score": 92, "vetoed": False, "staff": 20},
            {"name": "区财政局", "group": "部门组", "target_score": 85, "vetoed": False, "staff": 10},
        ],
        "test",
    )
    meetings.set_assessment_settings(meeting, "test", reward_per_point=10, reward_lump_top=40000)
    round_ = meeting.rounds[0]
    meetings.open_round(round_, "test")
    targets = {(t.unit, t.name): t.id for t in round_.targets}
    for code in codes_of(meeting)[:10]:
        voting.cast(voting.resolve(code), round_.id, {t: 0 for t in targets.values()})  # all 100
    meetings.close_round(round_, "test")
    report = assessment_report(meeting)
    fgw = next(u for u in report.units if u.name == "区发改局")
    assert str(fgw.democratic) == "100.00" and str(fgw.composite) == "95.20"  # 92×0.6 + 100×0.4
    assert str(fgw.reward) == "18400.00" and fgw.rank == 1
    czj = next(u for u in report.units if u.name == "区财政局")
    assert czj.grade_label == "基本达标" and str(czj.reward) == "6800.00"  # 10 × 80% × 85 × 10
    zhang = next(l for l in report.leaders if l.name == "张三")
    assert str(zhang.composite) == "95.20"  # principal: 92×0.6 + 100×0.4
    li = next(l for l in report.leaders if l.name == "李四")
    assert str(li.composite) == "96.80"  # member: 92×0.4 + 100×0.6

    assert archive_year(meeting, "test") == len(report.units) + len(report.leaders)


def test_last_two_places_two_years_running_are_flagged(make_meeting):
    """R6: B and C are the last two of three units in 2026 and again in 2027."""
    rows = [{"name": n, "group": "部门组", "target_score": s, "vetoed": False, "staff": 1} for n, s in (("A局", 95), ("B局", 90), ("C局", 85))]
    first = make_meeting(date="2026-12-01")
    units.import_units(first, [dict(r) for r in rows], "test")
    archive_year(first, "test")
    second = make_meeting(date="2027-12-01")
    units.import_units(second, [dict(r) for r in rows], "test")
    flags = {u.name: u.flags for u in assessment_report(second).units}
    assert flags == {"A局": (), "B局": ("连续两年列本组后两名",), "C局": ("连续两年列本组后两名",)}


def test_bad_unit_rows_are_reported_and_nothing_imported(make_meeting):
    meeting = make_meeting()
    rows = [
        {"name": "甲", "group": "部门组", "target_score": 101, "vetoed": False, "staff": 1, "_row": 2},
        {"name": "甲", "group": "", "target_score": "x", "vetoed": True, "staff": -1, "_row": 3},
    ]
    with pytest.raises(meetings.DefinitionError) as caught:
        units.import_units(meeting, rows, "test")
    text = "\n".join(caught.value.errors)
    for expected in ("第 2 行：综合目标考核得分", "第 3 行：单位「甲」重复", "第 3 行：分组", "第 3 行：一票否决须写明原因", "第 3 行：编内在职职工人数"):
        assert expected in text, text
    assert units.units_of(meeting) == []
    assert db.session.query(Round).filter_by(kind="selection").count() == 0
    assert db.session.query(Ballot).count() == 0
