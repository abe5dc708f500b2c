"""The slip sheet job (B2) under the production server: gunicorn, 2 worker processes, gthread.

The job runs in a thread of the worker that started it; its page is polled over fresh
connections, which the kernel hands to either worker: every answer must come from the state
on disk, and the file must download from any worker.
"""

from __future__ import annotations

import http.cookiejar
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from tests.conftest import csrf_token


class Browser:
    """Cookies kept, redirects followed, a fresh connection per request (Connection: close)."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str):
        request = urllib.request.Request(self.base + path, headers={"Connection": "close"})
        with self.opener.open(request, timeout=30) as response:
            return response.status, response.geturl(), response.headers, response.read()

    def post(self, path: str, data: dict):
        body = urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(self.base + path, data=body, headers={"Connection": "close"})
        with self.opener.open(request, timeout=30) as response:
            return response.status, response.geturl(), response.headers, response.read()


@pytest.mark.slow
def test_slip_job_under_gunicorn(server, organizer, make_meeting, tmp_path):
    import json

    meeting = make_meeting(slips={"A": 40, "B": 40, "C": 40})  # 120 slips, 10 pages
    browser = Browser(server)
    _status, _url, _headers, page = browser.get("/login")
    browser.post("/login", {"username": "kaohe", "password": "correct horse", "csrf_token": csrf_token(page.decode())})

    status, url, _headers, page = browser.get(f"/organizer/meetings/{meeting.id}/slips.pdf")
    path = urllib.parse.urlparse(url).path
    assert status == 200 and re.fullmatch(rf"/organizer/meetings/{meeting.id}/slips/jobs/[A-Za-z0-9_-]{{22}}", path), url
    assert "生成测评码 PDF" in page.decode()

    seen = []
    deadline = time.monotonic() + 120
    while True:
        state = json.loads(browser.get(path + "/state")[3])
        seen.append(state["done"])
        if state["state"] != "running":
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    assert state["state"] == "done", state
    assert seen == sorted(seen) and seen[-1] == 120
    for _ in range(4):  # whichever worker answers
        status, _url, headers, pdf = browser.get(path + "/download")
        assert status == 200 and headers["Content-Type"] == "application/pdf" and pdf.startswith(b"%PDF")
    if shutil.which("pdfinfo"):
        (tmp_path / "sheet.pdf").write_bytes(pdf)
        info = subprocess.run(["pdfinfo", str(tmp_path / "sheet.pdf")], capture_output=True, text=True, check=True).stdout
        assert re.search(r"^Pages:\s+10$", info, re.M)
