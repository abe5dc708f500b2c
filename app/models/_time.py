from datetime import datetime, timezone


def now_utc() -> datetime:
    """Timestamps are stored in UTC, naive, the same on SQLite and PostgreSQL."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
