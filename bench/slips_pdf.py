"""Benchmark B2: the A4 slip sheet PDF for 12, 200 and 1,000 slips (no database involved).

    .venv/bin/python bench/slips_pdf.py [COUNTS...]

For each count it measures, on this machine:

- the path the console and the CLI take, ``slip_sheet_pdf`` with its default worker processes
  (wall-clock; "cold" is the first sheet of a fresh process, as in the CLI, which starts the
  fork server and imports the renderer into it; "warm" the best of two later sheets, as in a
  web worker that has made one before);
- where the time goes, the same runs of pages rendered one after the other in this process
  (CPU seconds): QR codes, HTML, layout (WeasyPrint ``render``), PDF writing (``write_pdf``),
  and merging the runs (pypdf).

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
from app.services import documents, render_pool  # noqa: E402
from app.services.documents import SlipPrint, qr_png, slip_sheet_pdf  # noqa: E402
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
    """CPU seconds of each phase, the sheet's runs rendered one after the other here."""
    from weasyprint import HTML

    pages = [items[i : i + documents.SLIPS_PER_PAGE] for i in range(0, len(items), documents.SLIPS_PER_PAGE)]
    spent = dict.fromkeys(("qr", "html", "layout", "write", "merge"), 0.0)
    merger = render_pool._Merger()
    clock = time.process_time
    first = 0
    for size in documents._run_sizes(len(pages), render_pool.default_workers()):
        run, first = pages[first : first + size], first + size
        t = clock()
        numbered = [(first - size + i + 1, [(s, documents._data_url(qr_png(s.url))) for s in page]) for i, page in enumerate(run)]
        spent["qr"] += clock() - t
        t = clock()
        html = documents._env.get_template("documents/slips.html").render(meeting_title=TITLE, pages=numbered, page_count=len(pages), vote_url_hint=HINT)
        spent["html"] += clock() - t
        t = clock()
        document = HTML(string=html, base_url=str(documents.TEMPLATE_DIR), url_fetcher=documents._data_only_fetcher()).render()
        spent["layout"] += clock() - t
        t = clock()
        pdf = document.write_pdf()
        spent["write"] += clock() - t
        t = clock()
        merger.add(pdf)
        spent["merge"] += clock() - t
    t = clock()
    merger.result()
    spent["merge"] += clock() - t
    return spent


def main(counts: list[int]) -> None:
    workers = render_pool.default_workers()
    lines = [
        f"`slip_sheet_pdf` with {workers} worker processes (runs of up to {documents.PAGES_PER_RUN} pages, merged with pypdf); "
        f"sheets of up to {documents.PAGES_IN_PROCESS} pages in one process. Wall-clock seconds; the phases are CPU seconds "
        "of the same work done in one process.",
        "",
        "| slips | pages | cold s | warm s | MB | load avg | ms per QR code | CPU: QR | HTML | layout | PDF write | merge | CPU total |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    slip_sheet_pdf("预热", slips(1), vote_url_hint="http://x/v")  # imports and fonts, in this process
    for n in counts:
        items = slips(n)
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        for item in items[:50]:
            qr_png(item.url)
        per_qr = (time.perf_counter() - t0) / min(50, n) * 1000
        cold = float(subprocess.run([sys.executable, __file__, "--cold", str(n)], check=True, capture_output=True, text=True).stdout)
        runs = []
        for _ in range(3):  # the first may start this process's fork server: the best of the two others
            t0 = time.perf_counter()
            pdf = slip_sheet_pdf(TITLE, items, vote_url_hint=HINT)
            runs.append(time.perf_counter() - t0)
        warm = min(runs[1:])
        spent = phases(items)
        pages = -(-n // 12)
        lines.append(
            f"| {n} | {pages} | {cold:.2f} | {warm:.2f} | {len(pdf) / 1e6:.2f} | {load:.1f} | {per_qr:.1f} | "
            + " | ".join(f"{spent[k]:.2f}" for k in ("qr", "html", "layout", "write", "merge"))
            + f" | {sum(spent.values()):.2f} |"
        )
    record("Slip sheet PDF (B2: worker processes, fixed QR mask, 1-px QR PNG, 12 per A4 page)", lines)


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
