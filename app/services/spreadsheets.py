"""XLSX in and out: the meeting import workbook, its template, and the 测评结果汇总表 (DOMAIN §7).

Bytes in, bytes out: nothing here touches Flask, the database or the models.

- ``read_meeting_xlsx()`` turns a workbook into the meeting definition dict (the JSON import
  form, docs/import.md). It converts cells faithfully and maps the Chinese labels (班子 → team,
  是 → True …); judging the values is ``app.services.meetings.validate_definition``'s job, so
  anything unknown is passed through for it to report. Every list item carries ``_row``, the
  row number as Excel shows it, so errors can name "工作表「测评对象」第 5 行".
- ``meeting_template_xlsx()`` is the downloadable template, filled with ``EXAMPLE_MEETING``
  (the same example as docs/examples/meeting.json).
- ``summary_xlsx()`` writes a ``RoundReport`` with the same numbers as the PDF: scores are the
  2-decimal half-up values of R16, percentages the 2-decimal half-up values of R17, both stored
  as numbers whose display equals the printed text.
- ``read_units_xlsx()`` / ``units_template_xlsx()``: the 「单位」 import (综合目标考核得分, 一票否决,
  编内在职职工人数; R2, R3, R5), judged by ``app.services.units.validate_units``.
- ``composite_xlsx()`` writes an ``AssessmentReport`` (the composite table, §7) with the same
  columns and figures as ``documents.composite_pdf``.

Every string written to a cell goes through ``safe_text()`` (formula injection).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from ..core.scales import KIND_LABELS, PERSON, TEAM, level_labels, round_half_up
from ..core.scoring import percent

if TYPE_CHECKING:
    from .assessment import AssessmentReport, UnitRow
    from .results import RoundReport, TargetRow

__all__ = [
    "EXAMPLE_MEETING",
    "EXAMPLE_UNITS",
    "SheetFormatError",
    "composite_xlsx",
    "meeting_template_xlsx",
    "read_meeting_xlsx",
    "read_units_xlsx",
    "safe_text",
    "summary_xlsx",
    "units_template_xlsx",
]


class SheetFormatError(ValueError):
    """The upload is not a workbook of the import format; ``str()`` is the Chinese reason."""


# --------------------------------------------------------------------------------------------
# The import format
# --------------------------------------------------------------------------------------------

SHEET_MEETING = "会议"
SHEET_CATEGORIES = "测评人员类别"
SHEET_TARGETS = "测评对象"
SHEET_ROUNDS = "轮次"
SHEET_HELP = "填写说明"
REQUIRED_SHEETS = (SHEET_MEETING, SHEET_CATEGORIES, SHEET_TARGETS, SHEET_ROUNDS)

#: Header rows are looked for among the first few non-empty rows (a title row above is fine).
HEADER_SCAN_ROWS = 10
#: More non-empty rows than this in one sheet is not a meeting definition.
MAX_ROWS = 10_000


@dataclass(frozen=True)
class _Column:
    key: str
    header: str  # as written in the template
    aliases: tuple[str, ...] = ()
    width: int = 12

    @property
    def names(self) -> frozenset[str]:
        return frozenset(_norm(n) for n in (self.header, *self.aliases))


MEETING_COLUMNS = (_Column("label", "项目", (), 46), _Column("value", "内容", (), 40))
CATEGORY_COLUMNS = (
    _Column("code", "代码", ("类别代码",), 8),
    _Column("name", "名称", ("类别名称",), 26),
    _Column("weight", "权重%", ("权重", "比重"), 10),
)
TARGET_COLUMNS = (
    _Column("kind", "类型", ("对象类型",), 8),
    _Column("unit", "单位", ("单位名称", "所在单位"), 22),
    _Column("name", "姓名", (), 12),
    _Column("title", "职务", (), 16),
    _Column("principal", "主要负责人", ("是否主要负责人", "党政主要负责人"), 12),
)
ROUND_COLUMNS = (_Column("title", "名称", ("轮次名称",), 24), _Column("targets", "测评对象", (), 12))

LEVEL_VALUES_LABEL = "分值（好/优秀，较好/称职，一般/基本称职，差/不称职）"
#: 「会议」 rows: key, label written in the template, other accepted labels.
MEETING_ITEMS = (
    ("title", "会议名称", ("名称", "会议标题")),
    ("date", "日期", ("会议日期",)),
    ("place", "地点", ("会议地点",)),
    ("expected", "应到人数", ("应到",)),
    ("level_values", LEVEL_VALUES_LABEL, ("分值",)),
    ("abstain_as_zero", "弃权计0分", ("弃权按0分计", "弃权计零分")),
)
#: Labels that match by their start, e.g. "分值 好/优秀…" without brackets.
_MEETING_PREFIXES = (("分值", "level_values"), ("弃权", "abstain_as_zero"))

#: Chinese labels → canonical values (R8 kinds); unknown text is passed through unchanged.
KIND_VALUES = {"班子": TEAM, "领导班子": TEAM, "个人": PERSON, "领导干部": PERSON}
ROUND_TARGET_VALUES = {**KIND_VALUES, "全部": "all"}
YES_NO_VALUES = {"是": True, "否": False}
KIND_WORDS = {TEAM: "班子", PERSON: "个人", "all": "全部"}

_BRACKETED = re.compile(r"[（(【\[][^）)】\]]*[）)】\]]")
_HEADER_NOISE = re.compile(r"[\s*＊%％:：]")
_LIST_SEPARATORS = re.compile(r"[,，、;；/\s]+")
_DATE_TEXT = re.compile(r"^(\d{4})\s*[年/.\-]\s*(\d{1,2})\s*[月/.\-]\s*(\d{1,2})\s*日?$")


def _norm(value: Any) -> str:
    """A header or label for matching: bracketed notes, spaces, ``*``, ``%`` and colons removed."""
    if value is None:
        return ""
    return _HEADER_NOISE.sub("", _BRACKETED.sub("", str(value)))


_MEETING_KEYS = {_norm(name): key for key, label, aliases in MEETING_ITEMS for name in (label, *aliases)}


# --------------------------------------------------------------------------------------------
# Cell conversion (faithful; validation happens in app.services.meetings)
# --------------------------------------------------------------------------------------------


def _cell_value(cell: Any) -> Any:
    """A cell's value; a number shown as a percentage (30%, stored 0.3) reads as shown (30)."""
    value = getattr(cell, "value", None)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "%" in (getattr(cell, "number_format", None) or "") and math.isfinite(value):
            return Decimal(repr(value)) * 100
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _decimal_text(number: Decimal) -> str:
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _text(value: Any) -> str:
    """A text field: strings stripped; a number as written (1 → "1"); a date as ISO."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value).strip()


def _number(value: Any, *, percent_sign: bool = False) -> Any:
    """A numeric field: int when integral, else the number as a string ("33.5"); text that is
    not a number is passed through stripped, an empty cell is None.

    :param percent_sign: drop a trailing ``%`` from text (the 权重% column).
    """
    if _blank(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)
        return int(value) if value.is_integer() else repr(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else _decimal_text(value)
    if isinstance(value, str):
        text = value.strip()
        digits = text.rstrip("%％").strip() if percent_sign else text
        try:
            number = Decimal(digits)
        except InvalidOperation:
            return text
        if not number.is_finite():
            return text
        return int(number) if number == number.to_integral_value() else digits
    return _text(value)


def _yes_no(value: Any) -> Any:
    """是 → True, 否 → False, empty → False; a TRUE/FALSE cell as is; other text unchanged."""
    if isinstance(value, bool):
        return value
    text = _text(value)
    if not text:
        return False
    return YES_NO_VALUES.get(text, text)


def _label(value: Any, mapping: dict[str, Any]) -> str:
    text = _text(value)
    return mapping.get(text, text)


def _date(value: Any) -> str:
    """A date cell as ISO; text like 2026年12月1日 or 2026/12/1 as 2026-12-01; else as written."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value)
    match = _DATE_TEXT.match(text)
    if match:
        year, month, day = match.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return text


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_meeting_xlsx(data: bytes) -> dict:
    """Read an import workbook (docs/import.md) into the meeting definition dict.

    Sheets 「会议」, 「测评人员类别」, 「测评对象」 and 「轮次」 are required; their header rows are
    found by text (order free, extra columns and sheets ignored). Entirely empty rows are
    skipped; ``_row`` is the row number Excel shows. Formula cells are read as their cached
    values.

    :return: ``{"title", "date", "place", "expected", "level_values", "abstain_as_zero"`` (each
        only when its row has a value), ``"categories", "targets", "rounds"`` (lists of dicts with
        ``_row``), ``"_rows"`` (「会议」 row number per key)``}``.
    :raises SheetFormatError: when the file is not an .xlsx, or a sheet or header is missing.
    """
    workbook = _open_workbook(data)
    try:
        sheets = {name.strip(): name for name in workbook.sheetnames}
        missing = [name for name in REQUIRED_SHEETS if name not in sheets]
        if missing:
            names = "、".join(f"「{name}」" for name in missing)
            raise SheetFormatError(f"工作簿缺少工作表{names}。请下载导入模板，按模板的工作表名称填写。")

        result = _read_meeting_sheet(workbook[sheets[SHEET_MEETING]])
        result["categories"] = [
            {"code": _text(c["code"]), "name": _text(c["name"]), "weight": _number(c["weight"], percent_sign=True), "_row": n}
            for n, c in _read_table(workbook[sheets[SHEET_CATEGORIES]], SHEET_CATEGORIES, CATEGORY_COLUMNS)
        ]
        result["targets"] = [
            {
                "kind": _label(c["kind"], KIND_VALUES),
                "unit": _text(c["unit"]),
                "name": _text(c["name"]),
                "title": _text(c["title"]),
                "principal": _yes_no(c["principal"]),
                "_row": n,
            }
            for n, c in _read_table(workbook[sheets[SHEET_TARGETS]], SHEET_TARGETS, TARGET_COLUMNS)
        ]
        result["rounds"] = [
            {"title": _text(c["title"]), "targets": _label(c["targets"], ROUND_TARGET_VALUES), "_row": n}
            for n, c in _read_table(workbook[sheets[SHEET_ROUNDS]], SHEET_ROUNDS, ROUND_COLUMNS)
        ]
        return result
    finally:
        workbook.close()


