"""PDF documents (DOMAIN §7) rendered from plain data, without a database or an app context.

The text is read back with poppler's ``pdftotext``; the tests skip when it is not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from app.core.scales import KIND_LABELS, PERSON, TEAM, level_labels, scoring_rule_text
from app.core.scoring import CategorySpec, RoundCounts, ScoringPolicy, TargetTally, score_targets
from app.services.documents import SlipPrint, qr_png, slip_sheet_pdf, summary_pdf
from app.services.results import CategoryInfo, RoundReport, TargetRow

MEETING_TITLE = "2025年度市交通局领导班子和领导干部民主测评大会"
HOSTILE_NAME = '<script>&"'

CATEGORIES = (
    CategoryInfo("A", "领导班子成员", Decimal(30)),
    CategoryInfo("B", "中层干部", Decimal(40)),
    CategoryInfo("C", "一般干部·服务对象", Decimal(30)),
)
#: Valid ballots per category; 52 in all.
BALLOTS = {"A": 10, "B": 20, "C": 22}

#: (kind, unit, name, title, counts per category)
TARGETS = (
    (TEAM, "市交通局", "市交通局领导班子", "", {"A": (7, 3, 0, 0), "B": (12, 6, 2, 0), "C": (10, 8, 3, 1)}),
    # DOMAIN §4 worked example: 张三, 87.70 → 称职.
    (PERSON, "市交通局", "张三", "局长", {"A": (8, 2, 0, 0), "B": (10, 8, 2, 0), "C": (5, 10, 4, 1)}),
    (PERSON, "市交通局 & 运输处", HOSTILE_NAME, "副局长", {"A": (1, 2, 3, 4), "B": (2, 3, 5, 10), "C": (1, 2, 4, 15)}),
)


def make_report(*, counts: RoundCounts | None = None, state: str = "closed", state_label: str = "已结束") -> RoundReport:
    """A ``RoundReport`` built straight from the dataclasses, scored by the real core."""
    specs = [CategorySpec(c.code, Fraction(c.weight)) for c in CATEGORIES]
    tallies = [TargetTally(i, kind, marks, BALLOTS) for i, (kind, _, _, _, marks) in enumerate(TARGETS, start=1)]
    scores = score_targets(tallies, specs, ScoringPolicy())
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
            category_codes=tuple(c.code for c in CATEGORIES),
        )
        for i, ((kind, unit, name, title, _), score) in enumerate(zip(TARGETS, scores), start=1)
    )
    counts = counts or RoundCounts(expected=60, present=55, issued=55, returned=52, valid=52, invalid=0)
    return RoundReport(
        meeting_id=1,
        meeting_title=MEETING_TITLE,
        meeting_place="市政府第一会议室",
        meeting_date="2025-01-15",
        round_id=1,
        round_title="第一轮 民主测评",
        round_state=state,
        round_state_label=state_label,
        opened_dt=datetime(2025, 1, 15, 1, 0),
        closed_dt=datetime(2025, 1, 15, 2, 0),
        published_dt=None,
        counts=counts,
        categories=CATEGORIES,
        rows=rows,
        level_values=(100, 80, 60, 40),
        abstain_as_zero=False,
        rules=tuple(scoring_rule_text(k) for k in (TEAM, PERSON)),
        problems=counts.problems(),
        generated_dt=datetime(2025, 1, 15, 2, 5),
    )


def make_slips(n: int) -> list[SlipPrint]:
    alphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
    slips = []
    for i in range(n):
        raw = "".join(alphabet[(i * 7 + j * 13 + j * j) % len(alphabet)] for j in range(18))
        pretty = "-".join(raw[k : k + 6] for k in range(0, 18, 6))
        slips.append(SlipPrint(("A 领导班子成员", "B 中层干部", "C 一般干部")[i % 3], pretty, f"http://192.168.1.20:8000/v/{raw}"))
    return slips


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (apt-get install poppler-utils)")
    return path


def pdf_text(pdf: bytes, tmp_path) -> str:
    exe = _need("pdftotext")
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run([exe, "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def pdf_pages(pdf: bytes, tmp_path) -> int:
    exe = _need("pdfinfo")
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([exe, str(path)], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def squash(text: str) -> str:
    """Text without whitespace, so wrapped lines still match."""
    return re.sub(r"\s+", "", text)


def test_worked_example_scores_as_in_domain():
    """DOMAIN §4 worked example (R13, R14, R16, R17): the fixture really is 87.70 → 称职."""
    row = make_report().rows[1]
    assert row.name == "张三"
    assert row.score_text == "87.70"
    assert row.band_label == "称职"
    assert row.result.abstained == 2
    assert (row.excellent_rate_text, row.approval_rate_text) == ("46.00%", "86.00%")


def test_summary_pdf_carries_scores_rule_and_signature_lines(tmp_path):
    """DOMAIN §7 测评结果汇总表 with R16 (rule printed on every report): title, round, the
    worked-example score and band, both scales' level headers, the scoring rule, the 计票人 /
    监票人 lines and the page number are on the sheet."""
    report = make_report()
    pdf = summary_pdf(report)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)
    flat = squash(text)

    assert MEETING_TITLE in text
    assert "第一轮 民主测评" in text
    assert "2025-01-15" in text and "市政府第一会议室" in text
    assert "87.70" in text
    assert "称职" in text
    assert "46.00%" in text and "86.00%" in text
    for label in ("优秀", "基本称职", "不称职", "好", "较好", "一般", "差"):
        assert label in text
    assert "计票人" in text
    assert "监票人" in text
    for rule in report.rules:
        assert squash(rule) in flat
    assert "第1页共1页" in flat
    # R17 flags are printed next to the target they concern.
    assert "称职及以上率低于2/3" in text


def test_summary_pdf_escapes_names(tmp_path):
    """Names are data, never markup: ``<script>&"`` prints literally (autoescaping)."""
    text = pdf_text(summary_pdf(make_report()), tmp_path)
    assert HOSTILE_NAME in text
    # The unit wraps in its narrow cell; -layout interleaves the lines with the next cells.
    assert "市交通局 &" in text and "运输处" in text
    assert "&amp;" not in text and "&lt;" not in text


