"""Receipts, anonymous ballots and the recount (issue 5; DOMAIN R19, R23, R24, R25).

A receipt says *that* a ballot was counted, the ballots file says *what* was voted; the two are
published apart, and ``flask recount`` rebuilds every published figure from the file alone.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from app.extensions import db
from app.models import Meeting
from app.services import items as item_service, meetings, publication, selection, units, voting
from app.services.recount import recount
from app.services.results import report_as_dict, round_counts, round_report

DNQJL = [("德", Decimal(15)), ("能", Decimal(10)), ("勤", Decimal(30)), ("绩", Decimal(30)), ("廉", Decimal(15))]
PEOPLE = [
    {"kind": "person", "unit": "区发改局", "name": "张三", "title": "局长", "principal": True},
    {"kind": "person", "unit": "区发改局", "name": "李四", "title": "副局长", "principal": False},
    {"kind": "person", "unit": "区财政局", "name": "王五", "title": "局长", "principal": True},
]
UNITS = [{"name": n, "group": "部门组", "target_score": s, "vetoed": False, "staff": 20} for n, s in (("甲局", 98), ("乙局", 96), ("丙局", 95), ("丁局", 93))]


def _ids(round_, item_type, kind="person") -> dict[str, int]:
    return {i.label: i.id for i in round_.items if i.item_type == item_type and i.kind == kind}


@pytest.fixture
def itemized(make_meeting):
    """Three leaders; 德能勤绩廉 weighted, the default 逆向测评 and 使用意向 lists, at most one
    优秀 (as in test_items.py)."""
    meeting = make_meeting(targets=PEOPLE, slips={"A": 10, "B": 10, "C": 10})
    round_ = meeting.rounds[0]
    item_service.set_kind_items(
        round_, "person", dimensions=DNQJL, reverse=list(item_service.DEFAULT_REVERSE["person"]),
        intent=list(item_service.DEFAULT_INTENT), top_cap=1, actor="test",
    )
    meetings.open_round(round_, "test")
    return meeting


#: Ten distinct phone ballots: (张三, 李四, 王五) overall levels (None = 弃权), and 张三's
#: dimension levels, 逆向测评 ticks and 使用意向.
PLAN = [
    ((0, 1, 1), (0, 1, 0, 2, 0), ["协作不好"], "提拔"),
    ((1, 0, 2), (1, 1, 1, 2, 0), [], "继任"),
    ((1, 1, 0), (0, 0, 0, 0, 0), ["协作不好", "工作作风不实"], None),
    ((2, 1, None), (2, 2, 1, 1, 1), [], "改非"),
    ((None, 2, 1), (None, 1, None, 3, 0), ["创新能力弱"], None),
    ((1, 3, 1), (1, 1, 1, 1, 1), [], "提拔"),
    ((0, 2, 2), (0, 0, 1, 1, 0), [], None),
    ((3, 1, 1), (3, 3, 2, 3, 3), ["廉洁自律较差"], "降职"),
    ((1, 1, 3), (1, 0, 1, 0, 1), [], "继任"),
    ((2, 2, 2), (2, 1, 2, 1, 2), ["民主意识不强"], None),
]


def _cast_plan(meeting) -> tuple[list[str], list[dict]]:
    """Cast PLAN from the first ten slips (phones) and two paper ballots, one of them over the
    cap (废票). :return: the receipts in cast order, and each phone ballot's marks."""
    round_ = meeting.rounds[0]
    targets = [t.id for t in round_.targets]
    dims, rev, intent = _ids(round_, "dimension"), _ids(round_, "reverse"), _ids(round_, "intent")
    codes = voting_codes(meeting)
    receipts, cast = [], []
    for code, (levels, dim_levels, ticks, choice) in zip(codes, PLAN):
        marks = {t: lv for t, lv in zip(targets, levels)}
        answers = {
            "dimensions": {dims[label]: lv for (label, _), lv in zip(DNQJL, dim_levels) if lv is not None},
            "reverse": [rev[t] for t in ticks],
        }
        if choice:
            answers["intent"] = intent[choice]
        receipts.append(voting.cast(voting.resolve(code), round_.id, marks, {targets[0]: answers}))
        cast.append({str(t): lv for t, lv in marks.items() if lv is not None})
    assert voting.cast(voting.resolve(codes[10]), round_.id, {targets[0]: 1, targets[1]: 2}, is_paper=True) is None
    voting.cast(voting.resolve(codes[11]), round_.id, {targets[0]: 0, targets[1]: 0}, is_paper=True)  # two 优秀: 废票
    return receipts, cast


