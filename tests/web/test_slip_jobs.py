"""The slip sheet PDF as a background job (B2) through HTTP: start, progress, download, failure,
and who may see a job."""

from __future__ import annotations

import logging
import re
import threading
import time
from urllib.parse import urlparse

import pytest

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry
from app.organizer import jobs as job_views
from app.services import jobs
from tests.conftest import follow_slip_job

from .test_organizer import is_login_redirect, pdf_pages, text

UNKNOWN_ID = "A" * 22


def _start(org, meeting_id: int, query: str = "") -> str:
    response = org.get(f"/organizer/meetings/{meeting_id}/slips.pdf{query}")
    assert response.status_code == 303
    page = urlparse(response.headers["Location"]).path
    assert re.fullmatch(rf"/organizer/meetings/{meeting_id}/slips/jobs/[A-Za-z0-9_-]{{22}}", page), page
    return page


def _wait(org, page: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = org.get(page + "/state").get_json()
        if state["state"] != "running":
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.05)


@pytest.fixture
def gate(monkeypatch):
    """Hold slip sheet jobs after their first progress report until ``gate.set()``."""
    event = threading.Event()
    real = job_views._slip_sheet

    def held(title, printable, hint, progress):
        progress(0, len(printable))
        event.wait(60)
        return real(title, printable, hint, progress)

    monkeypatch.setattr(job_views, "_slip_sheet", held)
    yield event
    event.set()  # never leave a job thread waiting


def test_job_runs_then_offers_the_pdf(org, make_meeting, tmp_path, gate):
    """B2: the slip sheet is a job; its page shows a progress bar while it runs (with the
    script, and a refresh for browsers without it), then the download: all 30 slips, 3 pages."""
    meeting = make_meeting()
    page = _start(org, meeting.id)

    running = org.get(page)
    html = text(running)
    assert running.status_code == 200 and running.headers["Cache-Control"] == "no-store"
    assert "正在排版" in html and "<progress" in html and "全部测评码，共 30 张" in html
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in html
    assert '<script src="/static/js/job.js"></script>' in html
    assert "<script>" not in html  # the CSP forbids inline scripts
    assert org.get(page + "/state").get_json() == {"state": "running", "done": 0, "total": 30, "percent": 0, "error": ""}
    # Asked for too early, the file is not there yet: back to the page.
    early = org.get(page + "/download")
    assert early.status_code == 302 and urlparse(early.headers["Location"]).path == page

    gate.set()
    assert _wait(org, page) == {"state": "done", "done": 30, "total": 30, "percent": 100, "error": ""}
    done = text(org.get(page))
    assert "已生成 30 张测评码" in done and f'href="{page}/download"' in done
    assert "refresh" not in done and "job.js" not in done
    pdf = org.get(page + "/download")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert "attachment" in pdf.headers["Content-Disposition"]
    assert pdf_pages(pdf.data, tmp_path) in (None, 3)


def test_progress_only_moves_forward(org, make_meeting, tmp_path):
    """B2: 100 slips (9 pages): the progress the page
    polls never goes back and ends at 100 of 100; the PDF has 9 pages."""
    meeting = make_meeting(slips={"A": 40, "B": 30, "C": 30})
    response, page, seen = follow_slip_job(org.client, f"/organizer/meetings/{meeting.id}/slips.pdf")
    assert seen == sorted(seen) and seen[-1] == 100
    assert pdf_pages(response.data, tmp_path) in (None, 9)
    # The job's file on disk went the same way: done, all of it.
    job = jobs.get(org.client.application.instance_path, page.rsplit("/", 1)[1])
    assert job.is_done and (job.done, job.total) == (100, 100)


def test_one_category_job(org, make_meeting, tmp_path):
    """§7: ?category=B prints B's slips only and says so on the job page."""
    meeting = make_meeting()
    page = _start(org, meeting.id, "?category=b")
    assert _wait(org, page)["state"] == "done"
    assert "类别「B 中层干部」的测评码，共 10 张" in text(org.get(page))
    pdf = org.get(page + "/download")
    assert f"%E6%B5%8B%E8%AF%84%E7%A0%81-{meeting.id}-B.pdf" in pdf.headers["Content-Disposition"]
    assert pdf_pages(pdf.data, tmp_path) in (None, 1)


def test_failed_job_says_so_in_chinese(org, make_meeting, monkeypatch, caplog):
    """B2: a job that fails says so on its page, in Chinese; there is nothing to download."""
    meeting = make_meeting()

    def broken(title, printable, hint, progress):
        progress(12, len(printable))
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(job_views, "_slip_sheet", broken)
    # The migrations' logging set-up disables loggers that existed before it: log to a fresh one.
    monkeypatch.setattr(jobs, "log", logging.getLogger("tests.slip_jobs"))
    page = _start(org, meeting.id)
    state = _wait(org, page)
    assert state["state"] == "failed" and state["error"] == jobs.FAILED_MESSAGE
    html = text(org.get(page))
    assert "生成失败" in html and "renderer exploded" not in html and "返回会议页面" in html
    assert "refresh" not in html
    download = org.get(page + "/download")
    assert download.status_code == 302 and urlparse(download.headers["Location"]).path == page
    assert "renderer exploded" in caplog.text  # the details are in the log