def test_summary_pdf_prints_broken_counts(tmp_path):
    """R19: when 收回 exceeds 发出 the sheet says so before anyone signs it."""
    counts = RoundCounts(expected=60, present=50, issued=50, returned=52, valid=52, invalid=0)
    report = make_report(counts=counts)
    assert report.problems
    text = pdf_text(summary_pdf(report), tmp_path)
    assert "计数核对异常" in text
    for problem in report.problems:
        assert squash(problem) in squash(text)


def test_summary_pdf_marks_unfinished_round(tmp_path):
    """DOMAIN §7: a sheet printed while voting is still open says it is not final."""
    text = pdf_text(summary_pdf(make_report(state="open", state_label="投票中")), tmp_path)
    assert "投票中" in text
    assert "不是最终结果" in text


def test_slip_sheet_twelve_to_a_page(tmp_path):
    """DOMAIN §7 slip sheet: 12 slips per A4 page, so 13 slips take 2 pages; every slip shows
    the meeting title, its category, its code in readable form and the instruction."""
    slips = make_slips(13)
    pdf = slip_sheet_pdf(MEETING_TITLE, slips, vote_url_hint="http://192.168.1.20:8000/v")
    assert pdf_pages(pdf, tmp_path) == 2
    text = pdf_text(pdf, tmp_path)
    for slip in slips:
        assert slip.code_pretty in text
    # The title wraps inside a slip and -layout interleaves the columns: count its first line.
    assert text.count(MEETING_TITLE[:12]) >= 13
    assert "C 一般干部" in text
    assert "http://192.168.1.20:8000/v" in text
    assert "请用手机扫码投票" in text


def test_slip_sheet_escapes_title(tmp_path):
    """The meeting title is data too (autoescaping), on the slips and in the page footer."""
    pdf = slip_sheet_pdf(f"测评{HOSTILE_NAME}", make_slips(1), vote_url_hint="http://h/v")
    text = pdf_text(pdf, tmp_path)
    assert f"测评{HOSTILE_NAME}" in text


def test_qr_png_is_a_png():
    """The QR code is a PNG (embedded as a data: URL; SVG makes WeasyPrint slow)."""
    png = qr_png("http://192.168.1.20:8000/v/7K3M9QXW2ZRTH4D8PB")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_qr_png_decodes_when_zxing_is_available():
    """The code in the QR image is the slip's URL."""
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp not installed")
    from io import BytesIO

    from PIL import Image

    url = "http://192.168.1.20:8000/v/7K3M9QXW2ZRTH4D8PB"
    image = Image.open(BytesIO(qr_png(url))).convert("L")
    image = image.resize((image.width * 4, image.height * 4), Image.NEAREST)
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [url]


def test_renderer_fetches_nothing_but_data_urls():
    """The PDF renderer may not read files or the network: only data: URLs are served."""
    from app.services.documents import _data_only_fetcher

    fetcher = _data_only_fetcher()
    for url in ("file:///etc/passwd", "http://example.com/x.png", "https://example.com/", "ftp://h/x"):
        with pytest.raises(ValueError):
            fetcher(url)
    assert fetcher("data:text/plain;base64,aGk=").read() == b"hi"


# ------------------------------------------------------------------------------------------
# The slip sheet in worker processes (B2)
# ------------------------------------------------------------------------------------------


def _qr_texts(pdf: bytes, tmp_path, dpi: int = 100) -> list[list[str]]:
    """The QR codes on every page, decoded from the rendered pages (zxing-cpp)."""
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp not installed")
    from PIL import Image

    path = tmp_path / "qr.pdf"
    path.write_bytes(pdf)
    subprocess.run([_need("pdftoppm"), "-r", str(dpi), "-png", str(path), str(tmp_path / "qr")], check=True)
    pages = []
    for png in sorted(tmp_path.glob("qr-*.png")):
        with Image.open(png) as image:
            pages.append([barcode.text for barcode in zxingcpp.read_barcodes(image)])
    return pages


