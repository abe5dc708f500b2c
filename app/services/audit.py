"""The audit log of organizer actions (R25): who, what, when."""

from __future__ import annotations

from ..extensions import db
from ..models import AuditEntry


def log(actor: str, action: str, meeting_id: int | None = None, **detail) -> AuditEntry:
    """Add an entry to the current transaction; it commits with the action it records, so the
    log can neither miss an action nor record one that was rolled back."""
    entry = AuditEntry(actor=actor, action=action, meeting_id=meeting_id, detail=detail)
    db.session.add(entry)
    return entry