def _open_workbook(data: bytes):
    if not data:
        raise SheetFormatError("上传的文件是空的。")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise SheetFormatError("这是旧版 Excel（.xls）文件。请在 Excel 或 WPS 中“另存为” .xlsx 格式后再导入。")
    if data[:2] != b"PK":
        raise SheetFormatError("文件不是 Excel 工作簿（.xlsx）。请使用导入模板填写后上传。")
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # any parse failure of an untrusted upload means "not a usable .xlsx"
        raise SheetFormatError("文件无法作为 Excel 工作簿（.xlsx）读取，可能已损坏或不是 .xlsx 格式。") from None


def _sheet_rows(ws: Worksheet, sheet: str) -> Iterator[tuple[int, list[Any]]]:
    """Non-empty rows as ``(row number, values)``; numbering counts the rows the file leaves out."""
    ws.reset_dimensions()  # some writers record a wrong size; read what is there
    seen = 0
    for number, cells in enumerate(ws.iter_rows(min_row=1), start=1):
        values = [_cell_value(cell) for cell in cells]
        if all(_blank(v) for v in values):
            continue
        seen += 1
        if seen > MAX_ROWS:
            raise SheetFormatError(f"工作表「{sheet}」超过 {MAX_ROWS} 行，不像是会议定义。")
        yield number, values


