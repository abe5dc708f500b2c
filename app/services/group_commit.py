"""Group commit of ballots on SQLite: many casts, one transaction, one fsync.

Why: with ``synchronous=FULL`` every SQLite commit waits for the disk (measured here: 3.8 ms
per commit), and SQLite has one writer at a time, so casting one ballot per transaction caps
a hall at about 1 / 3.8 ms ≈ 260 ballots/s however many cores there are — the plateau B1
measured. PostgreSQL already merges concurrent commits into one WAL flush by itself; SQLite
does not, so this module does it in the application.

How: casts that arrive while a batch is being written queue up; the first one to find no
batch running leads. The leader takes the whole queue, writes it in one ``BEGIN IMMEDIATE``
transaction under the cross-process write lock (``voting._sqlite_writer``), commits once,
wakes every caster with its own outcome, and hands the lead to the next queued cast. So a
burst of n concurrent casts costs one fsync per batch instead of n.

Each cast keeps the guarantees of the one-at-a-time path (services.voting):

- nothing is acknowledged before the commit that holds it has returned (the caller's thread
  waits for it);
- one ballot per slip per round: under the write lock nobody else can write, so the checks
  made inside the transaction are the truth; the ``slip_use`` primary key still stands
  behind them (a broken check fails the whole batch instead of counting twice);
- a cast into a round that is not open writes nothing; the round's counter is bumped by the
  number of ballots accepted, guarded by the same "open" condition;
- a refused cast (already voted, round closed) is refused alone; the others of its batch are
  written. An unexpected failure (a full disk) rolls the whole batch back and every caster of
  it is told to submit again — nothing of it was written, so no slip was consumed.

Rows are written sorted by key within a batch, not in arrival order, and nothing else about a
batch is stored (R23).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy import bindparam, insert, select, update

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


class GroupCommit:
    """The queue and the lead of one process (gunicorn workers each have their own; they
    take turns on the write lock)."""

    def __init__(self, writer, new_receipt, errors):
        self._lock = threading.Lock()
        self._queue: list[Cast] = []
        self._busy = False
        self._writer = writer  # context manager: the cross-process write lock
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
            batch, self._queue = self._queue, []
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
        already_voted, round_not_open, retry = self._errors
        try:
            with self._writer(), db.engine.connect() as conn:
                # IMMEDIATE takes SQLite's write lock now: from here on, what we read is what
                # we write against (no other writer can come between).
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                accepted = self._check(conn, batch, already_voted, round_not_open)
                if accepted:
                    self._insert(conn, accepted)
                conn.commit()
        except Exception as error:  # noqa: BLE001 — every caster of the batch must hear of it
            log.exception("group commit of %d ballots failed; none was written", len(batch))
            for job in batch:
                job.error = retry()
            del error

    def _check(self, conn, batch, already_voted, round_not_open) -> list[Cast]:
        round_ids = {job.round_id for job in batch}
        open_rounds = set(
            conn.execute(
                select(Round.id).where(Round.id.in_(round_ids), Round.opened_dt.isnot(None), Round.closed_dt.is_(None))
            ).scalars()
        )
        used = {
            tuple(row)
            for row in conn.execute(
                select(SlipUse.slip_id, SlipUse.round_id).where(
                    SlipUse.round_id.in_(round_ids), SlipUse.slip_id.in_({job.slip_id for job in batch})
                )
            )
        }
        taken = {
            tuple(row)
            for row in conn.execute(
                select(Receipt.round_id, Receipt.code).where(
                    Receipt.round_id.in_(round_ids), Receipt.code.in_({job.receipt for job in batch if job.receipt})
                )
            )
        }
        accepted = []
        for job in batch:
            if job.round_id not in open_rounds:
                job.error = round_not_open()
                continue
            if (job.slip_id, job.round_id) in used:
                job.error = already_voted()
                continue
            used.add((job.slip_id, job.round_id))  # the same slip twice in one batch
            while job.receipt is not None and (job.round_id, job.receipt) in taken:
                job.receipt = self._new_receipt()  # drawn twice in the round: draw again
            if job.receipt is not None:
                taken.add((job.round_id, job.receipt))
            accepted.append(job)
        return accepted

    @staticmethod
    def _insert(conn, accepted: list[Cast]) -> None:
        # Sorted by key, never in arrival order (R23).
        conn.execute(
            insert(SlipUse.__table__), sorted(({"slip_id": j.slip_id, "round_id": j.round_id} for j in accepted), key=lambda r: (r["round_id"], r["slip_id"]))
        )
        by_ballot = sorted(accepted, key=lambda j: j.ballot_id)
        conn.execute(
            insert(Ballot.__table__),
            [
                {"id": j.ballot_id, "round_id": j.round_id, "category_id": j.category_id, "is_valid": j.is_valid, "is_paper": j.is_paper}
                for j in by_ballot
            ],
        )
        marks = [{"ballot_id": j.ballot_id, "target_id": t, "level": lv} for j in by_ballot for t, lv in sorted(j.marks.items())]
        if marks:
            conn.execute(insert(BallotMark.__table__), marks)
        answers = [
            {"ballot_id": j.ballot_id, "target_id": t, "item_id": i, "level": lv}
            for j in by_ballot
            for (t, i), lv in sorted(j.item_marks.items())
        ]
        if answers:
            conn.execute(insert(BallotItemMark.__table__), answers)
        receipts = sorted(({"round_id": j.round_id, "code": j.receipt} for j in accepted if j.receipt), key=lambda r: (r["round_id"], r["code"]))
        if receipts:
            conn.execute(insert(Receipt.__table__), receipts)
        per_round: dict[int, int] = {}
        for job in accepted:
            per_round[job.round_id] = per_round.get(job.round_id, 0) + 1
        bumped = conn.execute(
            update(Round.__table__)
            .where(Round.__table__.c.id == bindparam("rid"), Round.__table__.c.opened_dt.isnot(None), Round.__table__.c.closed_dt.is_(None))
            .values(cast_count=Round.__table__.c.cast_count + bindparam("n")),
            [{"rid": rid, "n": n} for rid, n in sorted(per_round.items())],
        )
        if bumped.rowcount != len(per_round):
            raise RuntimeError("a round closed under the write lock")  # cannot happen; never count it
