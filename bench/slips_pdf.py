"""Benchmark: the A4 slip sheet PDF for 12, 200 and 1,000 slips (no database involved).

    .venv/bin/python bench/slips_pdf.py [COUNTS...]
"""

from __future__ import annotations

import os
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.core import codes  # noqa: E402
from app.services.documents import SlipPrint, qr_png, slip_sheet_pdf  # noqa: E402
from bench._common import record  # noqa: E402


def slips(n: int) -> list[SlipPrint]:
    out = []
    for _ in range(n):
        code = codes.derive_code(b"bench", secrets.token_bytes(16))
        out.append(SlipPrint("B 中层干部", codes.pretty(code), f"http://192.168.1.20:8000/v/{code}"))
    return out


def main(counts: list[int]) -> None:
    lines = ["| slips | pages | seconds | MB | ms per QR code |", "|---|---|---|---|---|"]
    slip_sheet_pdf("预热", slips(1), vote_url_hint="http://x/v")  # import and font loading
    for n in counts:
        items = slips(n)
        t0 = time.perf_counter()
        for item in items[:50]:
            qr_png(item.url)
        per_qr = (time.perf_counter() - t0) / min(50, n) * 1000
        t0 = time.perf_counter()
        pdf = slip_sheet_pdf("2026年度领导班子和领导干部民主测评大会", items, vote_url_hint="http://192.168.1.20:8000/v")
        seconds = time.perf_counter() - t0
        pages = -(-n // 12)
        lines.append(f"| {n} | {pages} | {seconds:.2f} | {len(pdf) / 1e6:.2f} | {per_qr:.1f} |")
    record("Slip sheet PDF (WeasyPrint, PNG QR codes, 12 per A4 page)", lines)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [12, 200, 1000])