def _find_header(rows: Iterator[tuple[int, list[Any]]], sheet: str, columns: Sequence[_Column]) -> tuple[list[Any], dict[str, int]]:
    """Consume rows up to the header row and return it with each column's index."""
    best: dict[str, int] = {}
    for _, (_, values) in zip(range(HEADER_SCAN_ROWS), rows):
        names = [_norm(v) for v in values]
        index: dict[str, int] = {}
        for column in columns:
            found = next((i for i, name in enumerate(names) if name in column.names), None)
            if found is not None:
                index[column.key] = found
        if len(index) == len(columns):
            return values, index
        if len(index) > len(best):
            best = index
    expected = "、".join(c.header for c in columns)
    if best:
        missing = "、".join(f"「{c.header}」" for c in columns if c.key not in best)
        raise SheetFormatError(f"工作表「{sheet}」缺少列{missing}（表头应有：{expected}）。")
    raise SheetFormatError(f"工作表「{sheet}」找不到表头行（应有：{expected}）。")


def _read_table(ws: Worksheet, sheet: str, columns: Sequence[_Column]) -> list[tuple[int, dict[str, Any]]]:
    """The data rows under the header: ``(row number, {column key: value})``, empty rows skipped."""
    rows = _sheet_rows(ws, sheet)
    _, index = _find_header(rows, sheet, columns)
    out = []
    for number, values in rows:
        picked = {key: values[i] if i < len(values) else None for key, i in index.items()}
        if all(_blank(v) for v in picked.values()):
            continue
        out.append((number, picked))
    return out


def _meeting_key(label: Any) -> str | None:
    name = _norm(label)
    if not name:
        return None
    if name in _MEETING_KEYS:
        return _MEETING_KEYS[name]
    return next((key for prefix, key in _MEETING_PREFIXES if name.startswith(prefix)), None)


def _read_meeting_sheet(ws: Worksheet) -> dict:
    """「会议」: two columns 项目 | 内容. 分值 is four cells from 内容 on (up to the next column
    with a header) or one cell like "100,80,60,40". Unknown 项目 rows are ignored; the first
    row of each 项目 counts."""
    rows = _sheet_rows(ws, SHEET_MEETING)
    header, index = _find_header(rows, SHEET_MEETING, MEETING_COLUMNS)
    label_at, value_at = index["label"], index["value"]
    value_end = next((i for i in range(value_at + 1, len(header)) if _norm(header[i])), None)
    result: dict[str, Any] = {}
    row_of: dict[str, int] = {}
    for number, values in rows:
        key = _meeting_key(values[label_at] if label_at < len(values) else None)
        if key is None or key in row_of:
            continue
        row_of[key] = number
        cells = values[value_at:value_end]
        first = cells[0] if cells else None
        if key == "level_values":
            if isinstance(first, str) and _LIST_SEPARATORS.search(first.strip()):
                parts = [p for p in _LIST_SEPARATORS.split(first.strip()) if p]
            else:
                while cells and _blank(cells[-1]):
                    cells = cells[:-1]
                parts = cells
            if parts:
                result[key] = [_number(p) for p in parts]
        elif _blank(first):
            continue
        elif key == "expected":
            result[key] = _number(first)
        elif key == "date":
            result[key] = _date(first)
        elif key == "abstain_as_zero":
            result[key] = _yes_no(first)
        else:
            result[key] = _text(first)
    result["_rows"] = row_of
    return result


# --------------------------------------------------------------------------------------------
# Writing: one set of helpers for every sheet
# --------------------------------------------------------------------------------------------

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_WRAP = Alignment(vertical="center", wrap_text=True)
SCORE_FORMAT = "0.00"
PERCENT_FORMAT = "0.00%"
DASH = "—"


