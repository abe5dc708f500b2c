"""The whole meeting as one file (R25); importing it goes through the meeting import form."""

from __future__ import annotations

import json

from flask_login import current_user

from ..extensions import db
from ..models import Meeting
from ..services import archive, audit
from .views import _download, bp


@bp.get("/meetings/<int:meeting_id>/archive.json")
def meeting_archive(meeting_id: int):
    """Download the meeting archive: definition, slip states, ballots, receipts, results and
    the audit log, for another installation (import it with 导入会议)."""
    meeting = db.get_or_404(Meeting, meeting_id)
    data = archive.export_meeting(meeting)
    audit.log(current_user.username, "meeting.archive_export", meeting.id)
    db.session.commit()
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return _download(body, f"{meeting.title}-归档.json", "application/json")
