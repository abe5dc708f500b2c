"""XLSX import reader, template and 测评结果汇总表 (app.services.spreadsheets). No database."""

from __future__ import annotations

import io
import json
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from app.core.scales import KIND_LABELS, PERSON, TEAM, level_labels, scoring_rule_text
from app.core.scoring import CategorySpec, RoundCounts, ScoringPolicy, TargetTally, score_targets
from app.services.results import CategoryInfo, RoundReport, TargetRow
from app.services.spreadsheets import (
    EXAMPLE_MEETING,
    SheetFormatError,
    meeting_template_xlsx,
    read_meeting_xlsx,
    safe_text,
    summary_xlsx,
)

EXAMPLE_JSON = Path(__file__).resolve().parents[2] / "docs" / "examples" / "meeting.json"


def _without_rows(definition: dict) -> dict:
    out = {k: v for k, v in definition.items() if k != "_rows"}
    for key in ("categories", "targets", "rounds"):
        out[key] = [{k: v for k, v in item.items() if k != "_row"} for item in out[key]]
    return out


def _workbook_bytes(sheets: dict[str, dict[int, list]]) -> bytes:
    """A workbook from ``{sheet: {row number: cells}}``; rows not listed stay empty."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        ws = workbook.create_sheet(title)
        for number, cells in rows.items():
            for column, value in enumerate(cells, start=1):
                ws.cell(row=number, column=column, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _minimal(**replace: dict[int, list]) -> dict[str, dict[int, list]]:
    sheets = {
        "会议": {1: ["项目", "内容"], 2: ["会议名称", "测评会"], 3: ["应到人数", 50]},
        "测评人员类别": {1: ["代码", "名称", "权重%"], 2: ["A", "全体", 100]},
        "测评对象": {1: ["类型", "单位", "姓名", "职务", "主要负责人"], 2: ["班子", "区发改局", None, None, None]},
        "轮次": {1: ["名称", "测评对象"], 2: ["领导班子测评", "班子"]},
    }
    sheets.update(replace)
    return sheets


# ---------------------------------------------------------------------------------- template


def test_template_round_trips_into_the_definition_dict():
    """The template's example (R12 values, R13 default, R14 categories 30/40/30) reads back
    as the import dict, with the row number Excel shows on every item."""
    definition = read_meeting_xlsx(meeting_template_xlsx())

    assert definition["title"] == "2026年度领导班子和领导干部民主测评大会"
    assert definition["date"] == "2026-12-01"
    assert definition["place"] == "区行政中心第一会议室"
    assert definition["expected"] == 300
    assert definition["level_values"] == [100, 80, 60, 40]
    assert definition["abstain_as_zero"] is False
    assert definition["_rows"] == {"title": 2, "date": 3, "place": 4, "expected": 5, "level_values": 6, "abstain_as_zero": 7}
    assert definition["categories"] == [
        {"code": "A", "name": "领导班子成员", "weight": 30, "_row": 2},
        {"code": "B", "name": "中层干部", "weight": 40, "_row": 3},
        {"code": "C", "name": "一般干部·服务对象", "weight": 30, "_row": 4},
    ]
    assert definition["targets"][:3] == [
        {"kind": "team", "unit": "区发改局", "name": "", "title": "", "principal": False, "_row": 2},
        {"kind": "person", "unit": "区发改局", "name": "张三", "title": "局长", "principal": True, "_row": 3},
        {"kind": "person", "unit": "区发改局", "name": "李四", "title": "副局长", "principal": False, "_row": 4},
    ]
    assert [t["_row"] for t in definition["targets"]] == list(range(2, 14))
    assert definition["rounds"] == [
        {"title": "领导班子测评", "targets": "team", "_row": 2},
        {"title": "领导干部测评", "targets": "person", "_row": 3},
    ]
    assert _without_rows(definition) == EXAMPLE_MEETING


def test_docs_example_json_is_the_template_example():
    """docs/examples/meeting.json and the template show the same meeting (docs/import.md)."""
    assert json.loads(EXAMPLE_JSON.read_text(encoding="utf-8")) == EXAMPLE_MEETING


def test_template_has_bold_headers_widths_and_dropdowns():
    workbook = load_workbook(io.BytesIO(meeting_template_xlsx()))
    assert workbook.sheetnames[:4] == ["会议", "测评人员类别", "测评对象", "轮次"]
    targets = workbook["测评对象"]
    assert [c.value for c in targets[1]] == ["类型", "单位", "姓名", "职务", "主要负责人"]
    assert all(c.font.bold for c in targets[1])
    assert targets.column_dimensions["B"].width > 10
    lists = {str(v.sqref): v.formula1 for v in targets.data_validations.dataValidation}
    assert lists == {"A2:A1000": '"班子,个人"', "E2:E1000": '"是,否"'}
    rounds = workbook["轮次"]
    assert [v.formula1 for v in rounds.data_validations.dataValidation] == ['"班子,个人,全部"']


# ---------------------------------------------------------------------------------- reading


def test_blank_rows_keep_excel_row_numbers():
    """Entirely empty rows are skipped, and ``_row`` stays the number Excel shows, so errors
    can point at "工作表「测评对象」第 7 行"."""
    sheets = _minimal(
        测评对象={
            1: ["类型", "单位", "姓名", "职务", "主要负责人"],
            2: ["班子", "区发改局", None, None, None],
            3: [None, "   ", None, None, None],
            5: ["个人", "区发改局", "张三", "局长", "是"],
            7: ["个人", "区发改局", "李四", "副局长", "否"],
        },
        轮次={1: ["名称", "测评对象"], 4: ["领导干部测评", "个人"]},
    )
    definition = read_meeting_xlsx(_workbook_bytes(sheets))
    assert [t["_row"] for t in definition["targets"]] == [2, 5, 7]
    assert [t["name"] for t in definition["targets"]] == ["", "张三", "李四"]
    assert definition["rounds"] == [{"title": "领导干部测评", "targets": "person", "_row": 4}]


def test_chinese_labels_are_mapped_and_unknown_text_passed_through():
    """R8 kinds: 类型 班子/个人 → team/person; 主要负责人 是/否/empty → True/False; 轮次 班子/个人/全部
    → team/person/all. Unknown text is left for the validator to report."""
    sheets = _minimal(
        测评对象={
            1: ["类型", "单位", "姓名", "职务", "主要负责人"],
            2: ["班子", "区发改局", None, None, None],
            3: ["个人", "区发改局", "张三", "局长", "是"],
            4: ["个人", "区发改局", "李四", "副局长", "否"],
            5: ["部门", "区财政局", "王强", "局长", "不知道"],
        },
        轮次={1: ["名称", "测评对象"], 2: ["一", "班子"], 3: ["二", "个人"], 4: ["三", "全部"], 5: ["四", "其他"]},
    )
    definition = read_meeting_xlsx(_workbook_bytes(sheets))
    assert [(t["kind"], t["principal"]) for t in definition["targets"]] == [
        ("team", False),
        ("person", True),
        ("person", False),
        ("部门", "不知道"),
    ]
    assert [r["targets"] for r in definition["rounds"]] == ["team", "person", "all", "其他"]


def test_headers_found_by_text_in_any_order_with_extra_columns_and_a_title_row():
    sheets = _minimal(
        测评对象={
            1: ["2026年测评对象名单"],
            2: ["备注", "主要负责人", "职务", "姓名", "单位（全称）", "类型"],
            3: ["新任", "是", "局长", "张三", "区发改局", "个人"],
        },
        测评人员类别={1: ["类别代码", "类别名称", "权重（%）", "说明"], 2: ["A", "全体", "100%", "x"]},
    )
    definition = read_meeting_xlsx(_workbook_bytes(sheets))
    assert definition["targets"] == [
        {"kind": "person", "unit": "区发改局", "name": "张三", "title": "局长", "principal": True, "_row": 3}
    ]
    assert definition["categories"] == [{"code": "A", "name": "全体", "weight": 100, "_row": 2}]


def test_meeting_sheet_values_are_converted_faithfully():
    """R12 values as one text cell; R13 弃权计0分 是 → True; a text date becomes ISO; numbers
    stay int when integral, otherwise their text (the validator judges them)."""
    sheets = _minimal(
        会议={
            1: ["项目", "内容"],
            2: ["会议名称", "  测评会  "],
            3: ["日期", "2026年12月1日"],
            4: ["地点", "礼堂"],
            5: ["应到人数", 300.0],
            6: ["分值(好/优秀,较好/称职,一般/基本称职,差/不称职)", "100,80，60、0"],
            7: ["弃权计0分", "是"],
            8: ["无关项目", "忽略"],
        },
        测评人员类别={1: ["代码", "名称", "权重%"], 2: [1, "甲", 33.5], 3: ["B", "乙", "66.5"]},
    )
    definition = read_meeting_xlsx(_workbook_bytes(sheets))
    assert {k: definition[k] for k in ("title", "date", "place", "expected", "level_values", "abstain_as_zero")} == {
        "title": "测评会",
        "date": "2026-12-01",
        "place": "礼堂",
        "expected": 300,
        "level_values": [100, 80, 60, 0],
        "abstain_as_zero": True,
    }
    assert [(c["code"], c["weight"]) for c in definition["categories"]] == [("1", "33.5"), ("B", "66.5")]


def test_date_cell_and_percent_formatted_weight():
    workbook = Workbook()
    workbook.remove(workbook.active)
    sheets = _minimal()
    for title, rows in sheets.items():
        ws = workbook.create_sheet(title)
        for number, cells in rows.items():
            for column, value in enumerate(cells, start=1):
                ws.cell(row=number, column=column, value=value)
    workbook["会议"].append(["日期", datetime(2026, 12, 1, 0, 0)])
    workbook["测评人员类别"]["C2"] = 1
    workbook["测评人员类别"]["C2"].number_format = "0%"
    buffer = io.BytesIO()
    workbook.save(buffer)
    definition = read_meeting_xlsx(buffer.getvalue())
    assert definition["date"] == "2026-12-01"
    assert definition["categories"][0]["weight"] == 100


@pytest.mark.parametrize("data", [b"", b"title,expected\n", "会议名称".encode("utf-8"), b"PK\x03\x04 broken zip"])
def test_a_file_that_is_not_xlsx_is_refused_in_chinese(data):
    with pytest.raises(SheetFormatError) as caught:
        read_meeting_xlsx(data)
    assert "文件" in str(caught.value)


def test_an_old_xls_file_is_named():
    with pytest.raises(SheetFormatError, match=r"\.xls"):
        read_meeting_xlsx(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)


def test_a_missing_sheet_is_named():
    workbook = load_workbook(io.BytesIO(meeting_template_xlsx()))
    del workbook["轮次"]
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(SheetFormatError, match="缺少工作表「轮次」"):
        read_meeting_xlsx(buffer.getvalue())


def test_a_missing_header_is_named():
    sheets = _minimal(测评对象={1: ["类型", "单位", "姓名", "主要负责人"], 2: ["班子", "区发改局", None, None]})
    with pytest.raises(SheetFormatError, match="工作表「测评对象」缺少列「职务」"):
        read_meeting_xlsx(_workbook_bytes(sheets))


def test_cached_formula_values_are_read():
    """A formula cell is read as its cached value (data_only); openpyxl itself writes none."""
    sheets = _minimal(会议={1: ["项目", "内容"], 2: ["会议名称", "测评会"], 3: ["应到人数", "=100+200"]})
    definition = read_meeting_xlsx(_workbook_bytes(sheets))
    assert definition.get("expected") is None  # no cached value: reported missing by the validator


# ---------------------------------------------------------------------------------- summary


def _report() -> RoundReport:
    """DOMAIN §4 worked example: 张三, categories A 30 / B 40 / C 30 (R14);
    A 8/2/0/0 of 10, B 10/8/2/0 of 20, C 5/10/4/1 of 22 ballots (2 abstain, R13) → 87.70."""
    categories = [CategorySpec("A", Fraction(30)), CategorySpec("B", Fraction(40)), CategorySpec("C", Fraction(30))]
    ballots = {"A": 10, "B": 20, "C": 22}
    tallies = [
        TargetTally(1, TEAM, {"A": (10, 0, 0, 0), "B": (20, 0, 0, 0), "C": (20, 0, 0, 0)}, ballots),
        TargetTally(2, PERSON, {"A": (8, 2, 0, 0), "B": (10, 8, 2, 0), "C": (5, 10, 4, 1)}, ballots),
    ]
    scores = score_targets(tallies, categories, ScoringPolicy())
    who = [(TEAM, '=HYPERLINK("x")', '=HYPERLINK("x")领导班子', ""), (PERSON, "区发改局", "张三", "副局长")]
    rows = tuple(
        TargetRow(
            number=i,
            target_id=i,
            kind=kind,
            kind_label=KIND_LABELS[kind],
            unit=unit,
            name=name,
            title=title,
            levels=level_labels(kind),
            result=score,
            category_codes=("A", "B", "C"),
        )
        for i, ((kind, unit, name, title), score) in enumerate(zip(who, scores), start=1)
    )
    return RoundReport(
        meeting_id=1,
        meeting_title="2026年度领导班子和领导干部民主测评大会",
        meeting_place="区行政中心第一会议室",
        meeting_date="2026-12-01",
        round_id=1,
        round_title="领导干部测评",
        round_state="published",
        round_state_label="已公布",
        opened_dt=None,
        closed_dt=None,
        published_dt=None,
        counts=RoundCounts(expected=60, present=55, issued=55, returned=52, valid=52, invalid=0),
        categories=(
            CategoryInfo("A", "领导班子成员", Decimal(30)),
            CategoryInfo("B", "中层干部", Decimal(40)),
            CategoryInfo("C", "一般干部·服务对象", Decimal(30)),
        ),
        rows=rows,
        level_values=(100, 80, 60, 40),
        abstain_as_zero=False,
        rules=tuple(scoring_rule_text(k) for k in (TEAM, PERSON)),
        problems=(),
        generated_dt=datetime(2026, 12, 1, 10, 0),
    )


def _column(ws, header_row: int, header: str) -> int:
    return next(c.column for c in ws[header_row] if c.value == header)


def test_summary_has_the_worked_example_numbers():
    """R13/R14/R16/R17 on the §4 example: 折合分 87.70 (stored 87.7, shown 0.00), 等次 称职,
    优秀率 46.00%, 称职及以上率 86.00%, category scores 96 / 88 / 79, 弃权 2."""
    workbook = load_workbook(io.BytesIO(summary_xlsx(_report())))
    assert workbook.sheetnames == ["领导班子", "领导干部"]
    ws = workbook["领导干部"]
    header = next(r for r in range(1, 10) if ws.cell(row=r, column=1).value == "序号")
    row = header + 1
    cell = lambda name: ws.cell(row=row, column=_column(ws, header, name))  # noqa: E731
    assert ws.cell(row=row, column=3).value == "张三"
    assert cell("折合分").value == 87.7
    assert cell("折合分").number_format == "0.00"
    assert cell("等次").value == "称职"
    assert cell("排名").value == 1
    assert cell("优秀率").value == pytest.approx(0.46)
    assert cell("优秀率").number_format == "0.00%"
    assert cell("称职及以上率").value == pytest.approx(0.86)
    assert [cell(f"{c}类得分").value for c in "ABC"] == [96, 88, 79]
    assert [cell(h).value for h in ("优秀票数", "称职票数", "基本称职票数", "不称职票数", "弃权")] == [23, 20, 6, 1, 2]
    assert [cell(h).value for h in ("应到", "实到", "收回", "有效")] == [60, 55, 52, 52]
    assert ws.freeze_panes == f"D{header + 1}"
    assert all(c.font.bold for c in ws[header] if c.value)
    texts = [c.value for r in ws.iter_rows(min_row=row + 1) for c in r if isinstance(c.value, str)]
    assert [t for t in texts if t.startswith("计分规则")] == [scoring_rule_text(PERSON)]
    assert any(t.startswith("计票人：") and "监票人：" in t for t in texts)
    assert any(t.startswith("日期：") for t in texts)


def test_team_sheet_uses_team_wording():
    """R8/R17: teams are graded 好/较好/一般/差; their rates are 好 and 好+较好."""
    ws = load_workbook(io.BytesIO(summary_xlsx(_report())))["领导班子"]
    headers = [c.value for c in ws[5]]
    assert headers[:4] == ["序号", "单位", "班子", "职务"]
    assert {"好票数", "差占比", "好评率", "较好及以上率", "A类得分", "等次", "排名", "标记"} <= set(headers)
    assert ws.cell(row=6, column=headers.index("等次") + 1).value == "好"


def test_formula_like_text_is_written_as_text():
    """A unit named =HYPERLINK("x") must not become a formula in the signed sheet."""
    ws = load_workbook(io.BytesIO(summary_xlsx(_report())))["领导班子"]
    unit = ws.cell(row=6, column=2)
    assert unit.value == "'=HYPERLINK(\"x\")"
    assert unit.data_type == "s"
    assert ws.cell(row=6, column=3).value.startswith("'=")


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_safe_text_prefixes_formula_starts(text):
    assert safe_text(text) == "'" + text


def test_safe_text_leaves_other_values_alone():
    assert safe_text("区发改局") == "区发改局"
    assert safe_text(87.7) == 87.7
    assert safe_text(None) is None
    assert safe_text("a\x00b") == "ab"


def test_broken_counts_are_printed_under_the_table():
    """R19: a report whose counts break 有效 + 无效 = 收回 says so on the sheet."""
    from dataclasses import replace

    report = replace(_report(), problems=("有效 50 + 无效 0 ≠ 收回 52",))
    ws = load_workbook(io.BytesIO(summary_xlsx(report)))["领导干部"]
    texts = [c.value for r in ws.iter_rows() for c in r if isinstance(c.value, str)]
    assert "注意：有效 50 + 无效 0 ≠ 收回 52" in texts
