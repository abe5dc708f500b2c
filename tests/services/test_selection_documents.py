"""The 票决计票结果报告单 and the composite table (DOMAIN §7) as PDF and .xlsx, and the 「单位」
import workbook (R2, R3, R5), built from hand-made dataclasses: no database, no app context.

PDF text is read back with poppler's ``pdftotext``; those tests skip when it is missing.
"""

from __future__ import annotations

import hashlib
import io
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from openpyxl import Workbook, load_workbook

from app.core.assessment import CompositeWeights, RewardRule
from app.core.scoring import RoundCounts
from app.services.assessment import AssessmentReport, GroupRow, LeaderRow, UnitRow
from app.services.documents import composite_pdf, selection_report_pdf
from app.services.selection import CandidateRow, SelectionReport, SelectionRoundReport
from app.services.spreadsheets import (
    EXAMPLE_UNITS,
    SheetFormatError,
    composite_xlsx,
    read_units_xlsx,
    units_template_xlsx,
)
from app.services.units import validate_units
from tests.services.test_documents import pdf_pages, pdf_text, squash

MEETING_TITLE = "2025年度区直部门和街道镇乡综合考核大会"
HOSTILE = "区<script>&局"
FORMULA = "=cmd()"
DIGEST = hashlib.sha256(b"tally of the test").hexdigest()

STATUS = {"elected": "特优", "not_elected": "优秀", "runoff": "待再次投票"}


def _row(number: int, unit: str, votes: int, valid: int, rank: int, status: str) -> CandidateRow:
    return CandidateRow(number, unit, votes, Fraction(votes, valid) if valid else None, rank, status, STATUS[status])


def make_selection(*, counts: RoundCounts | None = None) -> SelectionReport:
    """部门组, 6 candidates for K = 3 (R4). The first round ties 区教育局 and 区卫健局 at 36
    votes across the 3rd seat, so both wait for a runoff (R21); the runoff for 1 seat elects
    区教育局. 36 of 54 valid ballots is 66.67 %. Two ballots chose too many: invalid (R11)."""
    first_counts = counts or RoundCounts(expected=60, present=57, issued=57, returned=56, valid=54, invalid=2, paper=3)
    valid = first_counts.valid
    first = SelectionRoundReport(
        round_id=7,
        title="部门组“特优”差额票决",
        state="published",
        state_label="已公布",
        opened_dt=datetime(2025, 12, 28, 1, 30, 15),  # stored UTC; printed 09:30 China time
        closed_dt=datetime(2025, 12, 28, 1, 52, 40),
        published_dt=datetime(2025, 12, 28, 10, 5),
        seats=3,
        counts=first_counts,
        rows=(
            _row(1, "区发改局", 45, valid, 1, "elected"),
            _row(2, "区财政局", 41, valid, 2, "elected"),
            _row(3, "区教育局", 36, valid, 3, "runoff"),
            _row(4, "区卫健局", 36, valid, 3, "runoff"),
            _row(5, HOSTILE, 20, valid, 5, "not_elected"),
            _row(6, "区住建局", 12, valid, 6, "not_elected"),
        ),
        open_seats=1,
        majority_of=None,
    )
    runoff = SelectionRoundReport(
        round_id=8,
        title="部门组“特优”差额票决（第2次投票）",
        state="closed",
        state_label="已结束",
        opened_dt=datetime(2025, 12, 28, 2, 15),
        closed_dt=datetime(2025, 12, 28, 2, 27),
        published_dt=None,
        seats=1,
        counts=RoundCounts(expected=60, present=57, issued=57, returned=57, valid=57, invalid=0),
        rows=(_row(1, "区教育局", 30, 57, 1, "elected"), _row(2, "区卫健局", 27, 57, 2, "not_elected")),
        open_seats=0,
        majority_of=None,
    )
    rounds = (first, runoff)
    return SelectionReport(
        meeting_id=3,
        meeting_title=MEETING_TITLE,
        meeting_place="区行政中心第一会议室",
        meeting_date="2025-12-28",
        group="部门组",
        seats=3,
        order_label="按考核得分排序",
        rounds=rounds,
        final=(
            ("区发改局", "特优"), ("区财政局", "特优"), ("区教育局", "特优"),
            ("区卫健局", "优秀"), (HOSTILE, "优秀"), ("区住建局", "优秀"),
        ),
        digest=DIGEST,
        rules=(
            "应选 3 名，候选 6 名；每票所选不得超过应选名额，超过为废票，少选或不选有效（R10、R11）。",
            "按得票多少排序，得票率 = 得票 ÷ 有效票；得票相同跨越最后一个名额时，对并列者就剩余名额再次投票（R21）。",
        ),
        problems=tuple(p for r in rounds for p in r.counts.problems()),
        generated_dt=datetime(2025, 12, 28, 10, 30),
    )


