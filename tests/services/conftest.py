"""Fixtures for service tests that need the production server (gunicorn)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import quote

import pytest

from app.extensions import db
from tests.conftest import PG_SCHEMA

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUNICORN = os.path.join(os.path.dirname(sys.executable), "gunicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """gunicorn serving the test database as docs/deploy.md runs it (gunicorn.conf.py), in
    a process group of its own so that a test can kill it like a power cut would."""

    def __init__(self, app, instance: str):
        self.app, self.instance = app, instance
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        app = self.app
        url = db.engine.url.render_as_string(hide_password=False)
        if db.engine.dialect.name == "postgresql":
            url += ("&" if "?" in url else "?") + "options=" + quote(f"-csearch_path={PG_SCHEMA}")
        env = dict(
            os.environ,
            DATABASE_URL=url,
            SECRET_KEY=app.config["SECRET_KEY"],
            CEPING_INSTANCE_PATH=self.instance,
            LIVE_POLL_SECONDS="0.1",
            LIVE_STREAM_SECONDS="20",
        )
        self.process = subprocess.Popen(
            [GUNICORN, "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{self.port}",
             "--log-level", "warning", "--graceful-timeout", "2", "wsgi:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", "/v")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()
        else:
            self.kill()
            pytest.fail("gunicorn did not start")
        time.sleep(0.5)  # let the second worker boot too

    def kill(self) -> None:
        """SIGKILL the whole server, master and workers, as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def gunicorn(app, tmp_path):
    if not os.path.exists(GUNICORN):
        pytest.skip("gunicorn is not installed")
    server = Gunicorn(app, str(tmp_path / "server-instance"))
    yield server
    server.stop()


@pytest.fixture
def server(gunicorn):
    """A started gunicorn; the test gets its port."""
    gunicorn.start()
    return gunicorn.port


def post_json(port: int, path: str, body: dict) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", "Connection": "close"})
        return conn.getresponse().status
    finally:
        conn.close()
