"""The ballot items (R9, R15, R18) in every rendering of a round's results: the results page,
the 测评结果汇总表 PDF (its second sheet) and the .xlsx (sheet 「分项与逆向测评」). All of
them read one ``round_report``; these tests cast real ballots and read each rendering back.

PDF text is read with poppler's ``pdftotext`` / ``pdfinfo``; those tests skip without them.
Screenshots for a look: ``pdftoppm -r 60 -png summary.pdf page`` on a PDF a test wrote.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from app.extensions import db
from app.services import items as item_service, meetings, voting
from app.services.documents import item_tables, summary_pdf
from app.services.results import round_report
from app.services.spreadsheets import ITEMS_SHEET, summary_xlsx
from tests.services.test_items import _ids, _set

DNQJL = [("德", Decimal(15)), ("能", Decimal(10)), ("勤", Decimal(30)), ("绩", Decimal(30)), ("廉", Decimal(15))]
PEOPLE = [
    {"kind": "person", "unit": "区发改局", "name": "张三", "title": "局长", "principal": True},
    {"kind": "person", "unit": "区发改局", "name": "李四", "title": "副局长", "principal": False},
    {"kind": "person", "unit": "区财政局", "name": "王五", "title": "局长", "principal": True},
]
#: (德, 能, 勤, 绩, 廉) levels, 逆向测评 ticks and 使用意向 of four ballots for 张三, each
#: with the overall grade 称职: 德 100, 能 80, 勤 90, 绩 60, 廉 100 → weighted 83.00 (R15).
PLAN = [
    ((0, 1, 0, 2, 0), ["协作不好"], "提拔"),
    ((0, 1, 1, 2, 0), [], "提拔"),
    ((0, 1, 0, 2, 0), ["协作不好", "工作作风不实"], "继任"),
    ((0, 1, 1, 2, 0), [], None),
]
SECOND_SHEET = "测评结果汇总表（二）分项评价、逆向测评和使用意向"
REHEARSAL = "模拟测试（演练）结果，不作为正式结果"
MARKUP = '<script>&"'
FORMULA = "=1+1"


@pytest.fixture
def itemized(make_meeting, codes_of):
    """Three leaders; 德能勤绩廉 weighted, the default 逆向测评 and 使用意向 lists; the four
    ballots of ``PLAN`` for 张三; the round closed."""
    meeting = make_meeting(targets=PEOPLE, slips={"A": 10, "B": 10, "C": 10})
    round_ = meeting.rounds[0]
    _set(round_, dimensions=DNQJL, reverse=item_service.DEFAULT_REVERSE["person"], intent=item_service.DEFAULT_INTENT, top_cap=1)
    meetings.open_round(round_, "test")
    zhang = round_.targets[0].id
    dims, rev, intent = _ids(round_, "dimension"), _ids(round_, "reverse"), _ids(round_, "intent")
    for code, (levels, ticks, choice) in zip(codes_of(meeting), PLAN):
        answers = {
            "dimensions": {dims[label]: level for (label, _), level in zip(DNQJL, levels)},
            "reverse": [rev[t] for t in ticks],
        }
        if choice:
            answers["intent"] = intent[choice]
        voting.cast(voting.resolve(code), round_.id, {zhang: 1}, {zhang: answers})
    meetings.close_round(round_, "test")
    return meeting


@pytest.fixture
def plain(make_meeting, codes_of):
    """The same three leaders and ballots' overall grades, without any item."""
    meeting = make_meeting(targets=PEOPLE, slips={"A": 10, "B": 10, "C": 10}, open=True)
    round_ = meeting.rounds[0]
    for code in codes_of(meeting)[: len(PLAN)]:
        voting.cast(voting.resolve(code), round_.id, {round_.targets[0].id: 1})
    meetings.close_round(round_, "test")
    return meeting


@pytest.fixture
def hostile(make_meeting, codes_of):
    """Item labels with markup and a formula: they must print as text everywhere."""
    meeting = make_meeting(targets=PEOPLE, slips={"A": 10, "B": 10, "C": 10})
    round_ = meeting.rounds[0]
    _set(round_, dimensions=[(FORMULA, None), ("能", None)], reverse=[MARKUP, "协作不好"], intent=["提拔", FORMULA])
    meetings.open_round(round_, "test")
    rev = _ids(round_, "reverse")
    zhang = round_.targets[0].id
    voting.cast(voting.resolve(codes_of(meeting)[0]), round_.id, {zhang: 0}, {zhang: {"reverse": [rev[MARKUP]]}})
    meetings.close_round(round_, "test")
    return meeting


def _report(meeting):
    return round_report(meeting.rounds[0])


