"""Times as the hall reads them. Timestamps are stored in UTC without a zone (the same on
SQLite and PostgreSQL); printed sheets show them in the meeting's zone."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"


def zone_name() -> str:
    """``CEPING_TIMEZONE`` (an IANA name), else China Standard Time."""
    return os.environ.get("CEPING_TIMEZONE", "").strip() or DEFAULT_TIMEZONE


def local(stored: datetime | None, zone: str | None = None) -> datetime | None:
    """A stored (naive UTC) timestamp in the given zone, or ``zone_name()``."""
    if stored is None:
        return None
    return stored.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone or zone_name()))