@pytest.mark.parametrize("suffix", ["", "/state", "/download"])
def test_unknown_malformed_and_foreign_jobs_are_404(org, make_meeting, tmp_path, suffix):
    """B2: a job is found by its exact id, in this instance, under its own meeting only."""
    meeting, other = make_meeting(), make_meeting(title="另一个会议")
    page = _start(org, meeting.id)
    job_id = page.rsplit("/", 1)[1]
    assert _wait(org, page)["state"] == "done"
    assert org.get(page + suffix).status_code in (200, 302)

    foreign = jobs.start(
        str(tmp_path / "another-instance"), kind=job_views.JOB_KIND, meeting_id=meeting.id, label="x", filename="x.pdf", total=0,
        work=lambda progress: b"%PDF-",
    )
    for url in (
        f"/organizer/meetings/{meeting.id}/slips/jobs/{UNKNOWN_ID}",  # never existed
        f"/organizer/meetings/{meeting.id}/slips/jobs/{foreign.id}",  # another instance's job
        f"/organizer/meetings/{other.id}/slips/jobs/{job_id}",  # another meeting's job
        f"/organizer/meetings/999999/slips/jobs/{job_id}",  # no such meeting
        f"/organizer/meetings/{meeting.id}/slips/jobs/{job_id[:-1]}",  # not an id
        f"/organizer/meetings/{meeting.id}/slips/jobs/{job_id}x",
        f"/organizer/meetings/{meeting.id}/slips/jobs/..%2Fsecret_key",
    ):
        assert org.get(url + suffix).status_code == 404, url


def test_logged_out_users_are_sent_to_the_login(org, make_meeting, client):
    """Only logged-in organizers see jobs, even with the right id."""
    meeting = make_meeting()
    page = _start(org, meeting.id)
    assert _wait(org, page)["state"] == "done"
    client.post("/logout", data={"csrf_token": org.token()})
    for suffix in ("", "/state", "/download"):
        assert is_login_redirect(client.get(page + suffix)), suffix


def test_job_ids_are_random(org, make_meeting):
    """Two jobs for the same sheet get different, unguessable ids (128 random bits)."""
    meeting = make_meeting(slips={"A": 1})
    first, second = _start(org, meeting.id), _start(org, meeting.id)
    assert first != second
    for page in (first, second):
        assert _wait(org, page)["state"] == "done"


def test_without_slips_no_job_starts(org, make_meeting, app):
    """§7: no slips, no sheet and no job: the organizer is told to issue some first."""
    meeting = make_meeting(slips={})
    response = org.get(f"/organizer/meetings/{meeting.id}/slips.pdf", follow_redirects=True)
    assert "还没有可打印的测评码" in text(response)
    assert not jobs.jobs_dir(app.instance_path).exists() or not any(jobs.jobs_dir(app.instance_path).iterdir())


def _print_entries() -> list[AuditEntry]:
    db.session.rollback()  # a fresh snapshot
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == "slips.print").order_by(AuditEntry.id)).all()


def test_starting_a_job_logs_who_printed_what(org, make_meeting, codes_of):
    """R25: whoever holds a printout can vote, so starting a sheet writes one audit entry —
    the organizer, the meeting, the categories and how many slips (voided ones are never
    printed) — and never a code; the log page names it 打印测评码."""
    meeting = make_meeting()
    org.post(f"/organizer/meetings/{meeting.id}/slips/void", {"code": codes_of(meeting, "C")[0], "reason": "遗失"})
    page = _start(org, meeting.id)
    entries = _print_entries()
    assert [(e.actor, e.meeting_id) for e in entries] == [("kaohe", meeting.id)]
    assert entries[0].detail == {"category": ["A", "B", "C"], "count": 29}
    assert not any(code in repr(entries[0].detail) for code in codes_of(meeting))
    assert _wait(org, page)["state"] == "done"
    assert len(_print_entries()) == 1  # the job's progress and its download add none

    _start(org, meeting.id, "?category=b")
    assert _print_entries()[-1].detail == {"category": ["B"], "count": 10}
    html = text(org.get(f"/organizer/meetings/{meeting.id}/audit"))
    assert html.count("打印测评码") == 2 and "类别：A、B、C；张数：29" in html and "类别：B；张数：10" in html


def test_printing_a_replacement_slip_is_logged(org, make_meeting, codes_of):
    """R25: the one-slip PDF of a replacement is a printout too: one entry per download, with
    the slip's id (not its code)."""
    meeting = make_meeting()
    lost = codes_of(meeting, "B")[0]
    response = org.post(f"/organizer/meetings/{meeting.id}/slips/void", {"code": lost, "reason": "遗失", "replace": "y"})
    replacement_id = int(response.headers["Location"].rsplit("replacement=", 1)[1])
    assert org.get(f"/organizer/meetings/{meeting.id}/slips/{replacement_id}.pdf").status_code == 200
    entries = _print_entries()
    assert [(e.actor, e.detail) for e in entries] == [("kaohe", {"category": ["B"], "count": 1, "slip_id": replacement_id})]


def test_without_slips_nothing_is_logged(org, make_meeting):
    """No sheet, no print entry."""
    meeting = make_meeting(slips={})
    org.get(f"/organizer/meetings/{meeting.id}/slips.pdf")
    assert _print_entries() == []