def test_slip_sheet_in_worker_processes_is_whole_and_in_order(tmp_path):
    """B2: 100 slips rendered by two worker processes in runs of pages: 9 pages, the slips in
    order, each page's footer numbered of the whole (第 n 页 共 9 页), the meeting's title as
    the document's, and every QR code (fixed mask pattern) read back as its slip's URL."""
    slips = make_slips(100)
    seen: list[tuple[int, int]] = []
    pdf = slip_sheet_pdf(
        MEETING_TITLE, slips, vote_url_hint="http://192.168.1.20:8000/v", progress=lambda d, t: seen.append((d, t)), workers=2
    )
    assert pdf_pages(pdf, tmp_path) == 9
    # Progress: one report per run, never back, ending at all of them.
    assert len(seen) > 2 and all(total == 100 for _, total in seen)
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == 100
    path = tmp_path / "all.pdf"
    path.write_bytes(pdf)
    for page in range(1, 10):
        text = subprocess.run(
            [_need("pdftotext"), "-f", str(page), "-l", str(page), "-layout", str(path), "-"], check=True, capture_output=True, text=True
        ).stdout
        assert f"第 {page} 页 共 9 页" in text
        assert slips[(page - 1) * 12].code_pretty in text
    info = subprocess.run([_need("pdfinfo"), str(path)], check=True, capture_output=True, text=True).stdout
    assert f"{MEETING_TITLE} · 测评码" in info
    decoded = _qr_texts(pdf, tmp_path)
    assert [len(p) for p in decoded] == [12] * 8 + [4]
    assert sorted(t for p in decoded for t in p) == sorted(s.url for s in slips)


def test_slip_sheet_in_one_process_matches(tmp_path):
    """The same sheet rendered in the calling process (workers=1) has the same pages and text."""
    slips = make_slips(30)
    seen: list[int] = []
    one = slip_sheet_pdf(MEETING_TITLE, slips, vote_url_hint="http://h/v", workers=1, progress=lambda d, t: seen.append(d))
    two = slip_sheet_pdf(MEETING_TITLE, slips, vote_url_hint="http://h/v", workers=2)
    assert pdf_pages(one, tmp_path) == pdf_pages(two, tmp_path) == 3
    assert squash(pdf_text(one, tmp_path)) == squash(pdf_text(two, tmp_path))
    assert seen == sorted(seen) and seen[-1] == 30


def test_slip_sheet_without_worker_processes_renders_here(tmp_path, monkeypatch):
    """Where worker processes cannot start (no /dev/shm, a sandbox), the runs are rendered in
    the calling process, with the same progress."""
    from app.services import render_pool

    def unavailable():
        raise OSError("no semaphores here")

    monkeypatch.setattr(render_pool, "_context", unavailable)
    seen: list[int] = []
    pdf = slip_sheet_pdf(MEETING_TITLE, make_slips(40), vote_url_hint="http://h/v", workers=2, progress=lambda d, t: seen.append(d))
    assert pdf_pages(pdf, tmp_path) == 4
    assert seen == [12, 24, 36, 40]


def test_slip_sheet_failure_in_a_worker_reaches_the_caller():
    """A run that fails in a worker process fails the whole sheet with its error (here: a URL
    too long for any QR code)."""
    slips = make_slips(36) + [SlipPrint("A", "X", "http://h/" + "x" * 3000)]
    with pytest.raises(ValueError, match="version"):
        slip_sheet_pdf(MEETING_TITLE, slips, vote_url_hint="http://h/v", workers=2)


def test_qr_png_is_one_pixel_per_module_with_the_fixed_mask():
    """B2: the PNG has one pixel per module (version 3 for a slip URL: 29 modules + 2 × 2 quiet
    zone), black or white, so it stays tiny; the code uses mask pattern QR_MASK_PATTERN."""
    from io import BytesIO

    import qrcode.constants
    import qrcode.util
    from PIL import Image

    from app.services.documents import QR_MASK_PATTERN

    png = qr_png("http://192.168.1.20:8000/v/7K3M9QXW2ZRTH4D8PB")
    with Image.open(BytesIO(png)) as image:
        assert image.size == (33, 33) and image.mode == "L"
        assert sorted(c for _, c in image.getcolors()) == [0, 255]
        # Format information next to the top-left finder (row 8, columns 0–5 and 7, 8) carries
        # the mask pattern, XOR-masked as ISO/IEC 18004 §7.9 prescribes.
        pixels = image.load()
        bits = [0 if pixels[2 + col, 2 + 8] else 1 for col in (0, 1, 2, 3, 4, 5, 7, 8)]
    expected = qrcode.util.BCH_type_info((qrcode.constants.ERROR_CORRECT_M << 3) | QR_MASK_PATTERN)
    assert bits == [(expected >> (14 - i)) & 1 for i in range(8)]
    assert len(png) < 400
