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
from sqlalchemy import bindparam, delete, select

from ..bulk import dialect_insert
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


@dataclass(frozen=True)
class Check:
    """One subject's counter in the current window: ``key`` and ``window`` find its row, which
    a caller may read in a query of its own (the cast reads it with the slip, B1); ``wait``
    turns the count read into the answer."""

    limit: Limit
    key: str
    window: int
    now: float

    def wait(self, count: int | None) -> int | None:
        """Seconds to wait when the count has used up the limit, else None."""
        if count is not None and count >= self.limit.count:
            return max(1, self.window + self.limit.seconds - int(self.now))
        return None


def check(limit: Limit, subject: str) -> Check:
    now = time.time()
    return Check(limit, _key(limit, subject), _window(limit, now), now)


_COUNT = select(RateCounter.count).where(RateCounter.key == bindparam("key"), RateCounter.window == bindparam("window"))


def retry_after(limit: Limit, subject: str) -> int | None:
    """Seconds to wait when ``subject`` has used up ``limit`` in the current window, else None."""
    current = check(limit, subject)
    return current.wait(db.session.scalar(_COUNT, {"key": current.key, "window": current.window}))


def record_failure(limit: Limit, subject: str) -> None:
    """Count one failure, atomically (an upsert), in its own short transaction."""
    current = check(limit, subject)
    table = RateCounter.__table__
    statement = dialect_insert(db.engine, table).values(key=current.key, window=current.window, count=1)
    statement = statement.on_conflict_do_update(index_elements=["key", "window"], set_={"count": table.c.count + 1})
    db.session.execute(statement)
    if random.random() < 0.01:  # sweep windows older than a day
        db.session.execute(delete(RateCounter).where(RateCounter.window < int(current.now) - 86400))
    db.session.commit()