def voting_codes(meeting) -> list[str]:
    from sqlalchemy import select

    from app.models import Slip
    from app.services.slips import code_of

    return [code_of(s) for s in db.session.scalars(select(Slip).where(Slip.meeting_id == meeting.id).order_by(Slip.id))]


@pytest.fixture
def published(itemized):
    """The itemized round with PLAN cast, closed and published."""
    receipts, cast = _cast_plan(itemized)
    round_ = itemized.rounds[0]
    meetings.close_round(round_, "test")
    meetings.publish_round(round_, "test")
    return round_, receipts, cast


def test_nothing_is_public_before_publication(itemized):
    """R24: while a round is open or closed, there is no receipt list and no ballots file."""
    round_ = itemized.rounds[0]
    _cast_plan(itemized)
    for step in (None, meetings.close_round):
        if step:
            step(round_, "test")
        with pytest.raises(publication.NotPublished, match="公布后才能查看"):
            publication.receipt_list(round_)
        with pytest.raises(publication.NotPublished):
            publication.ballots_document(round_)
        with pytest.raises(publication.NotPublished):
            publication.ballots_csv(round_)


def test_receipt_list_is_exactly_the_receipts_of_the_casts(published):
    """Every phone cast's receipt is listed once, in code order; paper ballots have none, and
    receipts + paper = 收回 (R19)."""
    round_, receipts, _ = published
    listing = publication.receipt_list(round_)
    assert listing.codes == tuple(sorted(receipts)) and len(set(receipts)) == 10
    assert (listing.count, listing.paper, listing.returned) == (10, 2, 12) and listing.problem is None
    assert listing.summary == "共 10 个回执码；纸质录入 2 张无回执码"


def test_receipt_search_ignores_spaces_and_case(published):
    round_, receipts, _ = published
    typed = f" {receipts[3][:4].lower()} {receipts[3][4:]} "
    assert publication.receipt_list(round_, typed).found is True
    assert publication.receipt_list(round_, "2222 2222").found is False
    assert publication.receipt_list(round_).found is None


def test_ballots_file_has_every_ballot_and_agrees_with_r19(published):
    """One entry per ballot; 收回/有效/无效/纸质 from the file equal the published counts."""
    round_, receipts, cast = published
    document = publication.ballots_document(round_)
    ballots = document["ballots"]
    counts = round_counts(round_)
    assert len(ballots) == counts.returned == 12
    assert sum(b["valid"] for b in ballots) == counts.valid == 11
    assert sum(not b["valid"] for b in ballots) == counts.invalid == 1
    assert sum(b["paper"] for b in ballots) == counts.paper == 2
    assert [b["number"] for b in ballots] == list(range(1, 13))
    assert sorted(json.dumps(b["marks"], sort_keys=True) for b in ballots if not b["paper"]) == sorted(
        json.dumps(c, sort_keys=True) for c in cast
    )
    invalid = next(b for b in ballots if not b["valid"])
    assert invalid["marks"] == {} and invalid["items"] == {} and invalid["paper"]
    assert document["published"] == report_as_dict(round_report(round_))
    assert document["ballots_sha256"] == publication.ballots_sha256(ballots)


def test_ballots_file_carries_no_receipt_slip_or_time_and_its_own_order(published):
    """R23: no receipt code, no slip, no time; the order is neither the order of casting nor
    that of the receipt list (both known to this test, which cast ten distinct ballots)."""
    round_, receipts, cast = published
    raw = publication.ballots_json(round_) + publication.ballots_csv(round_)
    assert not any(code.encode() in raw for code in receipts)
    document = publication.ballots_document(round_)
    assert all(set(b) == {"number", "category", "valid", "paper", "marks", "items"} for b in document["ballots"])
    in_file = [json.dumps(b["marks"], sort_keys=True) for b in document["ballots"] if not b["paper"]]
    by_cast = [json.dumps(c, sort_keys=True) for c in cast]
    by_receipt = [by_cast[receipts.index(code)] for code in sorted(receipts)]
    assert in_file != by_cast and in_file != by_receipt
    # Stable: two downloads are the same file (and the same SHA-256) for the archive (R25).
    assert publication.ballots_json(round_) == publication.ballots_json(round_)