# ------------------------------------------------------------------------------------------
# Reading the renderings back
# ------------------------------------------------------------------------------------------


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if not exe:
        pytest.skip(f"{name} (poppler-utils) is not installed")
    return exe


def pdf_text(pdf: bytes, tmp_path, name: str = "summary") -> str:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    # -raw keeps the text in the order it was drawn, so a header wrapped in its cell stays whole.
    command = [_tool("pdftotext"), "-raw", "-enc", "UTF-8", str(path), "-"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def pdf_pages(pdf: bytes, tmp_path) -> int:
    path = tmp_path / "pages.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([_tool("pdfinfo"), str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def pdf_page_texts(pdf: bytes, tmp_path) -> list[str]:
    return pdf_text(pdf, tmp_path).split("\f")[:-1]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def page(client, meeting) -> str:
    response = client.get(f"/organizer/rounds/{meeting.rounds[0].id}/results")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def items_section(html: str) -> str:
    match = re.search(r'<section class="items">.*?</section>', html, re.S)
    assert match, "no items section on the page"
    return match.group(0)


def target_row(html: str, name: str) -> list[str]:
    """The cells of ``name``'s row, each as its text without tags (``83.00 称职``)."""
    match = re.search(r"<tr><td>\d+</td><td>[^<]*</td><td>" + re.escape(name) + r"</td>.*?</tr>", html, re.S)
    assert match, f"no row for {name}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", match.group(0), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells]


def workbook(data: bytes):
    return load_workbook(io.BytesIO(data))


def sheet_rows(ws) -> list[tuple]:
    return list(ws.iter_rows(values_only=True))


# ------------------------------------------------------------------------------------------
# The results page
# ------------------------------------------------------------------------------------------


def test_page_shows_dimension_scores_weights_and_the_weighted_score(client, auth, itemized):
    """R15: per dimension its score and band, the weights in the header, 折合分 83.00 as their
    weighted sum, and a note saying so; the main table stays as it was."""
    html = page(client, itemized)
    section = items_section(html)
    assert "分项评价与逆向测评、使用意向" in section
    dims = re.search(r"<table class=\"grid items\">.*?</table>", section, re.S).group(0)
    headers = [" ".join(re.sub(r"<[^>]+>", " ", h).split()) for h in re.findall(r"<th[^>]*>(.*?)</th>", dims, re.S)]
    assert headers == ["序号", "单位", "姓名/班子", "职务", "德 权重 15", "能 权重 10", "勤 权重 30", "绩 权重 30", "廉 权重 15", "折合分"]
    assert target_row(dims, "张三")[4:] == ["100.00 优秀", "80.00 称职", "90.00 优秀", "60.00 基本称职", "100.00 优秀", "83.00"]
    assert target_row(dims, "李四")[4:] == ["— —"] * 5 + ["—"]
    assert "折合分 = Σ(分项权重 × 分项得分) ÷ Σ权重" in section
    main = target_row(html, "张三")  # the first table on the page is the main one
    assert "83.00" in main and "称职" in main
    assert 'title="优秀 4 · 称职 0 · 基本称职 0 · 不称职 0 · 弃权 0"' in dims  # 德: four 优秀


def test_page_shows_reverse_and_intent_counts_with_percentages(client, auth, itemized):
    """R18: each 逆向测评 and 使用意向 option: count and share of the 4 valid ballots."""
    section = items_section(page(client, itemized))
    table = re.findall(r"<table class=\"grid items\">.*?</table>", section, re.S)[1]
    assert "逆向测评（可多选）" in table and "使用意向" in table
    labels = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th(?: class=\"split\")?>(.*?)</th>", table, re.S)]
    assert labels == [*item_service.DEFAULT_REVERSE["person"], "提拔", "继任", "改非", "降职"]
    cells = target_row(table, "张三")[4:]
    reverse = dict(zip(item_service.DEFAULT_REVERSE["person"], cells))
    assert reverse["协作不好"] == "2 50.00%" and reverse["工作作风不实"] == "1 25.00%" and reverse["民主意识不强"] == "0 0.00%"
    assert cells[-4:] == ["2 50.00%", "1 25.00%", "0 0.00%", "0 0.00%"]
    assert "有效票（4 张）" in section


def test_page_without_items_has_no_items_section(client, auth, plain):
    html = page(client, plain)
    assert '<section class="items">' not in html and "分项评价" not in html and REHEARSAL not in html


def test_page_says_rehearsal(client, auth, itemized):
    """A 模拟测试 round's results cannot be taken for the real ones."""
    itemized.rehearsal = True
    db.session.commit()
    html = page(client, itemized)
    assert f'<p class="banner rehearsal" role="note">{REHEARSAL}</p>' in html


