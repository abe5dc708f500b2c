"""Benchmark B2: the A4 slip sheet PDF for 12, 200 and 1,000 slips (no database involved).

    .venv/bin/python bench/slips_pdf.py [COUNTS...]

For each count it measures, on this machine:

- ``slip_sheet_pdf``, the path the console and the CLI take (wall-clock): "cold" is the first
  sheet of a fresh process, as in the CLI (it imports WeasyPrint and loads the fonts); "warm"
  the best of two later sheets, as in a web worker that has made one before;
- where the time goes (CPU seconds, in this process): the QR codes (modules and their paths),
  WeasyPrint's layout of the sheet's parts (one slip per category, the footers), and the rest:
  writing the PDF with the pages put together and stamped.

The machine is shared: the load average at the start of each count is recorded with it.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.core import codes  # noqa: E402
from app.services import documents, slip_sheet  # noqa: E402
from app.services.documents import SlipPrint, slip_sheet_pdf  # noqa: E402
from bench._common import record  # noqa: E402

TITLE = "2026年度领导班子和领导干部民主测评大会"
HINT = "http://192.168.1.20:8000/v"


def slips(n: int) -> list[SlipPrint]:
    out = []
    for _ in range(n):
        code = codes.derive_code(b"bench", secrets.token_bytes(16))
        out.append(SlipPrint("B 中层干部", codes.pretty(code), f"http://192.168.1.20:8000/v/{code}"))
    return out


def phases(items: list[SlipPrint]) -> dict[str, float]:
    """CPU seconds of each phase of one sheet, in this process."""
    clock = time.process_time
    t = clock()
    for item in items:
        slip_sheet.qr_path(slip_sheet.qr_matrix(item.url))
    qr = clock() - t
    t = clock()
    documents._render(slip_sheet._Plan(items, slip_sheet.GEOMETRY).parts_html(TITLE, HINT))
    layout = clock() - t
    t = clock()
    slip_sheet_pdf(TITLE, items, vote_url_hint=HINT)
    total = clock() - t
    return {"qr": qr, "layout": layout, "rest": total - qr - layout, "total": total}


def main(counts: list[int]) -> None:
    lines = [
        (
            "`slip_sheet_pdf` in the calling process: WeasyPrint lays out one slip per category and the footers, the "
            "pages are put together from them with the QR codes, codes and page numbers stamped in. Wall-clock seconds; "
            "the phases are CPU seconds of a warm sheet."
        ),
        "",
        "| slips | pages | cold s | warm s | MB | load avg | ms per QR code | CPU: QR | parts layout | assemble + write | CPU total |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    slip_sheet_pdf("预热", slips(1), vote_url_hint="http://x/v")  # imports and fonts, in this process
    for n in counts:
        items = slips(n)
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        for item in items[:50]:
            slip_sheet.qr_matrix(item.url)
        per_qr = (time.perf_counter() - t0) / min(50, n) * 1000
        cold = float(
            subprocess.run([sys.executable, __file__, "--cold", str(n)], check=True, capture_output=True, text=True).stdout
        )
        runs = []
        for _ in range(2):
            t0 = time.perf_counter()
            pdf = slip_sheet_pdf(TITLE, items, vote_url_hint=HINT)
            runs.append(time.perf_counter() - t0)
        warm = min(runs)
        spent = phases(items)
        pages = -(-n // documents.SLIPS_PER_PAGE)
        lines.append(
            f"| {n} | {pages} | {cold:.2f} | {warm:.2f} | {len(pdf) / 1e6:.2f} | {load:.1f} | {per_qr:.2f} | "
            + " | ".join(f"{spent[k]:.2f}" for k in ("qr", "layout", "rest", "total"))
            + " |"
        )
    record("Slip sheet PDF (B2: parts laid out once, pages stamped, 12 per A4 page)", lines)


def cold(n: int) -> None:
    """Print the seconds of the first sheet of this (fresh) process."""
    items = slips(n)
    t0 = time.perf_counter()
    slip_sheet_pdf(TITLE, items, vote_url_hint=HINT)
    print(f"{time.perf_counter() - t0:.3f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--cold"]:
        cold(int(sys.argv[2]))
    else:
        main([int(a) for a in sys.argv[1:]] or [12, 200, 1000])
