"""PDF documents the organizers hand in (DOMAIN §7): the slip sheet, the 测评结果汇总表, the
票决计票结果报告单 and the composite table (综合考核结果).

Bytes first, response last: every builder takes plain data and returns the PDF as ``bytes``;
views wrap them in a response. Nothing here touches the Flask request, session or app
context: templates are rendered with a standalone Jinja2 environment (autoescaping on, so
names such as ``<script>`` or ``&`` print literally), and WeasyPrint may fetch nothing but
``data:`` URLs (the slip sheet's QR codes are drawn into its PDF, see ``slip_sheet``).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from jinja2 import Environment, FileSystemLoader

from ..core.scales import plain_number
from ..core.times import local
from . import slip_sheet

if TYPE_CHECKING:  # pragma: no cover
    from .assessment import AssessmentReport
    from .results import RoundReport, TargetRow
    from .selection import SelectionReport

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"

#: Slips per A4 page: 3 columns × 4 rows.
SLIPS_PER_PAGE = slip_sheet.GEOMETRY.per_page

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["plain_number"] = plain_number

DASH = "—"


def _minutes(value: datetime | None) -> str:
    """A stored (UTC) timestamp as printed in the hall's zone: ``2025-01-15 09:30``."""
    return DASH if value is None else local(value).strftime("%Y-%m-%d %H:%M")


def _fixed2(value: Decimal | int | float | None) -> str:
    """A score or an amount with 2 decimals (18400.00), "—" when missing."""
    if value is None:
        return DASH
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return f"{number.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"


def _hex_groups(digest: str, size: int = 8) -> str:
    """A hex digest in groups of ``size`` separated by spaces, so it can wrap between groups."""
    return " ".join(digest[i : i + size] for i in range(0, len(digest), size))


#: CSS class of a 票决 result: 特优 is shaded, 待再次投票 red (§7, R21).
_STATUS_CLASSES = {"特优": "top", "待再次投票": "runoff"}

_env.filters["minutes"] = _minutes
_env.filters["fixed2"] = _fixed2
_env.filters["hex_groups"] = _hex_groups
_env.filters["status_class"] = lambda label: _STATUS_CLASSES.get(label, "")

_HEX = re.compile(r"[0-9a-f]{16,}")
_Row = TypeVar("_Row")


@dataclass(frozen=True)
class SlipPrint:
    """One slip as printed: the voter category, the code as people type it, and the URL
    its QR code opens."""

    category_label: str
    code_pretty: str
    url: str


def slip_sheet_pdf(
    meeting_title: str,
    slips: Sequence[SlipPrint],
    *,
    vote_url_hint: str,
    progress: Callable[[int, int], None] | None = None,
) -> bytes:
    """A4 portrait sheet of slips to cut apart, 12 to a page (DOMAIN §7 "Slip sheet").

    Each slip carries the meeting title, the category, a QR code of ``slip.url``, the code in
    readable form and a one-line instruction naming ``vote_url_hint`` for typing the code in;
    every page's footer names the meeting and the page (第 n 页 共 N 页).

    WeasyPrint lays out each distinct part once (a slip per category, a footer per count of
    digits of the page number) and the pages are put together from them, the QR codes, codes
    and page numbers stamped in (``slip_sheet``): 1,000 slips take about 1 s in the calling
    process (2 s in a fresh one, which imports WeasyPrint), where laying out every slip took
    19–25 s (docs/performance.md, B2).

    :param progress: called as ``progress(done, len(slips))`` as pages are put together (at
        most about 20 times); ``done`` never decreases and the last call has
        ``done == len(slips)``.
    :return: the PDF.
    :raises ValueError: a URL too long for a QR code, or a code with a character the codes'
        monospace font lacks (codes are ASCII).
    """
    return slip_sheet.build(_render, meeting_title, slips, vote_url_hint=vote_url_hint, progress=progress)


#: The second sheet's layout on A4 landscape (277 mm inside the margins): an item column (one
#: per dimension, 逆向测评 or 使用意向 option) is 11.5 mm wide, 序号, 单位, 姓名 and 职务 take
#: about 100 mm when there is room and share what is left when there is not. A kind with more
#: item columns than fit continues in another table.
ITEM_COLUMNS_PER_TABLE = 18
_PAGE_MM, _WHO_MM, _ITEM_MM = 277, 100, 11.5

