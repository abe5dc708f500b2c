"""Benchmark: how long after a ballot is acknowledged the hall display shows it (issue "live
hall"; target p95 ≤ 300 ms).

    .venv/bin/python bench/display_latency.py [--db sqlite|postgresql] [--slips 500] [--clients 64]

gunicorn with 2 workers × 16 threads serves the display's event stream and the casts. A
reader holds the display stream open and timestamps every state it receives; 64 clients cast
500 ballots (30 targets) through the JSON API and timestamp each 201. For the k-th
acknowledged ballot the delay is the arrival of the first display state whose count is ≥ k,
minus the k-th acknowledgement (0 when the display was faster than the client).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import record  # noqa: E402
from bench.cast_burst import burst, open_round, pct, pg_url, seed, serving  # noqa: E402


def display_token(url: str, instance: str) -> str:
    os.environ.update(DATABASE_URL=url, CEPING_INSTANCE_PATH=instance)
    from app import create_app
    from app.extensions import db
    from app.models import Meeting

    app = create_app()
    with app.app_context():
        token = db.session.scalar(db.select(Meeting.display_token))
        db.session.remove()
        db.engine.dispose()
    return token


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--slips", type=int, default=500)
    parser.add_argument("--targets", type=int, default=30)
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args()
    instance = tempfile.mkdtemp(prefix="ceping-display-")
    url = "sqlite:///" + os.path.join(instance, "bench.sqlite3") if args.db == "sqlite" else pg_url()
    codes, round_ids, target_ids = seed(url, instance, args.slips, args.targets, 1)
    token = display_token(url, instance)
    events: list[tuple[float, int]] = []
    stop = threading.Event()

    def read_stream():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", f"/display/{token}/events")
        response = conn.getresponse()
        while not stop.is_set():
            line = response.fp.readline()
            if not line:
                break
            if line.startswith(b"data: "):
                state = json.loads(line[6:])
                if state["current"]:
                    events.append((time.monotonic(), state["current"]["cast"]))
        conn.close()

    with serving(url, instance, {"LIVE_STREAM_SECONDS": "600"}) as port:
        open_round(round_ids[0])
        reader = threading.Thread(target=read_stream, daemon=True)
        reader.start()
        time.sleep(1.0)
        acks: list[float] = []
        seconds, latencies, errors = burst(port, codes, round_ids[0], target_ids, args.clients, acks)
        time.sleep(1.0)
        stop.set()
        acks.sort()
        delays = []
        for k, ack in enumerate(acks, start=1):
            seen = next((t for t, count in events if count >= k), None)
            if seen is not None:
                delays.append(max(0.0, seen - ack) * 1000)
        missing = len(acks) - len(delays)
        counts = [c for _, c in events]
        lines = [
            f"{len(acks)} ballots from {args.clients} clients in {seconds:.1f} s ({len(acks) / seconds:.0f}/s), {args.db}; "
            f"display stream polling every {os.environ.get('LIVE_POLL_SECONDS', '0.1')} s; {len(events)} display updates; errors {len(errors)}; "
            f"counts monotonic: {counts == sorted(counts)}; ballots never shown: {missing}",
            "",
            "| delay ack → display | p50 ms | p95 ms | max ms |",
            "|---|---|---|---|",
            f"| {args.db} | {statistics.median(delays):.0f} | {pct(delays, 95):.0f} | {max(delays):.0f} |",
        ]
        record(f"Display latency during a burst ({args.db})", lines)


if __name__ == "__main__":
    main()
