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
from app.services.documents import SlipPrint, slip_sheet_pdf, summary_pdf
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


def test_renderer_fetches_nothing_but_data_urls():
    """The PDF renderer may not read files or the network: only data: URLs are served."""
    from app.services.documents import _data_only_fetcher

    fetcher = _data_only_fetcher()
    for url in ("file:///etc/passwd", "http://example.com/x.png", "https://example.com/", "ftp://h/x"):
        with pytest.raises(ValueError):
            fetcher(url)
    assert fetcher("data:text/plain;base64,aGk=").read() == b"hi"


# ------------------------------------------------------------------------------------------
# The slip sheet put together from parts laid out once, QR codes and codes stamped in (B2)
# ------------------------------------------------------------------------------------------

#: A category label long enough to wrap in its slip: its QR code and code sit a line lower.
LONG_CATEGORY = "D 服务对象代表（企业、群众、人大代表及政协委员）"

_MM = 72 / 25.4  # PDF points per mm
_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')


def _slot(x: float, y: float) -> int | None:
    """The slot (0–11, row by row) a point in PDF points (y down) is in; None in the footer."""
    from app.services.slip_sheet import GEOMETRY as g

    column = int((x - g.margin_left * _MM) // ((g.width - g.line) * _MM))
    row = int((y - g.margin_top * _MM) // ((g.height - g.line) * _MM))
    return row * g.columns + column if 0 <= column < g.columns and 0 <= row < g.rows else None


def _words(pdf: bytes, tmp_path) -> list[list[tuple[float, float, float, float, str]]]:
    """The words of every page with their boxes (points, y down), as pdftotext reads them."""
    import html

    path = tmp_path / "words.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([_need("pdftotext"), "-bbox", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return [
        [(float(a), float(b), float(c), float(d), html.unescape(w)) for a, b, c, d, w in _WORD.findall(page)]
        for page in out.split("<page ")[1:]
    ]


def _qr_by_slot(pdf: bytes, tmp_path, dpi: int = 100) -> list[dict[int, str]]:
    """Every page's QR codes, decoded from the rendered page (zxing-cpp), by the slot they are in."""
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp not installed")
    from PIL import Image

    path = tmp_path / "qr.pdf"
    path.write_bytes(pdf)
    subprocess.run([_need("pdftoppm"), "-r", str(dpi), "-gray", str(path), str(tmp_path / "qr")], check=True)
    pages = []
    for png in sorted(tmp_path.glob("qr-*.pgm")):
        with Image.open(png) as image:
            found = {}
            for code in zxingcpp.read_barcodes(image):
                corners = (code.position.top_left, code.position.bottom_right)
                x, y = (sum(c.x for c in corners) / 2 * 72 / dpi, sum(c.y for c in corners) / 2 * 72 / dpi)
                assert _slot(x, y) not in found
                found[_slot(x, y)] = code.text
            pages.append(found)
    return pages


def _check_sheet(pdf: bytes, slips: list[SlipPrint], title: str, tmp_path) -> None:
    """Every slip in its slot of its page: its QR code decodes to its URL, its code and its
    category are printed there (as text), the code centred in the slot; every page's footer
    reads "title · 测评码 · 第 n 页 共 N 页"."""
    from app.services.slip_sheet import GEOMETRY as g

    pages = -(-len(slips) // 12) or 1
    assert pdf_pages(pdf, tmp_path) == pages
    words, qrs = _words(pdf, tmp_path), _qr_by_slot(pdf, tmp_path)
    assert len(words) == len(qrs) == pages
    for number in range(1, pages + 1):
        on_page = slips[(number - 1) * 12 : number * 12]
        page_words = words[number - 1]
        assert qrs[number - 1] == {slot: slip.url for slot, slip in enumerate(on_page)}, f"page {number}"
        footer = [w for *_, w in sorted((w for w in page_words if _slot(w[0], w[1]) is None), key=lambda w: w[0])]
        assert " ".join(footer) == f"{title} · 测评码 · 第 {number} 页 共 {pages} 页"
        for slot, slip in enumerate(on_page):
            in_slot = [w for w in page_words if _slot(w[0], w[1]) == slot]
            assert squash(slip.category_label) in "".join(w for *_, w in in_slot)
            (code,) = [w for w in in_slot if w[4] == slip.code_pretty]
            slot_center = (g.margin_left + (slot % 3) * (g.width - g.line) + g.width / 2) * _MM
            assert abs((code[0] + code[2]) / 2 - slot_center) < 0.5


def test_slip_sheet_every_slip_in_its_slot(tmp_path):
    """B2: 121 slips of four categories mixed in no order (one label long enough to wrap), so
    11 pages (page numbers of one and two digits) and a last page of one slip: every slip is
    in its slot with its own QR code, code and category, every footer numbered of the whole;
    progress reported as pages are done, never back, at most ~20 times, ending at all."""
    categories = ("A 领导班子成员", "B 中层干部", LONG_CATEGORY, "C 一般干部")
    slips = [SlipPrint(categories[(i * i + i // 5) % 4], s.code_pretty, s.url) for i, s in enumerate(make_slips(121))]
    seen: list[tuple[int, int]] = []
    pdf = slip_sheet_pdf(
        MEETING_TITLE, slips, vote_url_hint="http://192.168.1.20:8000/v", progress=lambda d, t: seen.append((d, t))
    )
    _check_sheet(pdf, slips, MEETING_TITLE, tmp_path)
    done = [d for d, total in seen if total == 121]
    assert len(done) == len(seen) and 2 < len(seen) <= 21
    assert done == sorted(done) and done[-1] == 121


def test_slip_sheet_embeds_its_fonts_once(tmp_path):
    """The parts share one set of fonts (the CJK font and the codes' monospace font), so the
    sheet stays small: well under 10 kB a page, where it was ~15 kB (runs each embedding fonts)."""
    path = tmp_path / "fonts.pdf"
    pdf = slip_sheet_pdf(MEETING_TITLE, make_slips(240), vote_url_hint="http://h/v")
    path.write_bytes(pdf)
    fonts = subprocess.run([_need("pdffonts"), str(path)], check=True, capture_output=True, text=True).stdout.splitlines()[2:]
    assert len(fonts) == 2 and all(" yes yes yes " in line for line in fonts)
    assert len(pdf) < 20 * 10_000


def test_slip_sheet_title_in_footer_and_info(tmp_path):
    """The document's title is the sheet's; the title prints in every footer, escaped."""
    title = f"测评{HOSTILE_NAME}"
    slips = make_slips(13)
    pdf = slip_sheet_pdf(title, slips, vote_url_hint="http://h/v")
    _check_sheet(pdf, slips, title, tmp_path)
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    info = subprocess.run([_need("pdfinfo"), str(path)], check=True, capture_output=True, text=True).stdout
    assert f"{title} · 测评码" in info


def test_slip_sheet_with_the_longest_names_keeps_codes_and_page_numbers_in_place(tmp_path):
    """The longest category name (100 characters) and meeting title (200) the forms accept:
    the category is cut to two lines and the title in the footer is cut short, so every QR
    code and code stays in its own slot and every page number on its page (a review found
    the QR code pushed across the cut line, and the number off the page)."""
    from app.services.slip_sheet import GEOMETRY as g

    slips = [SlipPrint("Z " + "很长的类别名称啊" * 12 + "类别", s.code_pretty, s.url) for s in make_slips(13)]
    title = "2026年度" + "领导班子和领导干部民主测评大会" * 13
    pdf = slip_sheet_pdf(title, slips, vote_url_hint="http://192.168.1.20:8000/v")
    words, qrs = _words(pdf, tmp_path), _qr_by_slot(pdf, tmp_path)
    for number, page_slips in ((1, slips[:12]), (2, slips[12:])):
        assert qrs[number - 1] == {slot: slip.url for slot, slip in enumerate(page_slips)}, f"page {number}"
        for slot, slip in enumerate(page_slips):
            assert [w for w in words[number - 1] if w[4] == slip.code_pretty and _slot(w[0], w[1]) == slot]
        footer = sorted((w for w in words[number - 1] if _slot(w[0], w[1]) is None), key=lambda w: w[0])
        assert [w[4] for w in footer[-6:]] == ["第", str(number), "页", "共", "2", "页"]
        assert footer[-5][2] < g.page_width * _MM  # the page number's right edge


def test_empty_slip_sheet_is_one_page_with_its_footer(tmp_path):
    seen: list[tuple[int, int]] = []
    pdf = slip_sheet_pdf(MEETING_TITLE, [], vote_url_hint="http://h/v", progress=lambda d, t: seen.append((d, t)))
    _check_sheet(pdf, [], MEETING_TITLE, tmp_path)
    assert seen == [(0, 0)]


def test_slip_sheet_too_long_url_fails():
    """A URL too long for any QR code fails the sheet with qrcode's error."""
    slips = make_slips(36) + [SlipPrint("A", "X", "http://h/" + "x" * 3000)]
    with pytest.raises(ValueError, match="version"):
        slip_sheet_pdf(MEETING_TITLE, slips, vote_url_hint="http://h/v")


def test_slip_sheet_code_outside_the_code_font_fails():
    """Codes are stamped in the one font WeasyPrint chose for them; a code it cannot print
    (never one of ours: codes are ASCII) fails loudly rather than printing wrong glyphs."""
    slips = [SlipPrint("A", "码码-1234", "http://h/v/1")]
    with pytest.raises(ValueError, match="font"):
        slip_sheet_pdf(MEETING_TITLE, slips, vote_url_hint="http://h/v")


def test_qr_matrix_decodes_when_zxing_is_available():
    """The QR code's modules are the slip's URL."""
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp not installed")
    from PIL import Image

    from app.services.slip_sheet import qr_matrix

    url = "http://192.168.1.20:8000/v/7K3M9QXW2ZRTH4D8PB"
    matrix = qr_matrix(url)
    image = Image.frombytes("L", (len(matrix), len(matrix)), bytes(0 if dark else 255 for row in matrix for dark in row))
    image = image.resize((image.width * 4, image.height * 4), Image.NEAREST)
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [url]


def test_qr_matrix_has_the_fixed_mask_and_a_quiet_zone():
    """B2: a slip URL makes a version 3 code (29 modules) with a quiet zone of 2 modules, and
    mask pattern QR_MASK_PATTERN; the version qr_matrix remembers per shape of data is the one
    qrcode would fit."""
    import qrcode.constants
    import qrcode.util

    from app.services.slip_sheet import QR_MASK_PATTERN, qr_matrix

    matrix = qr_matrix("http://192.168.1.20:8000/v/7K3M9QXW2ZRTH4D8PB")
    assert len(matrix) == 33 and all(len(row) == 33 for row in matrix)
    assert not any(matrix[0]) and not any(matrix[1]) and not any(row[0] or row[1] for row in matrix)
    # Format information next to the top-left finder (row 8, columns 0–5 and 7, 8) carries the
    # mask pattern, XOR-masked as ISO/IEC 18004 §7.9 prescribes.
    bits = [1 if matrix[2 + 8][2 + col] else 0 for col in (0, 1, 2, 3, 4, 5, 7, 8)]
    expected = qrcode.util.BCH_type_info((qrcode.constants.ERROR_CORRECT_M << 3) | QR_MASK_PATTERN)
    assert bits == [(expected >> (14 - i)) & 1 for i in range(8)]
    # Longer data is another shape: it gets its own (bigger) version, not the one remembered.
    assert len(qr_matrix("http://192.168.1.20:8000/v/" + "7K3M9QXW2ZRTH4D8PB" * 3)) > 33


def test_qr_path_fills_each_run_of_dark_modules():
    from app.services.slip_sheet import qr_path

    assert qr_path([[False, True, True, False, True], [True] * 5]) == b"1 0 2 1 re\n4 0 1 1 re\n0 1 5 1 re\nf"