#: Headings of the item parts on the second sheet, with what each cell holds.
_ITEM_PARTS = {
    "dimensions": "分项评价（得分 / 等次）",
    "reverse": "逆向测评（票数 / 占有效票）",
    "intent": "使用意向（票数 / 占有效票）",
}


@dataclass(frozen=True)
class ItemColumn:
    """One column of the second sheet: its part, its header, a note under it (a weight)."""

    part: str
    label: str
    note: str = ""


@dataclass(frozen=True)
class ItemTable:
    """A table of the second sheet: part headings as ``(title, span)``, columns, and per
    target the printed ``(value, second line)`` of each column."""

    parts: tuple[tuple[str, int], ...]
    columns: tuple[ItemColumn, ...]
    rows: tuple[tuple[Any, tuple[tuple[str, str], ...]], ...]

    @property
    def width_mm(self) -> float:
        """Narrower than the page when there are few columns, so 单位 and 姓名 stay compact."""
        return min(_PAGE_MM, _WHO_MM + _ITEM_MM * len(self.columns))


def item_tables(report: RoundReport, kind: str, per_table: int = ITEM_COLUMNS_PER_TABLE) -> list[ItemTable]:
    """The second sheet's tables of one kind (R9, R15, R18): the dimension scores with their
    band (and, when weighted, the 折合分 they make), then the 逆向测评 and 使用意向 counts
    with their share of the valid ballots. Texts come from the report as printed elsewhere;
    more than ``per_table`` columns continue in further tables, each repeating who."""
    rows = report.rows_of(kind)
    if not rows or not report.has_items_for(kind):
        return []
    first, weighted = rows[0], report.is_weighted(kind) and bool(rows[0].dimensions)
    columns = [ItemColumn("dimensions", d.label, f"权重 {d.weight_text}" if d.weight is not None else "") for d in first.dimensions]
    if weighted:
        columns.append(ItemColumn("dimensions", "折合分", "加权"))
    columns += [ItemColumn(part, item.label) for part in ("reverse", "intent") for item in getattr(first, part)]

    def cells(row: TargetRow) -> list[tuple[str, str]]:
        out = [(d.score_text, d.band_label) for d in row.dimensions]
        if weighted:
            out.append((row.score_text, row.band_label))
        return out + [(str(i.count), i.rate_text) for i in (*row.reverse, *row.intent)]

    # Cut into tables at a part's start when the part then fits in one table; a part too long
    # for any table fills each table up.
    chunks: list[list[int]] = [[]]
    for _, indices in itertools.groupby(range(len(columns)), key=lambda i: columns[i].part):
        indices = list(indices)
        if chunks[-1] and len(chunks[-1]) + len(indices) > per_table >= len(indices):
            chunks.append([])
        for i in indices:
            if len(chunks[-1]) == per_table:
                chunks.append([])
            chunks[-1].append(i)
    all_cells = [(row, cells(row)) for row in rows]
    return [
        ItemTable(
            parts=tuple((_ITEM_PARTS[part], len(list(run))) for part, run in itertools.groupby(columns[i].part for i in chunk)),
            columns=tuple(columns[i] for i in chunk),
            rows=tuple((row, tuple(c[i] for i in chunk)) for row, c in all_cells),
        )
        for chunk in chunks
    ]


def summary_pdf(report: RoundReport) -> bytes:
    """The 测评结果汇总表 of a round, A4 landscape (DOMAIN §7, R15–R19).

    One table per target kind (领导班子 / 领导干部, each with its own level labels); then, when
    the ballot asked items, a second sheet on a new page, 测评结果汇总表（二）: per kind the
    dimension scores, the 逆向测评 and 使用意向 counts and percentages (``item_tables``). The
    scoring rule, the 计票人 / 监票人 signature lines and the page number are in the footer of
    every page. Broken R19 count invariants (``report.problems``) are printed at the top and in
    every footer. A 模拟测试 report says so at the top of every page.
    """
    groups = []
    item_groups = []
    for kind in report.kinds:
        rows = report.rows_of(kind)
        groups.append({"kind": kind, "label": rows[0].kind_label, "levels": rows[0].levels, "rows": rows})
        tables = item_tables(report, kind)
        if tables:
            item_groups.append(
                {"kind": kind, "label": rows[0].kind_label, "weighted": report.is_weighted(kind), "tables": tables}
            )
    html = _env.get_template("documents/summary.html").render(
        report=report,
        groups=groups,
        item_groups=item_groups,
        counts=report.counts,
        categories=report.categories,
    )
    return _write_pdf(html)


