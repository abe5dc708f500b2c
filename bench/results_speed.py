"""Benchmark B3: the results function for 1,000 and 10,000 ballots × 40 targets, and
whether it grows linearly (target: ≤ 150 ms for 1,000).

    .venv/bin/python bench/results_speed.py [--db sqlite|postgresql]

Ballots are written straight into the tables (the cast path is B1's business), then
``round_report`` — what the results page, the PDF, the .xlsx, the JSON and the display all
call — is timed, best of 5.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import record  # noqa: E402
from bench.cast_burst import pg_url  # noqa: E402

TARGETS = 40


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    instance = tempfile.mkdtemp(prefix="ceping-results-")
    url = "sqlite:///" + os.path.join(instance, "r.sqlite3") if args.db == "sqlite" else pg_url()
    os.environ.update(SECRET_KEY="bench", DATABASE_URL=url, CEPING_INSTANCE_PATH=instance)
    from flask_migrate import upgrade
    from sqlalchemy import insert, text

    from app import create_app
    from app.extensions import db
    from app.models import Ballot, BallotMark
    from app.services import meetings
    from app.services.results import round_report

    app = create_app()
    lines = ["| ballots | targets | marks | round_report ms (best of 5) | µs per ballot |", "|---|---|---|---|---|"]
    rng = random.Random(1)
    with app.app_context():
        if args.db == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        for n in (1000, 10000):
            meeting = meetings.import_definition(
                {
                    "title": f"结果基准 {n}",
                    "expected": n,
                    "categories": [{"code": c, "name": c, "weight": w} for c, w in (("A", 30), ("B", 40), ("C", 30))],
                    "targets": [{"kind": "person", "unit": f"单位{i}", "name": f"对象{i}"} for i in range(TARGETS)],
                    "rounds": [{"title": "测评", "targets": "all"}],
                },
                "bench",
            )
            round_ = meeting.rounds[0]
            cats = [c.id for c in meeting.categories]
            targets = [t.id for t in round_.targets]
            ballots, marks = [], []
            for _ in range(n):
                bid = secrets.token_hex(16)
                ballots.append({"id": bid, "round_id": round_.id, "category_id": rng.choice(cats), "is_valid": True, "is_paper": False})
                marks += [{"ballot_id": bid, "target_id": t, "level": rng.randrange(4)} for t in targets if rng.random() > 0.05]
            db.session.execute(insert(Ballot.__table__), ballots)
            for i in range(0, len(marks), 50_000):
                db.session.execute(insert(BallotMark.__table__), marks[i : i + 50_000])
            db.session.commit()
            if args.db == "postgresql":
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("ANALYZE"))
            best = float("inf")
            for _ in range(5):
                t0 = time.perf_counter()
                report = round_report(round_)
                best = min(best, time.perf_counter() - t0)
                db.session.expire_all()
            assert report.counts.valid == n
            lines.append(f"| {n:,} | {TARGETS} | {len(marks):,} | {best * 1000:.0f} | {best * 1e6 / n:.0f} |")
        db.session.remove()
        db.engine.dispose()
    record(f"Results for 1,000 and 10,000 ballots × {TARGETS} targets ({args.db})", lines)


if __name__ == "__main__":
    main()