def test_ballots_csv_one_row_per_ballot(published):
    round_, _, _ = published
    data = publication.ballots_csv(round_)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:5] == ["序号", "类别", "有效", "纸质录入", "张三（区发改局）"]
    assert "张三（区发改局）·德" in header and "张三（区发改局）·逆向测评：协作不好" in header and "张三（区发改局）·使用意向" in header
    assert "李四（区发改局）·德" in header  # every leader is asked the person items
    assert len(body) == 12 and all(len(r) == len(header) for r in body)
    assert {r[2] for r in body} == {"是", "否"}
    zhang = header.index("张三（区发改局）")
    assert sorted(r[zhang] for r in body if r[3] == "否") == sorted(["优秀", "称职", "称职", "基本称职", "", "称职", "优秀", "不称职", "称职", "基本称职"])
    intents = [r[header.index("张三（区发改局）·使用意向")] for r in body]
    assert sorted(i for i in intents if i) == sorted(["提拔", "继任", "改非", "提拔", "降职", "继任"])


def test_recount_of_an_untampered_file_agrees(published, runner, tmp_path):
    """R25: the recount, from the file alone, reproduces every published figure."""
    round_, _, _ = published
    path = tmp_path / "ballots.json"
    path.write_bytes(publication.ballots_json(round_))
    result = runner.invoke(args=["recount", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("复核一致：") and "收回 12 张（有效 11，无效 1，其中纸质录入 2）" in result.output
    assert "分项、逆向测评、使用意向" in result.output


def test_recount_needs_no_database(published, runner, tmp_path):
    """The file alone: with the meeting deleted from the database the recount still agrees."""
    round_, _, _ = published
    path = tmp_path / "ballots.json"
    path.write_bytes(publication.ballots_json(round_))
    db.session.delete(db.session.get(Meeting, round_.meeting_id))
    db.session.commit()
    result = runner.invoke(args=["recount", str(path)])
    assert result.exit_code == 0, result.output


def _tamper(document: dict, change) -> dict:
    change(document)
    return document


def test_recount_reports_one_changed_ballot(published, runner, tmp_path):
    """One level changed on one exported ballot: the digest no longer matches and every
    figure it moves is listed (exit 1)."""
    round_, _, _ = published
    document = publication.ballots_document(round_)
    zhang = str(round_.targets[0].id)
    ballot = next(b for b in document["ballots"] if b["valid"] and b["marks"].get(zhang) == 2)
    ballot["marks"][zhang] = 0  # 基本称职 → 优秀
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["recount", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("选票摘要（SHA-256）不符") for line in lines)
    published_row = document["published"]["targets"][0]
    assert f"张三 优秀票数：公布 {published_row['counts'][0]}，复核 {published_row['counts'][0] + 1}" in lines
    assert f"张三 基本称职票数：公布 {published_row['counts'][2]}，复核 {published_row['counts'][2] - 1}" in lines
    assert any(line.startswith("张三 优秀率：公布 ") for line in lines)
    assert "复核不一致" in result.output
    assert not any(line.startswith("李四") for line in lines)


def test_recount_reports_changed_published_figures(published, tmp_path, runner):
    """The ballots untouched, a published score and a count changed: both are named, the
    digest of the ballots still matches."""
    round_, _, _ = published
    document = publication.ballots_document(round_)
    row = document["published"]["targets"][0]
    real = row["score"]
    assert real not in (None, "99.99")
    row["score"] = "99.99"
    document["published"]["counts"]["valid"] += 1
    path = tmp_path / "figures.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["recount", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"张三 折合分：公布 99.99，复核 {real}" in lines
    assert "有效：公布 12，复核 11" in lines
    assert not any("SHA-256" in line for line in lines)


def test_recount_reports_a_ballot_that_breaks_the_cap(published):
    """A valid ballot edited to two 优秀 breaks the round's cap: the recount says it should
    have been a 废票."""
    round_, _, _ = published
    document = publication.ballots_document(round_)
    ballot = next(b for b in document["ballots"] if b["valid"] and len(b["marks"]) == 3)
    for target in ballot["marks"]:
        ballot["marks"][target] = 0
    differences = recount(document).differences
    assert any(f"第 {ballot['number']} 张选票：“优秀”3 个，超过每票上限 1 个，应为废票" == d for d in differences)


def test_recount_refuses_a_file_that_is_not_a_ballots_file(runner, tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"meeting": {}}), encoding="utf-8")
    result = runner.invoke(args=["recount", str(path)])
    assert result.exit_code == 1 and "不是匿名选票文件" in result.output


# --- 差额票决 ------------------------------------------------------------------------------


@pytest.fixture
def selection_meeting(make_meeting):
    m = make_meeting()
    units.import_units(m, [dict(u) for u in UNITS], "test")
    units.set_group(m, "部门组", places=4, seats=2, actor="test")
    return m