def selection_report_pdf(report: SelectionReport) -> bytes:
    """The 票决计票结果报告单 of a group's 差额票决, A4 portrait (DOMAIN §7, R4, R10, R11, R19,
    R21, R22).

    Meeting, date, place and a line for the 主持人; then every counted round in order (the
    first round, then each 再次投票): its times, 应选 K 名, the six R19 counts (and 纸质录入
    when there are any), and per candidate, in ballot order, 得票 | 得票率 | 排名 | 结果. Then the
    final result (特优 shaded), the rules, the 计票人 / 监票人 / 监票人 / 主持人 lines and the
    date, and the SHA-256 digest of the tally in monospace, in groups of 8 so it wraps. Broken
    R19 invariants are boxed in red under the heading; the page footer repeats the title, the
    start of the digest and the page number.
    """
    html = _env.get_template("documents/selection_report.html").render(
        report=report,
        footer_digest=report.digest[:16] if _HEX.fullmatch(report.digest or "") else "",
    )
    return _write_pdf(html)


def composite_pdf(report: AssessmentReport) -> bytes:
    """The composite table (综合考核结果), A4 landscape (DOMAIN §2, §7, R1, R2, R3, R5, R6).

    One table of units per group (序号 | 单位 | 分组 | 综合目标考核得分 | 民主测评得分 | 综合得分 |
    等次 (with the reason of a 一票否决) | 组内排名 | 特优/优秀 | 奖金 | 标记), then the leaders of
    each group (单位 | 姓名 | 职务 | 主要负责人 | 民主测评得分 | 等次 | 综合得分 | 组内排名 | 标记).
    Scores and rewards print with 2 decimals, a missing one as "—". The rules and the
    signature lines are in the footer of every page.
    """
    html = _env.get_template("documents/composite.html").render(
        report=report,
        heading=f"{report.year}年度综合考核结果" if report.year else "年度综合考核结果",
        unit_groups=by_group(report.units),
        leader_groups=by_group(report.leaders),
        group_info={g.name: g for g in report.groups},
    )
    return _write_pdf(html)


def by_group(rows: Iterable[_Row]) -> list[tuple[str, list[_Row]]]:
    """Rows with a ``group`` attribute, bunched by group in order of first appearance, each
    group's rows in their given order."""
    groups: dict[str, list[Any]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    return list(groups.items())


def _write_pdf(html: str) -> bytes:
    from weasyprint import HTML  # imported late: it is slow to import and only needed here

    return HTML(string=html, base_url=str(TEMPLATE_DIR), url_fetcher=_data_only_fetcher()).write_pdf()


def _render(html: str):
    """``html`` laid out by WeasyPrint, not yet written: the slip sheet finishes the PDF itself."""
    from weasyprint import HTML

    return HTML(string=html, base_url=str(TEMPLATE_DIR), url_fetcher=_data_only_fetcher()).render()


def _data_only_fetcher():
    """A WeasyPrint URL fetcher that serves ``data:`` URLs and refuses everything else, so a
    template (or text that reaches one) can never make the renderer read files or the network.
    Refused URLs raise ``ValueError``; WeasyPrint logs a warning and leaves the resource out.
    """
    return _data_only_fetcher_class()()


@functools.cache
def _data_only_fetcher_class():
    # WeasyPrint 70 wants a ``URLFetcher`` (it reads private attributes of the fetcher), not a
    # bare function as in older versions.
    from weasyprint.urls import URLFetcher

    class DataOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if not url.startswith("data:"):
                raise ValueError(f"refusing to fetch {url[:80]!r}: only data: URLs are allowed")
            return super().fetch(url, headers)

    return DataOnlyFetcher
