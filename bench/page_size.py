"""Benchmark: bytes a phone downloads for the ballot (page + CSS + script), 6 and 30 targets,
plain and with the issue-5 items (overall grade + 5 dimensions + 6 逆向测评 + 4 使用意向 per
leader), and whether anything is requested from another host. "on the wire" is what the
server sends to a browser that accepts gzip (pages are compressed, static files are not).

    .venv/bin/python bench/page_size.py
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import open_ballot, record  # noqa: E402


def main() -> None:
    instance = tempfile.mkdtemp(prefix="ceping-size-")
    os.environ.update(SECRET_KEY="size", DATABASE_URL="sqlite:///" + os.path.join(instance, "s.sqlite3"), CEPING_INSTANCE_PATH=instance)
    from flask_migrate import upgrade

    from app import create_app

    app = create_app()
    lines = [
        "| ballot | HTML bytes | + CSS + JS bytes | total | on the wire | requests to other hosts |",
        "|---|---|---|---|---|---|",
    ]
    with app.app_context():
        upgrade()
        client = app.test_client()
        for n, with_items in ((6, False), (30, False), (30, True)):
            url = f"/v/{open_ballot(n, with_items)}"
            html = client.get(url).data
            wire_html = client.get(url, headers={"Accept-Encoding": "gzip"}).data
            assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)
            asset_bytes = []
            for a in assets:
                response = client.get(a.decode(), headers={"Accept-Encoding": "gzip"})
                asset_bytes.append(response.data)
                response.close()
            external = re.findall(rb'(?:href|src)="(https?://[^"]+)"', html)
            total = len(html) + sum(map(len, asset_bytes))
            wire = len(wire_html) + sum(map(len, asset_bytes))
            label = f"{n} leaders" + (" with items" if with_items else "")
            lines.append(f"| {label} | {len(html):,} | {sum(map(len, asset_bytes)):,} | {total:,} | {wire:,} | {len(external)} |")
    record("Phone ballot page size", lines)


if __name__ == "__main__":
    main()