def _unit(name, group, target, democratic, composite, rank, size, *, grade="qualified", vetoed="", candidate="", outcome=None, reward=None, flags=()):
    labels = {"qualified": "达标", "basic": "基本达标", "unqualified": "不达标"}
    return UnitRow(
        name=name, group=group, target_score=Decimal(target), is_vetoed=bool(vetoed), veto_reason=vetoed, staff=40,
        grade=grade, grade_label=labels[grade],
        democratic=None if democratic is None else Decimal(democratic),
        composite=None if composite is None else Decimal(composite),
        rank=rank, group_size=size, candidate=candidate, outcome=outcome,
        outcome_label={"elected": "特优", "not_elected": "优秀", "runoff": "待再次投票"}.get(outcome or "", ""),
        reward=None if reward is None else Decimal(reward), flags=tuple(flags),
    )


def make_assessment(*, rewards: bool = True) -> AssessmentReport:
    """Two groups (R3): 部门组 with a 特优, an 优秀 and a 待再次投票; 乡镇组 with a unit vetoed
    for 安全生产 (R2: 不达标, no reward) and a unit named ``=cmd()``. 区发改局's reward
    2 元 × 92 分 × 100 人 = 18400.00 (R5)."""
    r = (lambda value: value) if rewards else (lambda value: None)
    units = (
        _unit("区发改局", "部门组", "92.00", "95.50", "93.40", 1, 4, candidate="candidate", outcome="elected", reward=r("18400.00")),
        _unit(HOSTILE, "部门组", "91.00", "88.25", "89.90", 2, 4, candidate="candidate", outcome="not_elected", reward=r("15100.50")),
        _unit("区教育局", "部门组", "90.50", "86.00", "88.70", 3, 4, candidate="candidate", outcome="runoff", reward=r("7240.00")),
        _unit("区住建局", "部门组", "84.30", None, None, 4, 4, grade="basic", reward=r("5395.20"), flags=("连续两年列本组后两名",)),
        _unit("城东街道", "乡镇组", "94.10", "91.20", "92.94", 1, 3, candidate="candidate", reward=r("7528.00")),
        _unit("青山镇", "乡镇组", "93.00", "90.00", "91.80", 2, 3, grade="unqualified", vetoed="安全生产", reward=r("0.00")),
        _unit(FORMULA, "乡镇组", "79.00", "70.10", "75.44", 3, 3, grade="unqualified", reward=r("0.00")),
    )
    leaders = (
        LeaderRow("区发改局", "部门组", "张三", "局长", True, Decimal("87.70"), "称职", Decimal("90.28"), 1, 3, ()),
        LeaderRow("区发改局", "部门组", "李四", "副局长", False, Decimal("76.40"), "基本称职", Decimal("82.64"), 2, 3, ("连续两年被评为基本称职",)),
        LeaderRow(HOSTILE, "部门组", "王五", "副局长", False, None, "", None, None, 3, ()),
        LeaderRow("城东街道", "乡镇组", "赵磊", "党工委书记", True, Decimal("93.15"), "优秀", Decimal("93.72"), 1, 1, ()),
    )
    return AssessmentReport(
        meeting_id=3,
        meeting_title=MEETING_TITLE,
        year=2025,
        units=units,
        leaders=leaders,
        groups=(
            GroupRow("部门组", 3, 1, ("区发改局", HOSTILE, "区教育局"), (), 0),
            GroupRow("乡镇组", 1, 1, ("城东街道",), (), 0),
        ),
        weights=CompositeWeights(),
        reward_rule=RewardRule(per_point=Decimal(2), lump_excellent=Decimal(30000), lump_top=Decimal(40000)),
        rules=(
            "综合得分：领导班子和党政主要负责人 = 综合目标考核得分 × 60% + 民主测评得分 × 40%；其他班子成员 = 综合目标考核得分 × 40% + 民主测评得分 × 60%。",
            "等次：一票否决或得分低于 80 分为不达标；80–90 分（不含 90）为基本达标；90 分及以上为达标。",
        ),
    )


