"""PDF documents the organizers hand in (DOMAIN §7): the slip sheet, the 测评结果汇总表, the
票决计票结果报告单 and the composite table (综合考核结果).

Bytes first, response last: every builder takes plain data and returns the PDF as ``bytes``;
views wrap them in a response. Nothing here touches the Flask request, session or app
context: templates are rendered with a standalone Jinja2 environment (autoescaping on, so
names such as ``<script>`` or ``&`` print literally), and WeasyPrint may fetch nothing but
``data:`` URLs, which is how the QR codes are embedded.
"""

from __future__ import annotations

import base64
import functools
import io
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import qrcode
import qrcode.constants
from jinja2 import Environment, FileSystemLoader
from PIL import Image

from ..core.scales import plain_number
from ..core.times import local

if TYPE_CHECKING:  # pragma: no cover
    from .assessment import AssessmentReport
    from .results import RoundReport, TargetRow
    from .selection import SelectionReport

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"

#: Slips per A4 page: 3 columns × 4 rows.
SLIPS_PER_PAGE = 12

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


#: The QR mask pattern of every slip. Left to itself, qrcode builds all eight masks and scores
#: each (ISO/IEC 18004 §7.8.3), which was 80% of its 5 ms per code; any mask makes a valid
#: code, and pattern 0 scored best on average over slip URLs (docs/performance.md, B2).
QR_MASK_PATTERN = 0

#: Pages of the slip sheet rendered in one piece by a worker process: small enough for the
#: progress to move and for the workers to finish together, big enough that the fonts every
#: piece embeds stay a small part of the PDF.
PAGES_PER_RUN = 4

#: Sheets of up to this many pages are rendered in the calling process: starting workers
#: would cost more than it saves.
PAGES_IN_PROCESS = 2

#: ``progress(done, total)``: slips laid out so far, of all.
Progress = Callable[[int, int], None]


def qr_png(url: str) -> bytes:
    """QR code of ``url`` as a black-and-white PNG, one pixel per module (error correction M,
    quiet zone of 2 modules, mask pattern ``QR_MASK_PATTERN``).

    The slip prints it at 30 mm with ``image-rendering: pixelated``, so the modules stay sharp
    whatever the resolution; a bigger image only costs time to encode, embed and decode. The
    pixels are 8-bit grey: WeasyPrint would turn a 1-bit image into RGB before embedding it.
    """
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=2, mask_pattern=QR_MASK_PATTERN)
    qr.add_data(url)
    qr.make(fit=True)
    matrix = qr.get_matrix()  # rows of booleans, dark = True, quiet zone included
    size = len(matrix)
    pixels = bytes(0 if dark else 255 for row in matrix for dark in row)
    image = Image.frombytes("L", (size, size), pixels)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def slip_sheet_pdf(
    meeting_title: str,
    slips: Sequence[SlipPrint],
    *,
    vote_url_hint: str,
    progress: Progress | None = None,
    workers: int | None = None,
) -> bytes:
    """A4 portrait sheet of slips to cut apart, 12 to a page (DOMAIN §7 "Slip sheet").

    Each slip carries the meeting title, the category, a QR code of ``slip.url``, the code in
    readable form and a one-line instruction naming ``vote_url_hint`` for typing the code in;
    every page's footer names the meeting and the page (第 n 页 共 N 页).

    A long sheet is rendered in runs of up to ``PAGES_PER_RUN`` pages by worker processes and
    merged (``render_pool``). With that, the fixed QR mask and the template's fixed layout,
    1,000 slips take about a quarter of the time they used to (docs/performance.md, B2).

    :param progress: called in the calling thread as ``progress(done, len(slips))`` each time
        a run of pages is laid out; ``done`` never decreases and the last call has
        ``done == len(slips)``.
    :param workers: processes to render in; default: the cores available (at most 4).
    :return: the PDF.
    """
    from . import render_pool

    total = len(slips)
    pages = [list(slips[i : i + SLIPS_PER_PAGE]) for i in range(0, total, SLIPS_PER_PAGE)] or [[]]
    workers = render_pool.default_workers() if workers is None else max(1, workers)
    runs = []
    first = 0
    for size in _run_sizes(len(pages), workers):
        runs.append((meeting_title, vote_url_hint, first + 1, len(pages), pages[first : first + size]))
        first += size
    if len(runs) == 1:
        workers = 1
    sizes = [sum(len(page) for page in run[-1]) for run in runs]
    done = 0

    def run_done(index: int) -> None:
        nonlocal done
        done += sizes[index]
        if progress is not None:
            progress(done, total)

    return render_pool.render_merged(_slip_pages_pdf, runs, workers=workers, on_run_done=run_done)


def _run_sizes(pages: int, workers: int) -> list[int]:
    """How many pages each run gets: one run for a short sheet; else at most ``PAGES_PER_RUN``
    pages and several runs per worker, as many runs as makes every worker get the same number,
    their sizes differing by one page at most and the smaller ones last, so that the workers
    finish together."""
    if pages <= PAGES_IN_PROCESS or workers <= 1 and pages <= PAGES_PER_RUN:
        return [pages]
    per_run = max(1, min(PAGES_PER_RUN, -(-pages // (workers * 4))))
    count = -(-pages // per_run)
    count = min(pages, -(-count // workers) * workers)
    base, extra = divmod(pages, count)
    return [base + 1] * extra + [base] * (count - extra)


def _slip_pages_pdf(meeting_title: str, vote_url_hint: str, first_page: int, page_count: int, pages: list[list[SlipPrint]]) -> bytes:
    """Pages ``first_page``… of the slip sheet (of ``page_count`` pages) as a PDF of their own;
    runs in a worker process, so it takes and returns plain, picklable data."""
    numbered = [(first_page + i, [(slip, _data_url(qr_png(slip.url))) for slip in page]) for i, page in enumerate(pages)]
    html = _env.get_template("documents/slips.html").render(
        meeting_title=meeting_title,
        pages=numbered,
        page_count=page_count,
        vote_url_hint=vote_url_hint,
    )
    return _write_pdf(html)


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
