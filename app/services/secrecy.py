"""Erase arrival order from storage once a round closes (R23).

Ballots and slip uses carry no time and no sequence, but a database may still keep rows
roughly in the order they arrived:
- PostgreSQL's heap (the ``ctid``);
- SQLite's write-ahead log, whose frames follow commit order until it is checkpointed.

After the close, nothing new can be cast, so the order can be erased:
- PostgreSQL: ``CLUSTER`` rewrites the five tables in key order (slip id for uses, a random
  id for ballots and their marks, the code for receipts);
- SQLite: those tables are already ``WITHOUT ROWID``; a truncating checkpoint empties the WAL.

This is best effort: a failure is logged for the organizer but never undoes the close.
"""

from __future__ import annotations

import logging

from sqlalchemy import text

from ..extensions import db

log = logging.getLogger(__name__)

_CLUSTER = (
    "CLUSTER slip_use USING pk_slip_use",
    "CLUSTER ballot USING pk_ballot",
    "CLUSTER ballot_mark USING pk_ballot_mark",
    "CLUSTER ballot_item_mark USING pk_ballot_item_mark",
    "CLUSTER receipt USING pk_receipt",
)


def erase_arrival_order() -> bool:
    """:return: True when the storage was rewritten (or needed nothing), False on failure."""
    dialect = db.engine.dialect.name
    try:
        if dialect == "postgresql":
            with db.engine.begin() as conn:
                # Short lock_timeout: never stall the hall behind a long-running reader.
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                for statement in _CLUSTER:
                    conn.execute(text(statement))
        elif dialect == "sqlite":
            with db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return True
    except Exception:  # noqa: BLE001  (best effort; the close itself has committed)
        log.exception("could not erase the arrival order of ballots")
        return False