# --- 票决计票结果报告单 ---------------------------------------------------------------------


def test_selection_report_pdf_prints_both_rounds(tmp_path, monkeypatch):
    """DOMAIN §7 票决计票结果报告单 with R4, R19, R21: title, date, place, 主持人; each round's
    time, 应选 K 名 and six counts (纸质录入 too); every candidate's votes, 得票率, rank and
    result; the runoff; the final list; the rules; the signature lines; the digest. Times
    stored in UTC print in China Standard Time."""
    monkeypatch.delenv("CEPING_TIMEZONE", raising=False)
    report = make_selection()
    pdf = selection_report_pdf(report)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)
    flat = squash(text)

    assert MEETING_TITLE in text
    assert "部门组“特优”差额票决计票结果报告单" in flat
    assert "2025-12-28" in text and "区行政中心第一会议室" in text
    assert "主持人" in text
    # Both rounds, in order, with their times to the minute and their seats.
    assert flat.index("部门组“特优”差额票决（第2次投票）") > flat.index("区住建局")
    assert "2025-12-2809:30" in flat and "2025-12-2809:52" in flat and "2025-12-2810:27" in flat
    assert "应选3名" in flat and "应选1名" in flat
    # R19 counts of the first round, and the paper-entered ballots.
    for label in ("应到", "实到", "发出", "收回", "有效", "无效", "纸质录入"):
        assert label in text
    assert "605757565423" in flat  # 应到 实到 发出 收回 有效 无效 纸质录入 in one row
    # Candidates: votes, 得票率 (36 / 54 = 66.67 %), results.
    for unit in ("区发改局", "区财政局", "区教育局", "区卫健局", "区住建局"):
        assert unit in text
    for share in ("83.33%", "75.93%", "66.67%", "37.04%", "22.22%", "52.63%", "47.37%"):
        assert share in text
    assert "特优" in text and "优秀" in text and "待再次投票" in text
    assert "尚有 1 个名额未产生" in text
    assert "区发改局、区财政局、区教育局" in flat  # the elected, after the runoff
    for rule in report.rules:
        assert squash(rule) in flat
    for role in ("计票人", "监票人", "主持人"):
        assert role in text
    assert flat.count("监票人") >= 2
    assert f"计票摘要（SHA-256）：{DIGEST}" in flat
    assert "第1页共" in flat


def test_selection_report_pdf_escapes_names(tmp_path):
    """Names are data: ``<script>&`` prints literally (autoescaping), never as markup."""
    text = pdf_text(selection_report_pdf(make_selection()), tmp_path)
    assert HOSTILE in text
    assert "&amp;" not in text and "&lt;" not in text


def test_selection_report_pdf_prints_broken_counts(tmp_path):
    """R19: when 有效 + 无效 ≠ 收回 the sheet says so before anyone signs it."""
    report = make_selection(counts=RoundCounts(expected=60, present=57, issued=57, returned=56, valid=55, invalid=2))
    assert report.problems
    flat = squash(pdf_text(selection_report_pdf(report), tmp_path))
    assert "计数核对异常" in flat
    for problem in report.problems:
        assert squash(problem) in flat


def test_selection_report_pdf_without_counted_rounds(tmp_path):
    """A group whose 票决 has not been counted yet still prints (a sheet that says so)."""
    report = make_selection()
    report = SelectionReport(**{**report.__dict__, "rounds": (), "final": tuple((u, "未计票") for u, _ in report.final)})
    text = pdf_text(selection_report_pdf(report), tmp_path)
    assert "尚未计票" in text
    assert pdf_pages(selection_report_pdf(report), tmp_path) == 1