def test_page_escapes_item_labels(client, auth, hostile):
    html = page(client, hostile)
    assert MARKUP not in html
    assert "&lt;script&gt;&amp;&#34;" in items_section(html)
    assert ">=1+1<" in html  # text on a page is harmless; only Excel would run it


# ------------------------------------------------------------------------------------------
# The PDF: 测评结果汇总表（二）
# ------------------------------------------------------------------------------------------


def test_pdf_second_sheet_has_dimensions_reverse_and_intent(itemized, plain, tmp_path):
    """§7: a second sheet on its own page with the dimension scores, 逆向测评 and 使用意向
    (count and %), and the footer (rules, 计票人 / 监票人, date) on it too."""
    with_items = summary_pdf(_report(itemized))
    without = summary_pdf(_report(plain))
    assert pdf_pages(with_items, tmp_path) == pdf_pages(without, tmp_path) + 1
    pages = pdf_page_texts(with_items, tmp_path)
    first, second = squash(pages[0]), squash(pages[-1])
    assert squash(SECOND_SHEET) not in first and squash(SECOND_SHEET) in second
    for text in ("分项评价", "逆向测评", "使用意向", *(label for label, _ in DNQJL), "权重15", "折合分", "83.00", "称职", "90.00", "基本称职"):
        assert text in second, text
    for label in (*item_service.DEFAULT_REVERSE["person"], *item_service.DEFAULT_INTENT):
        assert label in second, label
    assert "2" + "50.00%" in second and "1" + "25.00%" in second
    # The footer is on the second sheet too.
    assert "计分规则（领导干部）" in second and "分项计分（领导干部）" in second
    assert "计票人" in second and "监票人" in second and "日期" in second
    assert "第2页共2页" in second


def test_pdf_without_items_has_no_second_sheet(plain, tmp_path):
    report = _report(plain)
    text = squash(pdf_text(summary_pdf(report), tmp_path))
    assert pdf_pages(summary_pdf(report), tmp_path) == 1
    assert "（二）" not in text and "逆向测评" not in text and "模拟测试" not in text
    assert item_tables(report, "person") == []


def test_pdf_marks_every_page_of_a_rehearsal(itemized, tmp_path):
    itemized.rehearsal = True
    db.session.commit()
    pages = pdf_page_texts(summary_pdf(_report(itemized)), tmp_path)
    assert len(pages) == 2
    assert all(REHEARSAL in squash(p) for p in pages)


def test_pdf_escapes_item_labels(hostile, tmp_path):
    text = squash(pdf_text(summary_pdf(_report(hostile)), tmp_path))
    assert "<script>" in text and '&"' in text  # printed literally, not run as markup
    assert "=1+1" in text


def test_many_items_continue_in_another_table(itemized):
    """A kind with more columns than fit on A4 landscape continues in further tables, each
    repeating who, cut where a part starts when that part then fits; every column appears
    once, in ballot order."""
    report = _report(itemized)
    labels = [*(label for label, _ in DNQJL), "折合分", *item_service.DEFAULT_REVERSE["person"], *item_service.DEFAULT_INTENT]
    assert [[c.label for c in t.columns] for t in item_tables(report, "person")] == [labels]
    tables = item_tables(report, "person", per_table=7)
    assert [t.parts for t in tables] == [
        (("分项评价（得分 / 等次）", 6),),
        (("逆向测评（票数 / 占有效票）", 6),),
        (("使用意向（票数 / 占有效票）", 4),),
    ]
    assert all(len(t.rows) == 3 and all(len(cells) == len(t.columns) for _, cells in t.rows) for t in tables)
    assert tables[2].rows[0][1] == (("2", "50.00%"), ("1", "25.00%"), ("0", "0.00%"), ("0", "0.00%"))
    # A part longer than a table fills tables up.
    tables = item_tables(report, "person", per_table=5)
    assert [len(t.columns) for t in tables] == [5, 5, 2, 4]
    assert [c.label for t in tables for c in t.columns] == labels


# ------------------------------------------------------------------------------------------
# The .xlsx: sheet 「分项与逆向测评」
# ------------------------------------------------------------------------------------------


def _items_header(ws) -> dict[tuple[str, str], int]:
    """Column of each (item label, 得分/等次/票数/占比) under the three header rows at 5–7."""
    out, label = {}, None
    for column in range(5, ws.max_column + 1):
        label = ws.cell(row=6, column=column).value or label  # merged cells read None
        out[(label, ws.cell(row=7, column=column).value)] = column
    return out


