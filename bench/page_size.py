"""Benchmark: bytes a phone downloads for the ballot (page + CSS + script), 6 and 30 targets,
and whether anything is requested from another host.

    .venv/bin/python bench/page_size.py
"""

from __future__ import annotations

import gzip
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import record  # noqa: E402


def main() -> None:
    instance = tempfile.mkdtemp(prefix="ceping-size-")
    os.environ.update(SECRET_KEY="size", DATABASE_URL="sqlite:///" + os.path.join(instance, "s.sqlite3"), CEPING_INSTANCE_PATH=instance)
    from flask_migrate import upgrade

    from app import create_app
    from app.services import meetings, slips as slip_service

    app = create_app()
    lines = ["| targets | HTML bytes | + CSS + JS bytes | total | gzip total | requests to other hosts |", "|---|---|---|---|---|---|"]
    with app.app_context():
        upgrade()
        client = app.test_client()
        for n in (6, 30):
            meeting = meetings.import_definition(
                {
                    "title": "2026年度领导班子和领导干部民主测评大会",
                    "expected": 3,
                    "categories": [{"code": "A", "name": "全体", "weight": 100}],
                    "targets": [{"kind": "person", "unit": f"区第{i}局", "name": f"测评对象{i}", "title": "副局长"} for i in range(n)],
                    "rounds": [{"title": "领导干部民主测评", "targets": "all"}],
                },
                "bench",
            )
            slip = slip_service.issue(meeting, meeting.categories[0], 3, "bench")[0]
            meetings.open_round(meeting.rounds[0], "bench")
            html = client.get(f"/v/{slip_service.code_of(slip)}").data
            assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)
            asset_bytes = [client.get(a.decode()).data for a in assets]
            external = re.findall(rb'(?:href|src)="(https?://[^"]+)"', html)
            total = len(html) + sum(map(len, asset_bytes))
            gz = len(gzip.compress(html)) + sum(len(gzip.compress(b)) for b in asset_bytes)
            lines.append(f"| {n} | {len(html):,} | {sum(map(len, asset_bytes)):,} | {total:,} | {gz:,} | {len(external)} |")
    record("Phone ballot page size", lines)


if __name__ == "__main__":
    main()