def _selection_round(meeting, votes: list[list[int]], *, paper_over: bool = False):
    """A 票决 round (2 of 甲乙丙丁) with one ballot per entry of ``votes`` (candidate indexes)."""
    round_ = selection.create_selection_round(meeting, "部门组", ["甲局", "乙局", "丙局", "丁局"], "test")
    meetings.open_round(round_, "test")
    ids = [rt.target_id for rt in round_.round_targets]
    codes = voting_codes(meeting)
    receipts = [voting.cast(voting.resolve(code), round_.id, {ids[i]: 0 for i in chosen}) for code, chosen in zip(codes, votes)]
    if paper_over:
        voting.cast(voting.resolve(codes[len(votes)]), round_.id, {ids[0]: 0, ids[1]: 0, ids[2]: 0}, is_paper=True)
    meetings.close_round(round_, "test")
    meetings.publish_round(round_, "test")
    return round_, receipts


def test_selection_ballots_and_recount(selection_meeting, runner, tmp_path):
    """R10, R11: the choices of every ballot; the over-selected paper ballot is a 废票 with no
    choices; the recount agrees with the 报告单 (votes, 得票率, ranks, results, digest)."""
    round_, receipts = _selection_round(selection_meeting, [[0, 1], [0], [1, 2], [0, 2], [3], []], paper_over=True)
    document = publication.ballots_document(round_)
    assert len(document["ballots"]) == 7 and sorted(len(b["choices"]) for b in document["ballots"]) == [0, 0, 1, 1, 2, 2, 2]
    assert sum(not b["valid"] for b in document["ballots"]) == 1
    assert all(b["choices"] == [] for b in document["ballots"] if not b["valid"])
    assert publication.receipt_list(round_).codes == tuple(sorted(receipts))
    assert document["round"]["seats"] == 2 and document["published"]["final"][0] == {"unit": "甲局", "result": "特优"}
    path = tmp_path / "selection.json"
    path.write_bytes(publication.ballots_json(round_))
    result = runner.invoke(args=["recount", str(path)])
    assert result.exit_code == 0, result.output
    assert "4 名候选的得票、得票率、排名和结果与公布结果相同" in result.output


def test_selection_recount_reports_a_changed_choice_and_changed_votes(selection_meeting):
    round_, _ = _selection_round(selection_meeting, [[0, 1], [0], [1, 2], [0, 1], [3], []])  # 甲 3, 乙 3, 丙 1, 丁 1
    document = publication.ballots_document(round_)
    ding = round_.round_targets[3].target_id
    empty = next(b for b in document["ballots"] if b["choices"] == [])
    empty["choices"] = [ding]  # 丁局 1 → 2 votes
    differences = recount(document).differences
    assert "丁局 得票：公布 1，复核 2" in differences
    assert "丁局 得票率：公布 16.67%，复核 33.33%" in differences
    assert any(d.startswith("计票摘要（SHA-256）：公布 ") for d in differences)
    assert any(d.startswith("选票摘要（SHA-256）不符") for d in differences)

    document = publication.ballots_document(round_)
    document["published"]["rounds"][0]["candidates"][2]["votes"] = 3  # 丙局 published 1 → 3
    document["published"]["final"][2]["result"] = "特优"
    differences = recount(document).differences
    assert differences == ("丙局 得票：公布 3，复核 1", "丙局 最终结果：公布 特优，复核 优秀")


def test_selection_runoff_chain_recounts_each_round(selection_meeting, runner, tmp_path):
    """R21: a tie across the second seat, then a runoff: each round's file recounts alone, the
    final results of the chain included (the other round enters with its published votes)."""
    first, _ = _selection_round(selection_meeting, [[0, 1], [0, 2], [3]])  # 甲 2, 乙 1, 丙 1, 丁 1
    runoff = selection.start_runoff(first, "test")
    meetings.open_round(runoff, "test")
    ids = [rt.target_id for rt in runoff.round_targets]
    for code, i in zip(voting_codes(selection_meeting)[:3], (0, 0, 1)):
        voting.cast(voting.resolve(code), runoff.id, {ids[i]: 0})
    meetings.close_round(runoff, "test")
    meetings.publish_round(runoff, "test")
    for round_ in (first, runoff):
        path = tmp_path / f"round{round_.id}.json"
        path.write_bytes(publication.ballots_json(round_))
        result = runner.invoke(args=["recount", str(path)])
        assert result.exit_code == 0, result.output
    final = dict((f["unit"], f["result"]) for f in publication.ballots_document(runoff)["published"]["final"])
    assert final == {"甲局": "特优", "乙局": "特优", "丙局": "优秀", "丁局": "优秀"}
