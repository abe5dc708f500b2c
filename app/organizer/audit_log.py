"""The audit log (R25): per meeting and for everything, newest first, as a page or a file."""

from __future__ import annotations

from flask import render_template, request

from ..extensions import db
from ..models import Meeting
from ..services import audit
from .views import _download, bp

EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _scope(meeting_id: int | None) -> Meeting | None:
    return db.get_or_404(Meeting, meeting_id) if meeting_id is not None else None


@bp.get("/audit", defaults={"meeting_id": None})
@bp.get("/meetings/<int:meeting_id>/audit")
def audit_log(meeting_id: int | None):
    """Who did what and when: one meeting's log, or the whole log (accounts, log-ins, refusals)."""
    meeting = _scope(meeting_id)
    page = audit.page_of(meeting_id, request.args.get("page", 1, type=int))
    return render_template("organizer/audit.html", meeting=meeting, page=page, time_header=audit.time_header())


@bp.get("/audit.<any(csv, xlsx):fmt>", defaults={"meeting_id": None})
@bp.get("/meetings/<int:meeting_id>/audit.<any(csv, xlsx):fmt>")
def audit_file(meeting_id: int | None, fmt: str):
    """The same log as a file to keep with the signed sheets: CSV (Excel/WPS) or XLSX."""
    meeting = _scope(meeting_id)
    rows = audit.rows_of(meeting_id)
    if fmt == "csv":
        data = audit.audit_csv(rows)
    else:
        data = audit.audit_xlsx(rows, f"操作日志：{meeting.title}" if meeting else "操作日志（全部）")
    name = f"操作日志-{meeting.id}" if meeting else "操作日志-全部"
    return _download(data, f"{name}.{fmt}", EXPORT_TYPES[fmt])
