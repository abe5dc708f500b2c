"""The live hall under the production server: gunicorn, 2 worker processes, gthread.

Events must cross processes: a display stream served by one worker sees ballots cast
through others, because streams poll the database rather than an in-process queue.
"""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest

from app.extensions import db
from app.services import meetings

from .conftest import post_json  # noqa: E402  (the gunicorn fixture lives in conftest)


class StreamReader(threading.Thread):
    """Reads an event stream in the background, keeping each state with its arrival time."""

    def __init__(self, port: int, path: str):
        super().__init__(daemon=True)
        self.port, self.path = port, path
        self.events: list[tuple[float, dict]] = []
        self.raw = []
        self.stop = threading.Event()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", self.path)
        response = conn.getresponse()
        self.status = response.status
        buffer = ""
        while not self.stop.is_set():
            chunk = response.fp.readline()
            if not chunk:
                break
            line = chunk.decode()
            self.raw.append(line)
            buffer += line
            if line == "\n":  # an event ends with a blank line
                for field in buffer.splitlines():
                    if field.startswith("data: "):
                        self.events.append((time.monotonic(), json.loads(field[6:])))
                buffer = ""
        response.close()
        conn.close()

    def wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(predicate(e) for _, e in self.events):
                return True
            time.sleep(0.05)
        return False


@pytest.mark.slow
def test_display_follows_ballots_cast_through_other_workers(server, make_meeting, codes_of):
    """R19/R24 under gunicorn with 2 workers: each cast opens a new connection (spread over
    both workers); the one display stream sees every count, in order, and no result while
    hidden; publishing reaches it too."""
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    targets = [t.id for t in round_.targets]
    token, round_id = meeting.display_token, round_.id
    reader = StreamReader(server, f"/display/{token}/events")
    reader.start()
    assert reader.wait_for(lambda e: e["current"]["cast"] == 0), reader.raw[:5]
    for i, code in enumerate(codes_of(meeting)[:12]):
        assert post_json(server, f"/api/v1/ballot/{code}/rounds/{round_id}", {"marks": {str(t): i % 4 for t in targets}}) == 201
    assert reader.wait_for(lambda e: e["current"]["cast"] == 12), [e["current"]["cast"] for _, e in reader.events]
    counts = [e["current"]["cast"] for _, e in reader.events]
    assert counts == sorted(counts), counts  # a count never goes backwards
    stream_text = "".join(reader.raw)
    assert "张三" not in stream_text and "score" not in stream_text and all(not e["has_result"] for _, e in reader.events)

    db.session.expire_all()
    meetings.close_round(round_, "test")
    meetings.publish_round(round_, "test")
    assert reader.wait_for(lambda e: e["current"]["state"] == "published" and e["has_result"])
    reader.stop.set()
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    conn.request("GET", f"/display/{token}/board")
    board = conn.getresponse().read().decode()
    conn.close()
    reader.join(timeout=5)
    assert "张三" in board and "折合分" in board