# --- composite table --------------------------------------------------------------------


def test_composite_pdf_prints_units_and_leaders(tmp_path):
    """DOMAIN §7 composite table (R1, R2, R3, R5, R6): per group, each unit's target,
    democratic and composite scores, grade with the veto reason, rank, 特优/优秀, reward with 2
    decimals; then the leaders; the rules and signature lines in the footer."""
    report = make_assessment()
    pdf = composite_pdf(report)
    text = pdf_text(pdf, tmp_path)
    flat = squash(text)

    assert MEETING_TITLE in text
    assert "2025年度综合考核结果" in text
    assert "部门组" in text and "乡镇组" in text
    for figure in ("92.00", "95.50", "93.40", "18400.00", "15100.50", "89.90", "84.30"):
        assert figure in text
    assert "一票否决：安全生产" in flat
    assert "不达标" in text and "基本达标" in text
    assert "特优" in text and "优秀" in text and "待再次投票" in text
    assert "连续两年列本组后两名" in flat
    assert HOSTILE in text and FORMULA in text
    assert "&amp;" not in text
    # Leaders.
    for figure in ("张三", "87.70", "90.28", "称职", "基本称职", "党工委书记", "93.72"):
        assert figure in text
    assert "连续两年被评为基本称职" in flat
    for rule in report.rules:
        assert squash(rule) in flat
    for role in ("制表人", "审核人", "主持人", "日期"):
        assert role in text


def test_composite_pdf_without_rewards_prints_dashes(tmp_path):
    """R5 is optional: with no reward rate every 奖金 is "—", nothing like 0.00 or None."""
    text = pdf_text(composite_pdf(make_assessment(rewards=False)), tmp_path)
    assert "18400.00" not in text and "None" not in text
    assert "—" in text


# --- composite .xlsx --------------------------------------------------------------------


def _sheet_rows(data: bytes, sheet: str) -> list[list]:
    workbook = load_workbook(io.BytesIO(data))
    return [list(r) for r in workbook[sheet].iter_rows(values_only=True)]


def test_composite_xlsx_has_the_pdf_figures_as_numbers():
    """§7 composite table as .xlsx: same columns and figures as the PDF; scores and rewards are
    numbers formatted 0.00; a unit named ``=cmd()`` is stored as text (formula injection)."""
    data = composite_xlsx(make_assessment())
    workbook = load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["单位", "领导干部"]
    ws = workbook["单位"]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    header = rows.index(next(r for r in rows if r[0] == "序号"))
    assert rows[header][:11] == ["序号", "单位", "分组", "综合目标考核得分", "民主测评得分", "综合得分", "等次", "组内排名", "特优/优秀", "奖金（元）", "标记"]
    by_name = {r[1]: r for r in rows[header + 1 :] if r[1]}
    fagai = by_name["区发改局"]
    assert fagai[:6] == [1, "区发改局", "部门组", 92.0, 95.5, 93.4]
    assert fagai[7:10] == [1, "特优", 18400.0]
    cell = next(c for c in ws[header + 2] if c.value == 18400.0)
    assert cell.number_format == "0.00"
    assert by_name["区住建局"][4] == "—" and by_name["区住建局"][10] == "连续两年列本组后两名"
    assert by_name["青山镇"][6] == "不达标（一票否决：安全生产）"
    assert by_name["区教育局"][8] == "待再次投票"
    # The formula-looking name is text with a leading quote, never a formula.
    assert f"'{FORMULA}" in by_name
    assert by_name[f"'{FORMULA}"][0] == 3  # 序号 within 乡镇组
    assert not any(isinstance(v, str) and v.startswith("=") for r in rows for v in r)
    # Rules and signature lines below the table.
    texts = [r[0] for r in rows if isinstance(r[0], str)]
    assert any(t.startswith("综合得分：") for t in texts)
    assert any("制表人" in t and "主持人" in t for t in texts)

    leaders = _sheet_rows(data, "领导干部")
    zhang = next(r for r in leaders if r[3] == "张三")
    assert zhang[:10] == [1, "区发改局", "部门组", "张三", "局长", "是", 87.7, "称职", 90.28, 1]
    wang = next(r for r in leaders if r[3] == "王五")
    assert wang[6:10] == ["—", "—", "—", "—"]