def safe_text(value: Any) -> Any:
    """Make a value safe to put in a cell: a string that Excel would take as a formula (it
    begins with = + - @, a tab or CR) gets a leading ``'``, and characters XML cannot hold are
    dropped. Other values are returned unchanged."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


@dataclass(frozen=True)
class _Num:
    """A numeric cell with its display format."""

    value: float | int
    number_format: str


def _put(ws: Worksheet, row: int, column: int, value: Any, *, table: bool = False, **style: Any):
    """Write one cell; every value passes through ``safe_text``. ``table`` adds the grid border."""
    if isinstance(value, _Num):
        style.setdefault("number_format", value.number_format)
        value = value.value
    cell = ws.cell(row=row, column=column, value=safe_text(value))
    if table:
        cell.border = _BORDER
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def _header(ws: Worksheet, row: int, headers: Sequence[str], widths: Sequence[int]) -> None:
    """The header row: bold on a tinted fill, bordered, centred; sets the column widths."""
    for column, (text, width) in enumerate(zip(headers, widths), start=1):
        _put(ws, row, column, text, table=True, font=_HEADER_FONT, fill=_HEADER_FILL, alignment=_CENTER)
        ws.column_dimensions[get_column_letter(column)].width = width


def _table(ws: Worksheet, columns: Sequence[_Column], rows: Sequence[Sequence[Any]], top: int = 1, **style: Any) -> int:
    """Header at ``top`` and the rows under it; freezes panes under the header.

    :return: the number of the last row written.
    """
    _header(ws, top, [c.header for c in columns], [c.width for c in columns])
    for offset, values in enumerate(rows, start=1):
        for column, value in enumerate(values, start=1):
            _put(ws, top + offset, column, value, table=True, **style)
    ws.freeze_panes = ws.cell(row=top + 1, column=1).coordinate
    return top + len(rows)


def _line(ws: Worksheet, row: int, text: str, width: int, *, font: Font | None = None, center: bool = False) -> None:
    """A text line merged across ``width`` columns, tall enough for its wrapped text."""
    _put(ws, row, 1, text, font=font or Font(), alignment=_CENTER if center else Alignment(vertical="center", wrap_text=True))
    if width > 1:
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
    room = sum(ws.column_dimensions[get_column_letter(c)].width or 8 for c in range(1, width + 1))
    lines = max(1, math.ceil(len(text) * 2.1 / max(room, 1)))  # a CJK character is ~2 widths
    size = (font.sz if font and font.sz else 11) or 11
    ws.row_dimensions[row].height = max(lines * size * 1.45, size * 1.6)


def _dropdown(ws: Worksheet, choices: Sequence[str], cells: str) -> None:
    """A list validation (dropdown) on ``cells``; blanks allowed, other text refused."""
    choice_text = ",".join(choices)
    rule = DataValidation(type="list", formula1=f'"{choice_text}"', allow_blank=True, showErrorMessage=True)
    rule.errorTitle = "输入有误"
    rule.error = f"请从下拉列表中选择：{choice_text}"
    ws.add_data_validation(rule)
    rule.add(cells)


def _save(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# The template
# --------------------------------------------------------------------------------------------


def _example_targets() -> list[dict]:
    units = (
        ("区发改局", (("张三", "局长", True), ("李四", "副局长", False))),
        ("区财政局", (("王强", "局长", True), ("刘洋", "副局长", False))),
        ("区教育局", (("陈静", "局长", True), ("杨帆", "副局长", False))),
        ("城东街道", (("赵磊", "党工委书记", True), ("孙敏", "办事处主任", True))),
    )
    out = []
    for unit, leaders in units:
        out.append({"kind": TEAM, "unit": unit, "name": "", "title": "", "principal": False})
        out.extend({"kind": PERSON, "unit": unit, "name": n, "title": t, "principal": p} for n, t, p in leaders)
    return out


#: The worked example of the template and of docs/examples/meeting.json (without ``_row``).
EXAMPLE_MEETING: dict = {
    "title": "2026年度领导班子和领导干部民主测评大会",
    "date": "2026-12-01",
    "place": "区行政中心第一会议室",
    "expected": 300,
    "level_values": [100, 80, 60, 40],
    "abstain_as_zero": False,
    "categories": [
        {"code": "A", "name": "领导班子成员", "weight": 30},
        {"code": "B", "name": "中层干部", "weight": 40},
        {"code": "C", "name": "一般干部·服务对象", "weight": 30},
    ],
    "targets": _example_targets(),
    "rounds": [
        {"title": "领导班子测评", "targets": TEAM},
        {"title": "领导干部测评", "targets": PERSON},
    ],
}

_HELP_LINES = (
    "导入说明",
    "1. 「会议」「测评人员类别」「测评对象」「轮次」四个工作表都要保留，工作表名称不要改。",
    "2. 表头按文字识别，列的顺序可以调整，多出的列会被忽略；空行会被跳过。",
    "3. 「会议」：会议名称、应到人数必填；日期如 2026-12-01；分值填四个数（从高到低），不填则为 100、80、60、40；弃权计0分填 是 或 否（默认 否：弃权不计入分母）。",
    "4. 「测评人员类别」：代码如 A、B、C；权重为百分数，合计应为 100。",
    "5. 「测评对象」：类型填 班子 或 个人；班子行姓名、职务可空；主要负责人填 是 或 否（党政主要负责人填 是）。",
    "6. 「轮次」：测评对象填 班子、个人 或 全部。",
    "7. 导入时会检查所有行，任何一行有错都不会导入，并逐行列出错误（如：工作表「测评对象」第 5 行：缺少单位）。",
)


def meeting_template_xlsx() -> bytes:
    """The import template: the four sheets of docs/import.md filled with ``EXAMPLE_MEETING``,
    bold headers, set column widths, dropdowns for 类型 / 主要负责人 / 测评对象 / 弃权计0分, and a
    「填写说明」 sheet (ignored on import)."""
    example = EXAMPLE_MEETING
    workbook = Workbook()

    ws = workbook.active
    ws.title = SHEET_MEETING
    rows = [
        ["会议名称", example["title"]],
        ["日期", date.fromisoformat(example["date"])],
        ["地点", example["place"]],
        ["应到人数", example["expected"]],
        [LEVEL_VALUES_LABEL, *example["level_values"]],
        ["弃权计0分", "是" if example["abstain_as_zero"] else "否"],
    ]
    _table(ws, MEETING_COLUMNS, rows, alignment=_WRAP)
    ws["B3"].number_format = "yyyy-mm-dd"
    for letter in "CDE":
        ws.column_dimensions[letter].width = 8
    _dropdown(ws, ("是", "否"), "B7")

    ws = workbook.create_sheet(SHEET_CATEGORIES)
    _table(ws, CATEGORY_COLUMNS, [[c["code"], c["name"], c["weight"]] for c in example["categories"]])

    ws = workbook.create_sheet(SHEET_TARGETS)
    rows = [
        [KIND_WORDS[t["kind"]], t["unit"], t["name"], t["title"], ("是" if t["principal"] else "否") if t["kind"] == PERSON else None]
        for t in example["targets"]
    ]
    _table(ws, TARGET_COLUMNS, rows)
    _dropdown(ws, ("班子", "个人"), "A2:A1000")
    _dropdown(ws, ("是", "否"), "E2:E1000")

    ws = workbook.create_sheet(SHEET_ROUNDS)
    _table(ws, ROUND_COLUMNS, [[r["title"], KIND_WORDS[r["targets"]]] for r in example["rounds"]])
    _dropdown(ws, ("班子", "个人", "全部"), "B2:B200")

    ws = workbook.create_sheet(SHEET_HELP)
    ws.column_dimensions["A"].width = 110
    for number, text in enumerate(_HELP_LINES, start=1):
        _put(ws, number, 1, text, font=_HEADER_FONT if number == 1 else Font(), alignment=_WRAP)
    return _save(workbook)


# --------------------------------------------------------------------------------------------
# The 测评结果汇总表
# --------------------------------------------------------------------------------------------

#: R17 rate headers; for teams the same rates are 好 and 好+较好.
RATE_HEADERS = {TEAM: ("好评率", "较好及以上率"), PERSON: ("优秀率", "称职及以上率")}
NAME_HEADERS = {TEAM: "班子", PERSON: "姓名"}
SIGNATURE_LINE = "计票人：＿＿＿＿＿＿　　　监票人：＿＿＿＿＿＿　　　监票人：＿＿＿＿＿＿"
DATE_LINE = "日期：＿＿＿＿年＿＿月＿＿日"


def _score_cell(value: Decimal | None) -> Any:
    """A score as printed (R16: 2 decimals, half up) stored as a number, or a dash."""
    return DASH if value is None else _Num(float(value), SCORE_FORMAT)


def _rate_cell(rate: Fraction | None) -> Any:
    """A rate as printed (46.00%) stored as the number 0.46 with a percent format, or a dash.
    The stored value is the rounded percentage, so Excel shows exactly the PDF's figure."""
    shown = percent(rate)
    return DASH if shown is None else _Num(float(shown / 100), PERCENT_FORMAT)