def test_xlsx_second_sheet_has_the_numbers(itemized):
    """Same figures as the PDF: scores as numbers shown 0.00, counts as integers, shares as
    numbers shown 0.00%; the header frozen; the rules and signature lines under the table."""
    book = workbook(summary_xlsx(_report(itemized)))
    assert book.sheetnames == ["领导干部", ITEMS_SHEET]
    ws = book[ITEMS_SHEET]
    assert SECOND_SHEET in ws["A2"].value
    assert [ws.cell(row=5, column=c).value for c in range(1, 6)] == ["序号", "单位", "姓名", "职务", "分项评价"]
    assert ws.freeze_panes == "E8"
    assert ws.print_title_rows == "$5:$7"
    columns = _items_header(ws)
    zhang = 8
    assert [ws.cell(row=zhang, column=c).value for c in range(1, 5)] == [1, "区发改局", "张三", "局长"]
    scores = [ws.cell(row=zhang, column=columns[(f"{label}（权重{weight}）", "得分")]) for label, weight in DNQJL]
    assert [c.value for c in scores] == [100, 80, 90, 60, 100] and {c.number_format for c in scores} == {"0.00"}
    bands = [ws.cell(row=zhang, column=columns[(f"{label}（权重{weight}）", "等次")]).value for label, weight in DNQJL]
    assert bands == ["优秀", "称职", "优秀", "基本称职", "优秀"]
    weighted = ws.cell(row=zhang, column=columns[("折合分（加权）", "得分")])
    assert weighted.value == 83 and weighted.number_format == "0.00"
    assert ws.cell(row=zhang, column=columns[("折合分（加权）", "等次")]).value == "称职"
    count, share = (ws.cell(row=zhang, column=columns[("协作不好", h)]) for h in ("票数", "占比"))
    assert (count.value, share.value, share.number_format) == (2, 0.5, "0.00%")
    assert [ws.cell(row=zhang, column=columns[(label, "票数")]).value for label in item_service.DEFAULT_INTENT] == [2, 1, 0, 0]
    assert ws.cell(row=zhang, column=columns[("继任", "占比")]).value == 0.25
    assert ws.cell(row=zhang + 1, column=columns[("德（权重15）", "得分")]).value == "—"  # 李四: no dimension marked
    assert ws.cell(row=5, column=columns[("提拔", "票数")]).value == "使用意向"
    texts = [c for row in sheet_rows(ws)[zhang + 2 :] for c in row if isinstance(c, str)]
    assert any(t.startswith("计分规则（领导干部）") for t in texts) and any(t.startswith("分项计分（领导干部）") for t in texts)
    assert any(t.startswith("计票人：") for t in texts) and any(t.startswith("日期：") for t in texts)


def test_xlsx_without_items_is_unchanged(plain):
    book = workbook(summary_xlsx(_report(plain)))
    assert book.sheetnames == ["领导干部"]
    assert not any("模拟测试" in str(c) for row in sheet_rows(book["领导干部"]) for c in row)


def test_xlsx_says_rehearsal_on_every_sheet(itemized):
    itemized.rehearsal = True
    db.session.commit()
    book = workbook(summary_xlsx(_report(itemized)))
    assert all(REHEARSAL in ws["A2"].value for ws in book.worksheets)


def test_xlsx_neutralises_formula_labels(hostile):
    ws = workbook(summary_xlsx(_report(hostile)))[ITEMS_SHEET]
    headers = [c.value for row in ws.iter_rows(min_row=6, max_row=6) for c in row if c.value]
    assert "'" + FORMULA in headers and MARKUP in headers
    assert FORMULA not in headers
    assert all(ws.cell(row=6, column=c).data_type == "s" for c in range(1, ws.max_column + 1) if ws.cell(row=6, column=c).value)


def test_both_kinds_get_a_sheet_each(make_meeting, codes_of):
    """Teams and leaders with items: one 「分项与逆向测评」 sheet per kind, and the PDF
    second sheet lists both."""
    meeting = make_meeting()
    round_ = meeting.rounds[0]
    _set(round_, "team", dimensions=[("领导水平", None), ("工作实绩", None)], reverse=item_service.DEFAULT_REVERSE["team"])
    _set(round_, "person", intent=item_service.DEFAULT_INTENT)
    meetings.open_round(round_, "test")
    meetings.close_round(round_, "test")
    report = _report(meeting)
    assert workbook(summary_xlsx(report)).sheetnames == ["领导班子", "领导干部", f"{ITEMS_SHEET}（领导班子）", f"{ITEMS_SHEET}（领导干部）"]
    assert [t.parts for t in item_tables(report, "team")] == [(("分项评价（得分 / 等次）", 2), ("逆向测评（票数 / 占有效票）", 7))]
    assert [t.parts for t in item_tables(report, "person")] == [(("使用意向（票数 / 占有效票）", 4),)]
