"""Benchmark B4: Lighthouse's mobile scores for the phone ballot (30 leaders, plain and with
the issue-5 items), against gunicorn as in production and Debian's chromium.

    npm install --prefix /tmp/lh lighthouse@12        # once; the npm registry is enough
    LIGHTHOUSE=/tmp/lh/node_modules/.bin/lighthouse .venv/bin/python bench/lighthouse.py

Skips with a message when Lighthouse or chromium is missing (it is optional: B4's byte count
is bench/page_size.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import open_ballot, record  # noqa: E402
from bench.cast_burst import serving  # noqa: E402


def main() -> None:
    lighthouse = os.environ.get("LIGHTHOUSE") or shutil.which("lighthouse") or "/tmp/lh/node_modules/.bin/lighthouse"
    chromium = shutil.which("chromium")
    if not os.path.exists(lighthouse) or not chromium:
        print("Lighthouse or chromium not found: skipped (see the docstring to install Lighthouse).")
        return
    instance = tempfile.mkdtemp(prefix="ceping-lh-")
    url = "sqlite:///" + os.path.join(instance, "lh.sqlite3")
    os.environ.update(SECRET_KEY="bench-secret-key", DATABASE_URL=url, CEPING_INSTANCE_PATH=instance)
    from flask_migrate import upgrade

    from app import create_app

    codes = {}
    with create_app().app_context():
        upgrade()
        for with_items in (False, True):
            codes[with_items] = open_ballot(30, with_items)
    lines = [
        "Lighthouse 12, mobile form factor (its default throttling), Debian chromium, gunicorn.conf.py, SQLite",
        "",
        "| ballot | performance | accessibility | best practices | FCP | LCP | TBT | CLS | bytes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    with serving(url, instance) as port:
        for with_items, code in codes.items():
            out = os.path.join(instance, "report.json")
            subprocess.run(
                [lighthouse, f"http://127.0.0.1:{port}/v/{code}", "--quiet", "--output=json", f"--output-path={out}", "--form-factor=mobile",
                 "--only-categories=performance,accessibility,best-practices",
                 "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage"],
                env=dict(os.environ, CHROME_PATH=chromium), check=True, timeout=300,
            )
            with open(out, encoding="utf-8") as fh:
                data = json.load(fh)
            score = {k: round(v["score"] * 100) for k, v in data["categories"].items()}
            audits = data["audits"]
            shown = [audits[a]["displayValue"] for a in ("first-contentful-paint", "largest-contentful-paint", "total-blocking-time", "cumulative-layout-shift")]
            lines.append(
                f"| 30 leaders{' with items' if with_items else ''} | {score['performance']} | {score['accessibility']} | "
                f"{score['best-practices']} | {' | '.join(shown)} | {audits['total-byte-weight']['numericValue']:,.0f} |"
            )
    record("Phone ballot in Lighthouse (B4)", lines)


if __name__ == "__main__":
    main()