def _summary_columns(report: RoundReport, kind: str) -> list[_Column]:
    levels = level_labels(kind)
    excellent, approval = RATE_HEADERS[kind]
    columns = [
        _Column("number", "序号", (), 6),
        _Column("unit", "单位", (), 18),
        _Column("name", NAME_HEADERS[kind], (), 22 if kind == TEAM else 12),
        _Column("title", "职务", (), 14),
        *(_Column(key, header, (), 7) for key, header in (("expected", "应到"), ("present", "实到"), ("returned", "收回"), ("valid", "有效"))),
    ]
    for level in levels:
        columns += [_Column(f"{level}-votes", f"{level}票数", (), 8), _Column(f"{level}-share", f"{level}占比", (), 9)]
    columns += [
        _Column("abstained", "弃权", (), 7),
        _Column("excellent", excellent, (), 10),
        _Column("approval", approval, (), 12),
        _Column("score", "折合分", (), 9),
        *(_Column(f"cat-{c.code}", f"{c.code}类得分", (), 9) for c in report.categories),
        _Column("band", "等次", (), 9),
        _Column("rank", "排名", (), 6),
        _Column("flags", "标记", (), 30),
    ]
    return columns


def _summary_row(report: RoundReport, row: TargetRow) -> list[Any]:
    result, counts = row.result, report.counts
    values: list[Any] = [row.number, row.unit, row.name, row.title, counts.expected, counts.present, counts.returned, counts.valid]
    for level, votes in enumerate(result.counts):
        values += [votes, _rate_cell(Fraction(votes, result.marked) if result.marked else None)]
    values += [result.abstained, _rate_cell(result.excellent_rate), _rate_cell(result.approval_rate), _score_cell(result.score_shown)]
    values += [_score_cell(None if c.score is None else round_half_up(c.score)) for c in result.categories]
    values += [row.band_label, DASH if result.rank is None else result.rank, "；".join(row.flag_texts)]
    return values


def _counts_line(report: RoundReport) -> str:
    c = report.counts
    text = f"应到 {c.expected} 人，实到 {c.present} 人，发出 {c.issued} 张，收回 {c.returned} 张，有效 {c.valid} 张，无效 {c.invalid} 张"
    return text + (f"（其中纸质录入 {c.paper} 张）" if c.paper else "")


def _where_line(report: RoundReport) -> str:
    date = f"日期：{report.meeting_date}" if report.meeting_date else ""
    place = f"地点：{report.meeting_place}" if report.meeting_place else ""
    return "　".join(part for part in (date, place) if part)


def _summary_sheet(ws: Worksheet, report: RoundReport, kind: str) -> None:
    columns = _summary_columns(report, kind)
    width = len(columns)
    for column, spec in enumerate(columns, start=1):  # widths first: _line sizes rows by them
        ws.column_dimensions[get_column_letter(column)].width = spec.width
    _line(ws, 1, report.meeting_title, width, font=Font(bold=True, size=16), center=True)
    title = _sheet_title(report, f"{report.round_title}　测评结果汇总表（{KIND_LABELS[kind]}）")
    _line(ws, 2, title, width, font=Font(bold=True, size=12), center=True)
    _line(ws, 3, _where_line(report), width)
    _line(ws, 4, _counts_line(report), width)
    header_row = 5
    last = _table(ws, columns, [_summary_row(report, r) for r in report.rows_of(kind)], top=header_row, alignment=_CENTER)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=4).coordinate  # keep 序号/单位/姓名 in view
    _finish_sheet(ws, last, header_row, width, _summary_footer(report, kind))


def _summary_footer(report: RoundReport, kind: str) -> list[str]:
    """Broken R19 counts, the rules of the sheet's kind (R16: printed on every report; all of
    them if none names it), the signature and date lines."""
    rules = [rule for rule in report.rules if f"（{KIND_LABELS[kind]}" in rule] or list(report.rules)
    return [*(f"注意：{p}" for p in report.problems), *rules, "", SIGNATURE_LINE, "", DATE_LINE]


def _sheet_title(report: RoundReport, title: str) -> str:
    return title + ("　【模拟测试（演练）结果，不作为正式结果】" if report.rehearsal else "")


#: The second sheet (R9, R15, R18): its name, and the headings of its parts.
ITEMS_SHEET = "分项与逆向测评"
_ITEM_GROUPS = {"dimensions": "分项评价", "reverse": "逆向测评（可多选）", "intent": "使用意向"}


@dataclass(frozen=True)
class _Leaf:
    """A column of the items sheet under its part and its item label."""

    part: str
    label: str
    sub: str
    width: int


def _item_leaves(report: RoundReport, kind: str) -> list[_Leaf]:
    first = report.rows_of(kind)[0]
    leaves = []
    for d in first.dimensions:
        label = d.label + (f"（权重{d.weight_text}）" if d.weight is not None else "")
        leaves += [_Leaf("dimensions", label, "得分", 8), _Leaf("dimensions", label, "等次", 8)]
    if first.dimensions and report.is_weighted(kind):
        leaves += [_Leaf("dimensions", "折合分（加权）", "得分", 8), _Leaf("dimensions", "折合分（加权）", "等次", 8)]
    for part in ("reverse", "intent"):
        for item in getattr(first, part):
            leaves += [_Leaf(part, item.label, "票数", 7), _Leaf(part, item.label, "占比", 9)]
    return leaves


