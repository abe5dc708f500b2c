"""The slip sheet PDF as a background job (B2): start it, watch its progress bar, download it.

A 1,000-slip sheet takes seconds, so ``slips_pdf`` (views.py) starts a job here and sends the
organizer to its page. The page's bar follows the job (static/js/job.js polls ``slip_job_state``;
without JavaScript the page refreshes itself) and offers the file when it is done. Job state
lives in files under the instance folder (services.jobs), so every gunicorn worker sees it.

Who may open these pages is the blueprint's business (log-in and the permission table).
"""

from __future__ import annotations

import functools

from flask import Response, abort, current_app, jsonify, redirect, render_template, url_for

from ..extensions import db
from ..models import Meeting, Slip
from ..services import documents, jobs, slips as slip_service
from ..services.exports import MIME_TYPES
from .views import _actor, _download, bp

JOB_KIND = "slip-sheet"


def start_slip_sheet(meeting: Meeting, issued: list[Slip], filename: str, label: str) -> Response:
    """Start the slip sheet of ``issued`` as a job and send the organizer to its page.

    The slips are read here, in the request (the codes need the app's secret); the job gets
    plain data only. The audit log records the print (who, how many, which categories) before
    the job starts.
    """
    base = slip_service.public_base_url()
    printable = slip_service.printable(meeting, issued, base)
    slip_service.record_print(meeting, issued, _actor())
    work = functools.partial(_slip_sheet, meeting.title, printable, f"{base}/v")
    job = jobs.start(
        current_app.instance_path, kind=JOB_KIND, meeting_id=meeting.id, filename=filename, total=len(printable), work=work, label=label
    )
    return redirect(url_for(".slip_job", meeting_id=meeting.id, job_id=job.id), 303)


def _slip_sheet(title: str, printable: list[documents.SlipPrint], vote_url_hint: str, progress) -> bytes:
    """The job's work, in its thread: the sheet, reporting progress as pages are laid out."""
    return documents.slip_sheet_pdf(title, printable, vote_url_hint=vote_url_hint, progress=progress)


def _job(meeting_id: int, job_id: str) -> tuple[Meeting, jobs.Job]:
    """The meeting and its slip sheet job; 404 for an unknown id or another meeting's job."""
    meeting = db.get_or_404(Meeting, meeting_id)
    job = jobs.get(current_app.instance_path, job_id)
    if job is None or job.kind != JOB_KIND or job.meeting_id != meeting.id:
        abort(404)
    return meeting, job


@bp.get("/meetings/<int:meeting_id>/slips/jobs/<job_id>")
def slip_job(meeting_id: int, job_id: str):
    """The slip sheet job's page: a progress bar while it runs, then the download (or why not)."""
    meeting, job = _job(meeting_id, job_id)
    response = Response(render_template("organizer/slip_job.html", meeting=meeting, job=job))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/meetings/<int:meeting_id>/slips/jobs/<job_id>/state")
def slip_job_state(meeting_id: int, job_id: str):
    """The job's state as JSON, for the progress bar."""
    _meeting, job = _job(meeting_id, job_id)
    response = jsonify(job.public())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/meetings/<int:meeting_id>/slips/jobs/<job_id>/download")
def slip_job_file(meeting_id: int, job_id: str):
    """The finished slip sheet PDF; before it is finished, the job's page."""
    meeting, job = _job(meeting_id, job_id)
    path = jobs.result_path(current_app.instance_path, job)
    if not job.is_done or not path.is_file():
        return redirect(url_for(".slip_job", meeting_id=meeting.id, job_id=job.id))
    # Read whole (about 1.3 MB for 1,000 slips): the response then holds no open file.
    response = _download(path.read_bytes(), job.filename, MIME_TYPES["pdf"])
    response.headers["Cache-Control"] = "no-store"
    return response
