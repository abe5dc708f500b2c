"""Erase arrival order from storage once a round closes (R23).

Ballots and slip uses carry no time and no sequence, but a database may still keep rows
roughly in the order they arrived, or marked with the transaction that wrote them:
- PostgreSQL's heap (the ``ctid``), and every row's ``xmin``, the id of the transaction that
  wrote it: a batch of casts (services.group_commit) writes its slip uses, ballots, marks and
  receipts in one transaction, so a batch of one cast pairs its slip with its ballot by
  ``xmin`` (a review found it; ``CLUSTER`` keeps ``xmin``);
- SQLite's write-ahead log, whose frames follow commit order until it is checkpointed.

After the close, nothing new can be cast, so the order can be erased:
- PostgreSQL: one transaction rewrites every row of the round in those five tables with no
  change (so they all carry that transaction's ``xmin``), then ``CLUSTER`` rewrites the
  tables in key order (slip id for uses, a random id for ballots and their marks, the code
  for receipts) and drops the old row versions;
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


# Rewritten with no change, all in one transaction: they then share its xmin.
_SAME_XMIN = (
    "UPDATE slip_use SET round_id = round_id WHERE round_id = :round_id",
    "UPDATE ballot SET round_id = round_id WHERE round_id = :round_id",
    "UPDATE ballot_mark SET level = level WHERE ballot_id IN (SELECT id FROM ballot WHERE round_id = :round_id)",
    "UPDATE ballot_item_mark SET level = level WHERE ballot_id IN (SELECT id FROM ballot WHERE round_id = :round_id)",
    "UPDATE receipt SET round_id = round_id WHERE round_id = :round_id",
)


def erase_arrival_order(round_id: int | None = None) -> bool:
    """:param round_id: the round just closed, whose rows get one ``xmin`` (PostgreSQL).
    :return: True when the storage was rewritten (or needed nothing), False on failure."""
    dialect = db.engine.dialect.name
    try:
        if dialect == "postgresql":
            if round_id is not None:
                with db.engine.begin() as conn:
                    conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                    for statement in _SAME_XMIN:
                        conn.execute(text(statement), {"round_id": round_id})
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
