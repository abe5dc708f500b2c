"""Group commit of ballots: many casts, one transaction, one flush to disk.

Why: a commit waits for the disk (an fsync: 3.8 ms measured here), and every statement of a
cast is a round trip to the database. Writing each ballot in its own transaction capped the
hall at a few hundred ballots/s on SQLite (one writer at a time) and at about 150 on
PostgreSQL, where the cast's many round trips and commits cost more CPU than the rest of the
request (issue "Proof under load", B1). Written in groups, a burst of n concurrent casts
costs one transaction per group: the same statements, each carrying many ballots.

How: casts that arrive while a batch is being written queue up; the first one to find no
batch running leads. The leader takes up to ``MAX_BATCH`` casts from the queue, writes them in
one transaction, commits once, wakes every caster with its own outcome, and hands the lead to
the next queued cast. Each gunicorn worker has its own queue. On a SQLite file the
transaction is ``BEGIN IMMEDIATE`` under the cross-process write lock
(``voting._sqlite_writer``); PostgreSQL runs the batches of both workers side by side.

Each cast keeps the guarantees of a ballot written alone (services.voting):

- nothing is acknowledged before the commit that holds it has returned (the caller's thread
  waits for it);
- one ballot per slip per round: the ``slip_use`` rows are inserted first with ``ON CONFLICT
  DO NOTHING RETURNING``, so the primary key decides, per cast, which casts claimed their slip
  (a slip already used, in the database or earlier in the batch, is refused alone); only
  those casts' ballots are written;
- a cast into a round that is not open writes nothing: the batch first reads its rounds with
  a shared row lock (``FOR SHARE`` on PostgreSQL; on SQLite the write lock excludes a close),
  so a close waits for the batch to commit, and a batch after a close sees it;
- a refused cast (already voted, round closed) is refused alone; the others of its batch are
  written. An unexpected failure rolls the whole batch back, and then each of its casts is
  written alone, so that one cast that cannot be written does not take the others with it.
  A cast that fails alone too (a full disk fails them all) is told to submit again: nothing of
  it was written, so no slip was consumed. (Should the
  connection break during COMMIT itself, the database may have committed after all: then the
  resubmitted cast hears 此码本轮已投票, and its receipt was shown to nobody — counted, and safe.)

Rows are written sorted by key within a batch, not in arrival order, and nothing else about a
batch is stored (R23).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select

from ..bulk import insert_many
from ..extensions import db
from ..models import Ballot, BallotItemMark, BallotMark, Receipt, Round, SlipUse

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Cast:
    """One ballot waiting to be written, and afterwards its outcome."""

    slip_id: int
    category_id: int
    round_id: int
    ballot_id: str
    marks: dict[int, int]
    item_marks: dict[tuple[int, int], int]
    is_valid: bool
    is_paper: bool
    receipt: str | None
    error: BaseException | None = None
    leads: bool = False  # woken to lead the next batch, not because it was written
    done: threading.Event = field(default_factory=threading.Event)


#: The most casts one transaction writes. A cast waits for the batch being written and then
#: its own, so a bound on the batch is a bound on that wait. With production's 16 threads per
#: worker (docs/deploy.md) a batch never reaches it; it holds should the threads be raised.
MAX_BATCH = 32
#: Attempts to give a batch's receipts codes unused in their round (a code drawn twice).
RECEIPT_DRAWS = 5


class GroupCommit:
    """The queue and the lead of one process (gunicorn workers each have their own)."""

    def __init__(self, writer, new_receipt, errors):
        self._lock = threading.Lock()
        self._queue: list[Cast] = []
        self._busy = False
        self._writer = writer  # context manager: SQLite's cross-process write lock
        self._new_receipt = new_receipt
        self._errors = errors  # (AlreadyVoted, RoundNotOpen, Retry) factories

    def submit(self, job: Cast) -> None:
        """Write ``job`` (alone or with others) and return once it is committed.

        :raises: the job's own refusal (already voted, round not open) or a retry error.
        """
        with self._lock:
            self._queue.append(job)
            lead = not self._busy
            self._busy = True
        if not lead:
            job.done.wait()
            if not job.leads:
                return self._outcome(job)
        with self._lock:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        try:
            self._write(batch)
        finally:
            for other in batch:
                if other is not job:
                    other.done.set()
            with self._lock:
                if self._queue:  # hand the lead on: the next batch is already waiting
                    successor = self._queue[0]
                    successor.leads = True
                    successor.done.set()
                else:
                    self._busy = False
        return self._outcome(job)

    @staticmethod
    def _outcome(job: Cast) -> None:
        if job.error is not None:
            raise job.error

    def _write(self, batch: list[Cast]) -> None:
        try:
            with self._writer(), db.engine.connect() as conn:
                if conn.dialect.name == "sqlite":
                    # IMMEDIATE takes SQLite's write lock now: from here on, what we read is
                    # what we write against (no other writer, no close, can come between).
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                accepted = self._claim(conn, batch)
                if accepted:
                    self._insert(conn, accepted)
                    self._store_receipts(conn, accepted)
                conn.commit()
        except BaseException as error:  # every caster of the batch must hear of it, whatever it was
            retry = self._errors[2]
            for job in batch:
                job.error = retry()
            if not isinstance(error, Exception):  # a worker being stopped: let it stop
                raise
            # The type only: the statement's parameters are ballot contents (R23).
            log.error("group commit of %d ballots failed, none was written: %s", len(batch), type(error).__name__)
            if len(batch) > 1:
                # One cast that cannot be written must not fail the others with it: each is
                # written alone (what the failed attempt decided for it is void).
                for job in batch:
                    job.error = None
                    self._write([job])

    def _claim(self, conn, batch: list[Cast]) -> list[Cast]:
        """The casts of ``batch`` that may be written, each other one given its refusal."""
        already_voted, round_not_open, _retry = self._errors
        open_rounds = set(conn.execute(_OPEN_ROUNDS, {"ids": sorted({job.round_id for job in batch})}).scalars())
        candidates: dict[tuple[int, int], Cast] = {}
        for job in batch:
            key = (job.slip_id, job.round_id)
            if job.round_id not in open_rounds:
                job.error = round_not_open()
            elif key in candidates:  # the same slip twice in one batch: the first one counts
                job.error = already_voted()
            else:
                candidates[key] = job
        if not candidates:
            return []
        rows = [{"slip_id": slip_id, "round_id": round_id} for slip_id, round_id in sorted(candidates)]
        claimed = set(insert_many(conn, SlipUse.__table__, rows, skip_conflicts=True, returning=("slip_id", "round_id")))
        accepted = []
        for key, job in candidates.items():
            if key in claimed:
                accepted.append(job)
            else:  # the primary key says this slip has voted in this round
                job.error = already_voted()
        return accepted

    @staticmethod
    def _insert(conn, accepted: list[Cast]) -> None:
        # Sorted by key, never in arrival order (R23).
        by_ballot = sorted(accepted, key=lambda j: j.ballot_id)
        insert_many(
            conn,
            Ballot.__table__,
            [
                {"id": j.ballot_id, "round_id": j.round_id, "category_id": j.category_id, "is_valid": j.is_valid, "is_paper": j.is_paper}
                for j in by_ballot
            ],
        )
        insert_many(
            conn, BallotMark.__table__, [{"ballot_id": j.ballot_id, "target_id": t, "level": lv} for j in by_ballot for t, lv in sorted(j.marks.items())]
        )
        insert_many(
            conn,
            BallotItemMark.__table__,
            [{"ballot_id": j.ballot_id, "target_id": t, "item_id": i, "level": lv} for j in by_ballot for (t, i), lv in sorted(j.item_marks.items())],
        )

    def _store_receipts(self, conn, accepted: list[Cast]) -> None:
        """Insert the receipts; a code already used in its round (in the table or in this
        batch — odds of about one in two million per round) is drawn again."""
        pending = [j for j in accepted if j.receipt is not None]
        for _attempt in range(RECEIPT_DRAWS):
            if not pending:
                return
            chosen: dict[tuple[int, str], Cast] = {}
            for job in pending:
                while (job.round_id, job.receipt) in chosen:
                    job.receipt = self._new_receipt()
                chosen[(job.round_id, job.receipt)] = job
            rows = [{"round_id": round_id, "code": code} for round_id, code in sorted(chosen)]
            stored = set(insert_many(conn, Receipt.__table__, rows, skip_conflicts=True, returning=("round_id", "code")))
            pending = [job for key, job in chosen.items() if key not in stored]
            for job in pending:
                job.receipt = self._new_receipt()
        if pending:
            raise RuntimeError("no unused receipt code after several draws")


_OPEN_ROUNDS = (
    select(Round.id)
    .where(Round.id.in_(bindparam("ids", expanding=True)), Round.opened_dt.isnot(None), Round.closed_dt.is_(None))
    .with_for_update(read=True)  # FOR SHARE: a close (an UPDATE of the row) waits for our commit
)

