"""PDF documents the organizers hand in (DOMAIN §7): the slip sheet and the 测评结果汇总表.

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import qrcode
import qrcode.constants
from jinja2 import Environment, FileSystemLoader

from ..core.scales import plain_number

if TYPE_CHECKING:  # pragma: no cover
    from .results import RoundReport

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


@dataclass(frozen=True)
class SlipPrint:
    """One slip as printed: the voter category, the code as people type it, and the URL
    its QR code opens."""

    category_label: str
    code_pretty: str
    url: str


def qr_png(url: str) -> bytes:
    """QR code of ``url`` as a 1-bit PNG (error correction M, quiet zone of 2 modules).

    Small boxes keep the PNG tiny; it is printed at about 30 mm with ``image-rendering:
    pixelated``, so the modules stay sharp whatever the resolution.
    """
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4, border=2)
    qr.add_data(url)
    qr.make(fit=True)
    buffer = io.BytesIO()
    qr.make_image().save(buffer, format="PNG")
    return buffer.getvalue()


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def slip_sheet_pdf(meeting_title: str, slips: Sequence[SlipPrint], *, vote_url_hint: str) -> bytes:
    """A4 portrait sheet of slips to cut apart, 12 to a page (DOMAIN §7 "Slip sheet").

    Each slip carries the meeting title, the category, a QR code of ``slip.url``, the code in
    readable form and a one-line instruction naming ``vote_url_hint`` for typing the code in.
    """
    items = [(slip, _data_url(qr_png(slip.url))) for slip in slips]
    pages = [items[i : i + SLIPS_PER_PAGE] for i in range(0, len(items), SLIPS_PER_PAGE)] or [[]]
    html = _env.get_template("documents/slips.html").render(
        meeting_title=meeting_title,
        pages=pages,
        vote_url_hint=vote_url_hint,
    )
    return _write_pdf(html)


def summary_pdf(report: RoundReport) -> bytes:
    """The 测评结果汇总表 of a round, A4 landscape (DOMAIN §7, R16, R17, R19).

    One table per target kind (领导班子 / 领导干部, each with its own level labels); the
    scoring rule, the 计票人 / 监票人 signature lines and the page number are in the footer of
    every page. Broken R19 count invariants (``report.problems``) are printed at the top and in
    every footer.
    """
    groups = []
    for kind in report.kinds:
        rows = report.rows_of(kind)
        groups.append({"kind": kind, "label": rows[0].kind_label, "levels": rows[0].levels, "rows": rows})
    html = _env.get_template("documents/summary.html").render(
        report=report,
        groups=groups,
        counts=report.counts,
        categories=report.categories,
    )
    return _write_pdf(html)


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