def _item_values(report: RoundReport, row: TargetRow) -> list[Any]:
    values: list[Any] = []
    for d in row.dimensions:
        values += [_score_cell(None if d.score is None else round_half_up(d.score)), d.band_label]
    if row.dimensions and report.is_weighted(row.kind):
        values += [_score_cell(row.result.score_shown), row.band_label]
    for item in (*row.reverse, *row.intent):
        values += [item.count, _rate_cell(item.rate)]
    return values


def _spans(keys: Sequence[Any], start: int) -> list[tuple[Any, int, int]]:
    """Runs of equal consecutive keys as ``(key, first column, last column)``."""
    runs: list[tuple[Any, int, int]] = []
    for column, key in enumerate(keys, start=start):
        if runs and runs[-1][0] == key:
            runs[-1] = (key, runs[-1][1], column)
        else:
            runs.append((key, column, column))
    return runs


def _items_sheet(ws: Worksheet, report: RoundReport, kind: str) -> None:
    """测评结果汇总表（二） of one kind: who, then per dimension its score and band (and the
    折合分 when the dimensions are weighted, R15), per 逆向测评 and 使用意向 option its count
    and share of the valid ballots (R18), under a three-row header: part, item (with its
    weight), 得分 / 等次 / 票数 / 占比."""
    who = [
        _Column("number", "序号", (), 6),
        _Column("unit", "单位", (), 18),
        _Column("name", NAME_HEADERS[kind], (), 22 if kind == TEAM else 12),
        _Column("title", "职务", (), 14),
    ]
    leaves = _item_leaves(report, kind)
    width = len(who) + len(leaves)
    for column, size in enumerate([c.width for c in who] + [leaf.width for leaf in leaves], start=1):
        ws.column_dimensions[get_column_letter(column)].width = size  # widths first: _line sizes rows by them
    title = _sheet_title(report, f"{report.round_title}　测评结果汇总表（二）分项评价、逆向测评和使用意向（{KIND_LABELS[kind]}）")
    _line(ws, 1, report.meeting_title, width, font=Font(bold=True, size=16), center=True)
    _line(ws, 2, title, width, font=Font(bold=True, size=12), center=True)
    _line(ws, 3, _where_line(report), width)
    _line(ws, 4, _counts_line(report) + "；占比 = 票数 ÷ 有效票数", width)
    top, first_item = 5, len(who) + 1
    header = dict(table=True, font=_HEADER_FONT, fill=_HEADER_FILL, alignment=_CENTER)
    for row in range(top, top + 3):  # style every header cell before merging: merged ones keep it
        for column in range(1, width + 1):
            _put(ws, row, column, None, **header)
    for column, spec in enumerate(who, start=1):
        _put(ws, top, column, spec.header, **header)
        ws.merge_cells(start_row=top, start_column=column, end_row=top + 2, end_column=column)
    for part, left, right in _spans([leaf.part for leaf in leaves], first_item):
        _put(ws, top, left, _ITEM_GROUPS[part], **header)
        if right > left:
            ws.merge_cells(start_row=top, start_column=left, end_row=top, end_column=right)
    lines = 1
    for (_, label), left, right in _spans([(leaf.part, leaf.label) for leaf in leaves], first_item):
        _put(ws, top + 1, left, label, **header)
        if right > left:
            ws.merge_cells(start_row=top + 1, start_column=left, end_row=top + 1, end_column=right)
        room = sum(leaf.width for leaf in leaves[left - first_item : right - first_item + 1])
        lines = max(lines, math.ceil(len(label) * 2.1 / room))  # Excel does not grow merged rows
    ws.row_dimensions[top + 1].height = lines * 15
    for column, leaf in enumerate(leaves, start=first_item):
        _put(ws, top + 2, column, leaf.sub, **header)
    last = top + 2
    for row in report.rows_of(kind):
        last += 1
        for column, value in enumerate([row.number, row.unit, row.name, row.title, *_item_values(report, row)], start=1):
            _put(ws, last, column, value, table=True, alignment=_CENTER)
    _finish_sheet(ws, last, top, width, _summary_footer(report, kind))
    ws.freeze_panes = ws.cell(row=top + 3, column=first_item).coordinate  # the header and who stay in view
    ws.print_title_rows = f"{top}:{top + 2}"


def _finish_sheet(ws: Worksheet, last: int, header_row: int, width: int, footer: Sequence[str]) -> None:
    """Footer lines under the table (rules, signatures), and A4 landscape printing that repeats
    the header row and fits the width."""
    for offset, text in enumerate(footer, start=2):
        if text:
            _line(ws, last + offset, text, width)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def summary_xlsx(report: RoundReport) -> bytes:
    """The 测评结果汇总表 of a round as .xlsx (DOMAIN §7, R16, R17, R19): one sheet per target
    kind present (「领导班子」, 「领导干部」), title rows, the table, then the scoring rule,
    any broken R19 count invariants, and the 计票人 / 监票人 / 日期 lines.

    Votes and counts are integers; 折合分 and category scores are the printed 2-decimal values
    (``score_shown``) as numbers formatted ``0.00``; rates are the printed percentages as numbers
    formatted ``0.00%``; a missing value is "—".

    When the ballot asked items (R9, R15, R18), sheet 「分项与逆向测评」 follows: the 测评结果
    汇总表（二） with each dimension's score and band (and the weighted 折合分, R15) and each 逆向测评 and
    使用意向 option's count and share of the valid ballots, in the same number formats. With
    items for both kinds there is one such sheet per kind, 「分项与逆向测评（领导班子）」 and
    「分项与逆向测评（领导干部）」. A 模拟测试 report says so in every sheet's title.
    """
    workbook = Workbook()
    workbook.remove(workbook.active)
    for kind in report.kinds or (PERSON,):
        _summary_sheet(workbook.create_sheet(KIND_LABELS[kind]), report, kind)
    itemized = [kind for kind in report.kinds if report.has_items_for(kind)]
    for kind in itemized:
        name = ITEMS_SHEET if len(itemized) == 1 else f"{ITEMS_SHEET}（{KIND_LABELS[kind]}）"
        _items_sheet(workbook.create_sheet(name), report, kind)
    return _save(workbook)


