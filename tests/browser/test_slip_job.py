"""The slip sheet job page in a real browser (B2): the organizer clicks 下载全部测评码, sees the
progress bar move (JavaScript from static/js/job.js, allowed by the CSP) or the page refresh
itself (JavaScript off), and downloads the PDF when it is done.

Screenshots are written to /tmp/shots/ for a person to look at; they are not compared to references.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from app.organizer import jobs as job_views

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")


@pytest.mark.parametrize("js", [True, False], ids=["js-on", "js-off"])
def test_progress_page_then_download(js, app, live_server, desktop, organizer, make_meeting, monkeypatch, tmp_path):
    from playwright.sync_api import expect

    meeting = make_meeting(slips={"A": 30, "B": 30, "C": 30})  # 90 slips, 8 pages
    # Hold the job at a third until the page has shown it running, so the bar is seen moving.
    shown, real = threading.Event(), job_views._slip_sheet

    def held(title, printable, hint, progress):
        progress(30, len(printable))
        shown.wait(20)
        return real(title, printable, hint, progress)

    monkeypatch.setattr(job_views, "_slip_sheet", held)
    errors: list[str] = []
    context = desktop(java_script_enabled=js, accept_downloads=True)
    page = context.new_page()
    # A CSP refusal or a script error lands in the console; a missing file answers ≥ 400.
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None)
    page.goto(f"{live_server.url}/login")
    page.get_by_label("用户名").fill("kaohe")
    page.get_by_label("密码").fill("correct horse")
    page.get_by_role("button", name="登录").click()
    page.goto(f"{live_server.url}/organizer/meetings/{meeting.id}")
    page.get_by_role("link", name="下载全部测评码（A4 PDF）").click()

    try:
        expect(page).to_have_url(re.compile(rf"/organizer/meetings/{meeting.id}/slips/jobs/[A-Za-z0-9_-]{{22}}$"))
        expect(page.get_by_text("正在排版：已完成 30 / 90 张（33%）")).to_be_visible()
        assert page.locator("progress").get_attribute("value") == "30"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"slip-job-running-js{'on' if js else 'off'}.png"))
    finally:
        shown.set()

    link = page.get_by_role("link", name=re.compile("下载 PDF"))
    expect(link).to_be_visible(timeout=60_000)  # script: polls, then reloads; no script: refreshes itself
    expect(page.get_by_text("已生成 90 张测评码")).to_be_visible()
    page.screenshot(path=str(SHOTS / f"slip-job-done-js{'on' if js else 'off'}.png"))
    with page.expect_download() as info:
        link.click()
    path = tmp_path / "sheet.pdf"
    info.value.save_as(path)
    assert path.read_bytes().startswith(b"%PDF")
    assert info.value.suggested_filename == f"测评码-{meeting.id}.pdf"
    assert errors == []