# --- the 「单位」 import ---------------------------------------------------------------------


def test_units_template_round_trips_and_validates():
    """The template's example (6 部门组, 4 乡镇组, one vetoed for 安全生产; R2, R3, R5) reads back
    row by row with Excel's row numbers, 是/否 mapped, and passes ``validate_units``."""
    rows = read_units_xlsx(units_template_xlsx())
    assert len(rows) == len(EXAMPLE_UNITS) == 10
    assert [r["_row"] for r in rows] == list(range(2, 12))
    assert [r["group"] for r in rows].count("部门组") == 6 and [r["group"] for r in rows].count("乡镇组") == 4
    vetoed = [r for r in rows if r["vetoed"] is True]
    assert [(r["name"], r["veto_reason"]) for r in vetoed] == [("青山镇", "安全生产")]
    assert all(r["vetoed"] is False for r in rows if r is not vetoed[0])
    assert rows[0] == {"name": "区发改局", "group": "部门组", "target_score": "95.5", "vetoed": False, "veto_reason": "", "staff": 32, "_row": 2}
    assert validate_units(rows) == []
    workbook = load_workbook(io.BytesIO(units_template_xlsx()))
    assert "填写说明" in workbook.sheetnames
    assert any('"是,否"' in (v.formula1 or "") for v in workbook["单位"].data_validations.dataValidation)


def _units_workbook(header: list, rows: list[list], *, sheet: str = "单位", title: str | None = None) -> bytes:
    workbook = Workbook()
    ws = workbook.active
    ws.title = sheet
    if title:
        ws.append([title])
    ws.append(header)
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_read_units_accepts_aliases_and_passes_odd_values_through():
    """Aliased headers in another order under a title row; empty 一票否决 is 否; text that is
    not 是/否 or not a number is passed through for ``validate_units`` to report (R2)."""
    data = _units_workbook(
        ["单位名称", "是否一票否决", "考核得分", "分组", "职工人数", "否决原因"],
        [
            ["区发改局", None, 92.5, "部门组", 30, None],
            [None, None, None, None, None, None],
            ["城东街道", "是", "88", "乡镇组", "45", "综治"],
            ["青山镇", "可能", "九十", "乡镇组", 12.5, ""],
        ],
        title="2025年度单位名单",
    )
    rows = read_units_xlsx(data)
    assert rows == [
        {"name": "区发改局", "group": "部门组", "target_score": "92.5", "vetoed": False, "veto_reason": "", "staff": 30, "_row": 3},
        {"name": "城东街道", "group": "乡镇组", "target_score": 88, "vetoed": True, "veto_reason": "综治", "staff": 45, "_row": 5},
        {"name": "青山镇", "group": "乡镇组", "target_score": "九十", "vetoed": "可能", "veto_reason": "", "staff": "12.5", "_row": 6},
    ]
    errors = validate_units(rows)
    assert len(errors) == 3 and all("第 6 行" in e for e in errors)


def test_read_units_refuses_what_is_not_the_format():
    """Not an .xlsx, no 「单位」 sheet, a missing column: SheetFormatError in Chinese."""
    with pytest.raises(SheetFormatError, match="不是 Excel 工作簿"):
        read_units_xlsx("单位,分组\n区发改局,部门组\n".encode())
    with pytest.raises(SheetFormatError, match="空的"):
        read_units_xlsx(b"")
    with pytest.raises(SheetFormatError, match="缺少工作表「单位」"):
        read_units_xlsx(_units_workbook(["单位"], [["区发改局"]], sheet="Sheet1"))
    with pytest.raises(SheetFormatError, match="缺少列「编内在职职工人数」"):
        read_units_xlsx(_units_workbook(["单位", "分组", "综合目标考核得分", "一票否决", "否决原因"], [["区发改局", "部门组", 90, "否", ""]]))
