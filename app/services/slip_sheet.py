"""The slip sheet PDF (DOMAIN §7 "Slip sheet"), put together from parts WeasyPrint lays out once.

Why not let WeasyPrint lay out the whole sheet: its layout is pure Python, about 9 ms per slip,
so 1,000 slips (84 pages) took 19–25 s in one process and still 6–7 s on two worker processes
(docs/performance.md, B2). Yet every slip of a category is the same slip but for its QR code
and its code, and every page the same page but for its slips and its number. So WeasyPrint
lays out each part once (templates/documents/slips.html): one slip per category, with a hole
where the QR code and the code go; one footer per count of digits of a page number, with a
hole as wide as the number; and lines of the glyphs the holes will need. Then, in the PDF it
writes (its ``finisher`` hook, on the pydyf objects before they are written), each part's page
becomes a form XObject, the parts' pages are dropped, and every page of the sheet is a short
content stream that:

- draws its slips' parts in their slots (3 × 4, the slots ``SlipGeometry`` gives) and its
  footer part;
- stamps what differs: each QR code as filled rectangles, one per run of dark modules in a
  row (vector, sharp at any resolution); each code, and the page number, as text in the very
  font WeasyPrint embedded for it (DejaVu Sans Mono, WenQuanYi Micro Hei): same look, and the
  text stays selectable and searchable.

Everything is read from WeasyPrint's own layout (positions of the holes, baselines, letter
spacing) and its own PDF (font resource names, glyph ids, widths), nothing from font files:
change the template and the stamps follow. What is read is WeasyPrint's layout tree
(``Page._page_box``) and pydyf's objects, which are not public API: WeasyPrint is pinned, and
the tests check the stamped sheet (every QR code decodes to its slip's URL, every code and page
number is on its page where the template puts it).
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import qrcode
import qrcode.constants

if TYPE_CHECKING:  # pragma: no cover
    from .documents import SlipPrint

#: CSS pixels per millimetre; WeasyPrint's layout is in CSS pixels (1/96 in), its PDF in points.
PX_PER_MM = 96 / 25.4
PT_PER_PX = 0.75

#: The QR mask pattern of every slip. Left to itself, qrcode builds all eight masks and scores
#: each (ISO/IEC 18004 §7.8.3), which was 80% of its time per code; any mask makes a valid code,
#: and pattern 0 scored best on average over slip URLs (docs/performance.md, B2).
QR_MASK_PATTERN = 0

#: Quiet zone around a QR code, in modules, inside its 30 mm box (as the old 33-pixel PNG had).
QR_BORDER = 2

#: ``progress(done, total)``: slips laid out so far, of all.
Progress = Callable[[int, int], None]

#: At most this many progress reports per sheet (plus the last): enough for a smooth bar, few
#: enough for the CLI's lines.
PROGRESS_STEPS = 20

#: Names of the parts' form XObjects in the page resources (WeasyPrint names its own images
#: with other prefixes).
_SLIP_FORM = "SlipPart{}"
_FOOTER_FORM = "FooterPart{}"


@dataclass(frozen=True)
class SlipGeometry:
    """The A4 page and its 3 × 4 slots, in mm; the template gets the same numbers."""

    page_width: float = 210
    page_height: float = 297
    margin_top: float = 8
    margin_right: float = 8
    margin_bottom: float = 9
    margin_left: float = 8
    width: float = 64.8
    height: float = 70
    #: The dashed cut line; neighbouring slots overlap by its width (one line between them).
    line: float = 0.3
    columns: int = 3
    rows: int = 4

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    def slot_offset_px(self, index: int) -> tuple[float, float]:
        """How far slot ``index`` (row by row) is from the top-left slot, in CSS px."""
        row, column = divmod(index, self.columns)
        return column * (self.width - self.line) * PX_PER_MM, row * (self.height - self.line) * PX_PER_MM


GEOMETRY = SlipGeometry()


#: The QR version (size) for each shape of data: ``qrcode`` fits it anew for every code (a
#: quarter of its time), but the fit depends only on the modes and lengths of the data's
#: segments, and the URLs of one sheet share one shape. Bounded by the shapes slip URLs take.
_versions: dict[tuple[tuple[int, int], ...], int] = {}


def qr_matrix(url: str) -> list[list[bool]]:
    """The modules of the QR code of ``url`` (error correction M, mask ``QR_MASK_PATTERN``), rows
    of booleans (dark = True), the quiet zone of ``QR_BORDER`` modules included.

    :raises ValueError: ``url`` is too long for any QR code.
    """
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QR_BORDER, mask_pattern=QR_MASK_PATTERN)
    qr.add_data(url)
    shape = tuple((chunk.mode, len(chunk)) for chunk in qr.data_list)
    version = _versions.get(shape)
    if version is None:
        qr.best_fit()
        if len(_versions) < 64:
            _versions[shape] = qr.version
    else:
        qr.version = version
    qr.make(fit=False)
    return qr.get_matrix()


_DARK_RUN = re.compile(b"\x01+")


def qr_path(matrix: Sequence[Sequence[bool]]) -> bytes:
    """PDF path operators filling the dark modules of ``matrix``, one rectangle per run of dark
    modules in a row, in module units (x right, y down). One path filled once: rectangles that
    touch leave no hairline between them, as separately filled ones may in some viewers."""
    out = []
    for y, row in enumerate(matrix):
        for run in _DARK_RUN.finditer(bytes(row)):
            out.append(b"%d %d %d 1 re" % (run.start(), y, run.end() - run.start()))
    out.append(b"f")
    return b"\n".join(out)


# ------------------------------------------------------------------------------------------
# Reading the parts from WeasyPrint's layout
# ------------------------------------------------------------------------------------------


#: An sRGB colour as the PDF ``rg`` operator takes it.
Rgb = tuple[float, float, float]


@dataclass(frozen=True)
class _SlipHoles:
    """Where a slip part (in the top-left slot) leaves room for its QR code and its code, in
    CSS px from the page's top-left corner, and the code's colour."""

    qr_x: float
    qr_y: float
    qr_size: float
    code_center_x: float
    code_baseline: float
    code_color: Rgb


@dataclass(frozen=True)
class _NumberHole:
    """Where a footer part leaves room for the page number, in CSS px, and its colour. The hole
    is as wide as that many zeros; the number is centred in it, which is exact for tabular
    digits (WenQuanYi Micro Hei's are)."""

    x: float
    width: float
    baseline: float
    color: Rgb


@dataclass(frozen=True)
class _Layout:
    """What stamping needs from WeasyPrint's layout of the parts."""

    slips: dict[str, _SlipHoles]  # by category
    numbers: dict[int, _NumberHole]  # by count of digits
    #: The glyph line of the codes' characters: its width (CSS px) and length, which give the
    #: letter spacing WeasyPrint applied.
    code_line: tuple[float, int]


def _boxes(page: Any, css_class: str) -> Iterator[Any]:
    """The boxes of ``page`` made for elements of class ``css_class`` (a block and its lines and
    text share the element), in document order."""
    for box in page._page_box.descendants(placeholders=True):  # into absolutely positioned boxes too
        element = getattr(box, "element", None)
        if element is not None and css_class in (element.get("class") or "").split():
            yield box


def _first(page: Any, css_class: str, kind: type) -> Any:
    return next(box for box in _boxes(page, css_class) if isinstance(box, kind))


def _rgb(box: Any) -> Rgb:
    return tuple(box.style["color"].to("srgb").coordinates)


def _read_layout(pages: Sequence[Any], plan: _Plan) -> _Layout:
    """The holes of the parts WeasyPrint laid out (their pages in the order of the template)."""
    from weasyprint.formatting_structure.boxes import BlockBox, TextBox

    if len(pages) != len(plan.categories) + len(plan.digit_counts) + 2:
        raise ValueError(f"the slip sheet's parts took {len(pages)} pages, not one each")
    slips = {}
    for category, page in zip(plan.categories, pages):
        qr, code, text = _first(page, "qr", BlockBox), _first(page, "code", BlockBox), _first(page, "code", TextBox)
        slip = _first(page, "slip", BlockBox)
        if code.position_y + code.margin_height() > slip.position_y + slip.margin_height():
            raise ValueError(f"the QR code and the code do not fit in the slip of category {category!r}")
        slips[category] = _SlipHoles(
            qr_x=qr.content_box_x(),
            qr_y=qr.content_box_y(),
            qr_size=qr.width,
            code_center_x=code.content_box_x() + code.width / 2,
            code_baseline=text.position_y + text.baseline,
            code_color=_rgb(text),
        )
    numbers = {}
    for digits, page in zip(plan.digit_counts, pages[len(plan.categories) :]):
        text = _first(page, "page-number", TextBox)
        if text.position_x + text.width > page.width:
            raise ValueError("the page number falls off the page")
        numbers[digits] = _NumberHole(
            x=text.position_x, width=text.width, baseline=text.position_y + text.baseline, color=_rgb(text)
        )
    code_line = [box for box in _boxes(pages[-2], "code") if isinstance(box, TextBox)]
    return _Layout(slips, numbers, (sum(box.width for box in code_line), sum(len(box.text) for box in code_line)))


# ------------------------------------------------------------------------------------------
# Reading fonts from the PDF WeasyPrint writes
# ------------------------------------------------------------------------------------------


def _deref(pdf: Any, reference: Any) -> Any:
    """The pydyf object a reference (``b"12 0 R"``) names; anything else as it is."""
    if isinstance(reference, bytes) and reference.endswith(b" R"):
        return pdf.objects[int(reference.split()[0])]
    return reference


_SET_FONT = re.compile(rb"/(\S+) ([0-9.]+) Tf")
_BF_CHAR = re.compile(rb"<([0-9a-fA-F]+)> <([0-9a-fA-F]+)>")


@dataclass(frozen=True)
class _Font:
    """A font WeasyPrint embedded, as far as stamping text in it goes."""

    name: str  # in the page resources
    size: float  # in CSS px, as WeasyPrint set it
    glyphs: dict[str, int]  # character → glyph id (the PDF's character code)
    widths: dict[int, float]  # glyph id → advance, 1/1000 of the font size

    def hex_and_width(self, text: str, letter_spacing: float) -> tuple[bytes, float]:
        """``text`` as a PDF hex string of glyph ids, and its width with ``letter_spacing`` after
        every character (as WeasyPrint sets it), in CSS px."""
        try:
            glyphs = [self.glyphs[char] for char in text]
        except KeyError as error:
            raise ValueError(f"character {error.args[0]!r} is not in the embedded font {self.name}") from None
        width = sum(self.widths.get(glyph, 0) for glyph in glyphs) * self.size / 1000 + letter_spacing * len(glyphs)
        return b"<" + b"".join(b"%04x" % glyph for glyph in glyphs) + b">", width


def _font_of_page(pdf: Any, page: Any, fonts: Any) -> _Font | None:
    """The one font the text of a glyph page is set in (None when it has no text).

    :raises ValueError: the text needed more than one font (a character that font lacks).
    """
    stream = _deref(pdf, page["Contents"])
    used = {match.groups() for item in stream.stream if (match := _SET_FONT.fullmatch(_bytes(item)))}
    if not used:
        return None
    if len({name for name, _ in used}) != 1:
        raise ValueError(f"the characters to stamp need more than one font: {sorted(used)}")
    name, size = used.pop()
    font = _deref(pdf, fonts[name.decode()])
    glyphs = {}
    for item in _deref(pdf, font["ToUnicode"]).stream:
        for glyph, text in _BF_CHAR.findall(_bytes(item)):
            char = bytes.fromhex(text.decode()).decode("utf-16-be")
            glyphs.setdefault(char, int(glyph, 16))
    descendant = _deref(pdf, _deref(pdf, font["DescendantFonts"])[0])
    widths: dict[int, float] = {}
    entries = list(_deref(pdf, descendant["W"]))
    for first, run in zip(entries[::2], entries[1::2]):  # WeasyPrint writes "first [w w …]" runs
        widths.update((first + i, float(width)) for i, width in enumerate(run))
    return _Font(name=name.decode(), size=float(size), glyphs=glyphs, widths=widths)


def _bytes(item: Any) -> bytes:
    return item if isinstance(item, bytes) else str(item).encode()


def _number(value: float) -> bytes:
    """A number for a content stream: short, and never in exponent form."""
    return (b"%.3f" % value).rstrip(b"0").rstrip(b".") or b"0"


# ------------------------------------------------------------------------------------------
# The sheet
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """The sheet to make: its slips, page by page, and the parts they need."""

    slips: Sequence[SlipPrint]
    geometry: SlipGeometry

    @functools.cached_property
    def page_count(self) -> int:
        return max(1, -(-len(self.slips) // self.geometry.per_page))  # an empty sheet: 1 page

    @functools.cached_property
    def categories(self) -> list[str]:
        return list(dict.fromkeys(slip.category_label for slip in self.slips))

    @functools.cached_property
    def digit_counts(self) -> list[int]:
        return sorted({len(str(number)) for number in range(1, self.page_count + 1)})

    @functools.cached_property
    def code_chars(self) -> str:
        return "".join(sorted({char for slip in self.slips for char in slip.code_pretty}))

    def page(self, index: int) -> Sequence[SlipPrint]:
        per_page = self.geometry.per_page
        return self.slips[index * per_page : (index + 1) * per_page]

    def parts_html(self, meeting_title: str, vote_url_hint: str) -> str:
        from .documents import _env

        return _env.get_template("documents/slips.html").render(
            meeting_title=meeting_title,
            vote_url_hint=vote_url_hint,
            categories=self.categories,
            digit_counts=self.digit_counts,
            page_count=self.page_count,
            code_chars=self.code_chars,
            slip=self.geometry,
        )


def build(
    render_html: Callable[[str], Any],
    meeting_title: str,
    slips: Sequence[SlipPrint],
    *,
    vote_url_hint: str,
    progress: Progress | None = None,
    geometry: SlipGeometry = GEOMETRY,
) -> bytes:
    """The slip sheet of ``slips`` (see ``documents.slip_sheet_pdf``).

    :param render_html: ``render_html(html)`` → WeasyPrint ``Document``, laid out, not written.
    """
    plan = _Plan(slips, geometry)
    document = render_html(plan.parts_html(meeting_title, vote_url_hint))
    assembler = _Assembler(plan, _read_layout(document.pages, plan), progress)
    return document.write_pdf(finisher=assembler)


class _Assembler:
    """WeasyPrint's ``finisher``: turns the parts' pages into form XObjects and puts the sheet's
    pages in their place, just before the PDF is written."""

    def __init__(self, plan: _Plan, layout: _Layout, progress: Progress | None) -> None:
        self.plan = plan
        self.layout = layout
        self.progress = progress

    def __call__(self, _document: Any, pdf: Any) -> None:
        import pydyf

        plan = self.plan
        part_pages = [pdf.objects[number] for number in pdf.pages["Kids"][::3]]
        resources = _deref(pdf, part_pages[0]["Resources"])  # WeasyPrint shares one dictionary
        fonts = _deref(pdf, resources["Font"])
        self.code_font = _font_of_page(pdf, part_pages[-2], fonts)
        self.digit_font = _font_of_page(pdf, part_pages[-1], fonts)
        # The codes' letter spacing as WeasyPrint applied it: the glyph line's width less its
        # glyphs' advances, per character.
        self.letter_spacing = 0.0
        width, chars = self.layout.code_line
        if self.code_font is not None and chars:
            self.letter_spacing = (width - self.code_font.hex_and_width(plan.code_chars, 0)[1]) / chars

        names = [_SLIP_FORM.format(i) for i in range(len(plan.categories))]
        names += [_FOOTER_FORM.format(digits) for digits in plan.digit_counts]
        for name, page in zip(names, part_pages):
            stream = _deref(pdf, page["Contents"])
            stream.extra.update(
                {"Type": "/XObject", "Subtype": "/Form", "BBox": page["MediaBox"], "Resources": page["Resources"]}
            )
            resources["XObject"][name] = stream.reference
        self.slip_forms = dict(zip(plan.categories, names))
        template = dict(part_pages[0])
        # The part pages leave the page tree; their dictionaries stay behind empty (pydyf numbers
        # objects by position), their streams live on as the forms.
        for page in part_pages:
            page.clear()
        pdf.pages["Kids"] = pydyf.Array()
        pdf.pages["Count"] = 0

        total = len(plan.slips)
        step = max(1, -(-plan.page_count // PROGRESS_STEPS))
        for index in range(plan.page_count):
            # Compressed here at zlib's default level: pydyf's level 9 took 0.5 s for 1,000
            # slips' QR paths and saved a fifth of their size.
            content = pydyf.Stream([zlib.compress(self._page(index))], pydyf.Dictionary({"Filter": "/FlateDecode"}))
            pdf.add_object(content)
            pdf.add_page(pydyf.Dictionary({**template, "Contents": content.reference}))
            if self.progress is not None and ((index + 1) % step == 0 or index + 1 == plan.page_count):
                self.progress(min(total, (index + 1) * plan.geometry.per_page), total)

    def _page(self, index: int) -> bytes:
        """The content stream of page ``index``: its parts, then its stamps."""
        geometry, slips, number = self.plan.geometry, self.plan.page(index), str(index + 1)
        offsets = [geometry.slot_offset_px(slot) for slot in range(len(slips))]
        ops = []
        for slip, (dx, dy) in zip(slips, offsets):  # in the page's PDF space: points, y up
            ops.append(
                b"q 1 0 0 1 %s %s cm /%s Do Q"
                % (_number(dx * PT_PER_PX), _number(-dy * PT_PER_PX), self.slip_forms[slip.category_label].encode())
            )
        ops.append(b"/%s Do" % _FOOTER_FORM.format(len(number)).encode())
        # The stamps in CSS px, y down, as WeasyPrint's layout has them.
        page_height = geometry.page_height * PX_PER_MM * PT_PER_PX
        ops.append(b"q %s 0 0 %s 0 %s cm" % (_number(PT_PER_PX), _number(-PT_PER_PX), _number(page_height)))
        for slip, (dx, dy) in zip(slips, offsets):
            holes = self.layout.slips[slip.category_label]
            matrix = qr_matrix(slip.url)
            module = holes.qr_size / len(matrix)
            ops.append(
                b"0 0 0 rg q %s 0 0 %s %s %s cm"
                % (_number(module), _number(module), _number(holes.qr_x + dx), _number(holes.qr_y + dy))
            )
            ops.append(qr_path(matrix))
            ops.append(b"Q")
            if slip.code_pretty:
                ops.append(
                    _text(
                        self.code_font,
                        slip.code_pretty,
                        holes.code_color,
                        holes.code_center_x + dx,
                        holes.code_baseline + dy,
                        self.letter_spacing,
                    )
                )
        hole = self.layout.numbers[len(number)]
        ops.append(_text(self.digit_font, number, hole.color, hole.x + hole.width / 2, hole.baseline))
        ops.append(b"Q")
        return b"\n".join(ops)


def _text(font: _Font, text: str, color: Rgb, center_x: float, baseline: float, letter_spacing: float = 0) -> bytes:
    """A line of text centred on ``center_x`` (CSS px, y down), as WeasyPrint sets text."""
    glyphs, width = font.hex_and_width(text, letter_spacing)
    return b"%s %s %s rg BT /%s %s Tf %s Tc 1 0 0 -1 %s %s Tm %s Tj ET" % (
        *(_number(channel) for channel in color),
        font.name.encode(),
        _number(font.size),
        _number(letter_spacing),
        _number(center_x - width / 2),
        _number(baseline),
        glyphs,
    )
