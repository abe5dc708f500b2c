"""Rate limits against guessing (issue "Proof under load and attack", H5).

Only *failures* count: an unknown or malformed slip code, a wrong organizer password.

- **A hall shares one address.** A whole hall may sit behind one NAT address, and a
  successful scan costs nothing. A hall of 500 that mistypes a few codes a minute never
  meets the limit, while a guesser fails on every try.
- **Codes.** 60 failures a minute per address, then 429 with Retry-After until the minute
  ends. With 85-bit codes that allows about 86,400 guesses a day per address, and 500 issued
  codes give a chance of about 10⁻¹⁸ per guess: nothing in a lifetime.
- **Login.** 10 failures per 15 minutes per address and user name, and 50 per address.

Counters live in the database, so every gunicorn worker sees the same counts. They hold an
address and a time, never a slip or a ballot (R23). Old windows are swept now and then.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from flask import request
from sqlalchemy import delete, select

from ..extensions import db
from ..models import RateCounter


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    seconds: int


CODE_FAILURES = Limit("code", 60, 60)
LOGIN_PER_USER = Limit("login-user", 10, 900)
LOGIN_PER_ADDRESS = Limit("login-addr", 50, 900)


def client_address() -> str:
    """The client's address as the server sees it. Behind a reverse proxy, configure
    ``TRUSTED_PROXY_COUNT`` so that ProxyFix sets it from X-Forwarded-For (docs/deploy.md)."""
    return request.remote_addr or "unknown"


def _window(limit: Limit, now: float) -> int:
    return int(now) - int(now) % limit.seconds


def _key(limit: Limit, subject: str) -> str:
    return f"{limit.name}:{subject}"[:160]


def retry_after(limit: Limit, subject: str) -> int | None:
    """Seconds to wait when ``subject`` has used up ``limit`` in the current window, else None."""
    now = time.time()
    window = _window(limit, now)
    count = db.session.scalar(select(RateCounter.count).where(RateCounter.key == _key(limit, subject), RateCounter.window == window))
    if count is not None and count >= limit.count:
        return max(1, window + limit.seconds - int(now))
    return None


def record_failure(limit: Limit, subject: str) -> None:
    """Count one failure, atomically (an upsert), in its own short transaction."""
    now = time.time()
    window = _window(limit, now)
    table = RateCounter.__table__
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table).values(key=_key(limit, subject), window=window, count=1)
    statement = statement.on_conflict_do_update(index_elements=["key", "window"], set_={"count": table.c.count + 1})
    db.session.execute(statement)
    if random.random() < 0.01:  # sweep windows older than a day
        db.session.execute(delete(RateCounter).where(RateCounter.window < int(now) - 86400))
    db.session.commit()