# --------------------------------------------------------------------------------------------
# The 「单位」 import (R2, R3, R5) and its template
# --------------------------------------------------------------------------------------------

SHEET_UNITS = "单位"
UNIT_COLUMNS = (
    _Column("name", "单位", ("单位名称",), 22),
    _Column("group", "分组", ("考核分组", "所在分组"), 12),
    _Column("target_score", "综合目标考核得分", ("考核得分", "目标考核得分", "综合目标考核分"), 18),
    _Column("vetoed", "一票否决", ("是否一票否决",), 10),
    _Column("veto_reason", "否决原因", ("一票否决原因",), 24),
    _Column("staff", "编内在职职工人数", ("职工人数", "编内人数", "在职职工人数"), 18),
)

#: The example of the 「单位」 template: 6 departments and 4 towns, one of them vetoed.
EXAMPLE_UNITS: tuple[dict, ...] = (
    {"name": "区发改局", "group": "部门组", "target_score": Decimal("95.50"), "vetoed": False, "veto_reason": "", "staff": 32},
    {"name": "区财政局", "group": "部门组", "target_score": Decimal("93.20"), "vetoed": False, "veto_reason": "", "staff": 45},
    {"name": "区教育局", "group": "部门组", "target_score": Decimal("91.80"), "vetoed": False, "veto_reason": "", "staff": 60},
    {"name": "区卫健局", "group": "部门组", "target_score": Decimal("90.60"), "vetoed": False, "veto_reason": "", "staff": 38},
    {"name": "区住建局", "group": "部门组", "target_score": Decimal("87.40"), "vetoed": False, "veto_reason": "", "staff": 41},
    {"name": "区交通局", "group": "部门组", "target_score": Decimal("78.90"), "vetoed": False, "veto_reason": "", "staff": 29},
    {"name": "城东街道", "group": "乡镇组", "target_score": Decimal("94.10"), "vetoed": False, "veto_reason": "", "staff": 86},
    {"name": "城西街道", "group": "乡镇组", "target_score": Decimal("92.70"), "vetoed": False, "veto_reason": "", "staff": 79},
    {"name": "青山镇", "group": "乡镇组", "target_score": Decimal("91.30"), "vetoed": True, "veto_reason": "安全生产", "staff": 64},
    {"name": "河口乡", "group": "乡镇组", "target_score": Decimal("88.60"), "vetoed": False, "veto_reason": "", "staff": 52},
)

_UNITS_HELP_LINES = (
    "单位导入说明",
    "1. 工作表「单位」要保留，名称不要改；表头按文字识别，列的顺序可以调整，多出的列会被忽略，空行会被跳过。",
    "2. 单位：单位全称，不能重复。分组：同组单位一起排名、一起差额票决，如 部门组、乡镇组。",
    "3. 综合目标考核得分：0–100，最多两位小数。低于 80 分为不达标，80–90 分（不含 90）为基本达标，90 分及以上为达标。",
    "4. 一票否决：填 是 或 否（空白按 否）；填 是 的单位等次为不达标，须在「否决原因」写明原因，如 综治、计生、安全生产 或 违法违纪。",
    "5. 编内在职职工人数：0 或正整数，用于计算奖金（人均每分奖励标准 × 得分 × 人数）。",
    "6. 导入时会检查所有行，任何一行有错都不会导入，并逐行列出错误（如：工作表「单位」第 5 行：综合目标考核得分应为 0–100 的数）。",
    "7. 导入会替换本次会议原有的单位名单；差额票决开始后不能再导入。",
)


def read_units_xlsx(data: bytes) -> list[dict]:
    """Read the 「单位」 sheet of an upload (DOMAIN R2, R3, R5) into unit rows.

    The header row is found by text (order free, extra columns and sheets ignored; aliases such
    as 单位名称, 考核得分, 是否一票否决, 职工人数 accepted); empty rows are skipped.

    :return: ``[{"name", "group", "target_score", "vetoed", "veto_reason", "staff", "_row"}]``:
        texts stripped; numbers as ``_number`` gives them (int, or the digits as a string);
        一票否决 是 → True, 否 or empty → False, other text passed through for
        ``app.services.units.validate_units`` to report; ``_row`` as Excel numbers rows.
    :raises SheetFormatError: when the file is not an .xlsx, or the sheet or a column is missing.
    """
    workbook = _open_workbook(data)
    try:
        sheets = {name.strip(): name for name in workbook.sheetnames}
        if SHEET_UNITS not in sheets:
            raise SheetFormatError(f"工作簿缺少工作表「{SHEET_UNITS}」。请下载单位导入模板，按模板的工作表名称填写。")
        return [
            {
                "name": _text(c["name"]),
                "group": _text(c["group"]),
                "target_score": _number(c["target_score"]),
                "vetoed": _yes_no(c["vetoed"]),
                "veto_reason": _text(c["veto_reason"]),
                "staff": _number(c["staff"]),
                "_row": n,
            }
            for n, c in _read_table(workbook[sheets[SHEET_UNITS]], SHEET_UNITS, UNIT_COLUMNS)
        ]
    finally:
        workbook.close()


def units_template_xlsx() -> bytes:
    """The 「单位」 import template filled with ``EXAMPLE_UNITS``: scores as numbers formatted
    ``0.00``, a 是/否 dropdown for 一票否决, and a 「填写说明」 sheet (ignored on import)."""
    workbook = Workbook()
    ws = workbook.active
    ws.title = SHEET_UNITS
    rows = [
        [u["name"], u["group"], _Num(float(u["target_score"]), SCORE_FORMAT), "是" if u["vetoed"] else "否", u["veto_reason"] or None, u["staff"]]
        for u in EXAMPLE_UNITS
    ]
    _table(ws, UNIT_COLUMNS, rows)
    _dropdown(ws, ("是", "否"), "D2:D1000")

    ws = workbook.create_sheet(SHEET_HELP)
    ws.column_dimensions["A"].width = 110
    for number, text in enumerate(_UNITS_HELP_LINES, start=1):
        _put(ws, number, 1, text, font=_HEADER_FONT if number == 1 else Font(), alignment=_WRAP)
    return _save(workbook)


# --------------------------------------------------------------------------------------------
# The composite table (综合考核结果)
# --------------------------------------------------------------------------------------------

COMPOSITE_UNIT_COLUMNS = (
    _Column("number", "序号", (), 6),
    _Column("name", "单位", (), 22),
    _Column("group", "分组", (), 10),
    _Column("target_score", "综合目标考核得分", (), 12),
    _Column("democratic", "民主测评得分", (), 11),
    _Column("composite", "综合得分", (), 10),
    _Column("grade", "等次", (), 16),
    _Column("rank", "组内排名", (), 8),
    _Column("outcome", "特优/优秀", (), 10),
    _Column("reward", "奖金（元）", (), 13),
    _Column("flags", "标记", (), 28),
)
COMPOSITE_LEADER_COLUMNS = (
    _Column("number", "序号", (), 6),
    _Column("unit", "单位", (), 22),
    _Column("group", "分组", (), 10),
    _Column("name", "姓名", (), 10),
    _Column("title", "职务", (), 14),
    _Column("principal", "主要负责人", (), 10),
    _Column("democratic", "民主测评得分", (), 11),
    _Column("band", "等次", (), 9),
    _Column("composite", "综合得分", (), 10),
    _Column("rank", "组内排名", (), 8),
    _Column("flags", "标记", (), 28),
)
COMPOSITE_SIGNATURE_LINE = "制表人：＿＿＿＿＿＿　　　审核人：＿＿＿＿＿＿　　　主持人：＿＿＿＿＿＿"


def _grouped(rows: Sequence[Any]) -> list[tuple[int, Any]]:
    """Rows bunched by ``group`` in order of first appearance (as the PDF prints them), each
    with its 序号 within the group."""
    order: dict[str, int] = {}
    for row in rows:
        order.setdefault(row.group, len(order))
    out, seen = [], dict.fromkeys(order, 0)
    for row in sorted(rows, key=lambda r: order[r.group]):
        seen[row.group] += 1
        out.append((seen[row.group], row))
    return out


def grade_text(unit: UnitRow) -> str:
    """等次 with the reason of a 一票否决: 不达标（一票否决：安全生产）."""
    if not unit.is_vetoed:
        return unit.grade_label
    return f"{unit.grade_label}（一票否决{'：' + unit.veto_reason if unit.veto_reason else ''}）"


def _outcome_text(unit: UnitRow) -> str:
    if unit.outcome_label:
        return unit.outcome_label
    return {"candidate": "特优候选", "tied": "并列待定"}.get(unit.candidate, DASH)


def _money_cell(value: Decimal | None) -> Any:
    return DASH if value is None else _Num(float(value), SCORE_FORMAT)


def _rank_cell(rank: int | None) -> Any:
    return DASH if rank is None else rank


def _composite_sheet(ws: Worksheet, report: AssessmentReport, heading: str, columns: Sequence[_Column], rows: list[list[Any]]) -> None:
    width = len(columns)
    for column, spec in enumerate(columns, start=1):  # widths first: _line sizes rows by them
        ws.column_dimensions[get_column_letter(column)].width = spec.width
    _line(ws, 1, report.meeting_title, width, font=Font(bold=True, size=16), center=True)
    _line(ws, 2, heading, width, font=Font(bold=True, size=12), center=True)
    header_row = 3
    last = _table(ws, columns, rows, top=header_row, alignment=_CENTER)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=3).coordinate  # keep 序号/单位 in view
    _finish_sheet(ws, last, header_row, width, [*report.rules, "", COMPOSITE_SIGNATURE_LINE, "", DATE_LINE])


def composite_xlsx(report: AssessmentReport) -> bytes:
    """The composite table as .xlsx (DOMAIN §7, R1, R2, R3, R5, R6), same columns and figures
    as ``documents.composite_pdf``: sheet 「单位」 (units by group) and sheet 「领导干部」.

    Scores and rewards are the printed 2-decimal values stored as numbers formatted ``0.00``;
    ranks are integers; a missing value is "—". The rules, the 制表人 / 审核人 / 主持人 line
    and the date line follow each table.
    """
    heading = f"{report.year}年度综合考核结果" if report.year else "年度综合考核结果"
    workbook = Workbook()
    workbook.remove(workbook.active)
    unit_rows: list[list[Any]] = [
        [
            number, u.name, u.group, _score_cell(u.target_score), _score_cell(u.democratic), _score_cell(u.composite),
            grade_text(u), _rank_cell(u.rank), _outcome_text(u), _money_cell(u.reward), "；".join(u.flags),
        ]
        for number, u in _grouped(report.units)
    ]
    _composite_sheet(workbook.create_sheet("单位"), report, heading, COMPOSITE_UNIT_COLUMNS, unit_rows)
    leader_rows: list[list[Any]] = [
        [
            number, l.unit, l.group, l.name, l.title, "是" if l.is_principal else "否", _score_cell(l.democratic),
            l.band or DASH, _score_cell(l.composite), _rank_cell(l.rank), "；".join(l.flags),
        ]
        for number, l in _grouped(report.leaders)
    ]
    _composite_sheet(workbook.create_sheet("领导干部"), report, f"{heading}（领导干部）", COMPOSITE_LEADER_COLUMNS, leader_rows)
    return _save(workbook)
