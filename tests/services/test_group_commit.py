"""Group commit (services.group_commit), on SQLite and PostgreSQL: one transaction for many
casts, with the one-ballot-at-a-time guarantees kept for each (R7, R19, R23)."""

from __future__ import annotations

import secrets
import threading

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Ballot, BallotMark, Receipt, SlipUse
from app.services import group_commit, live, voting


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def _job(slip, round_id, target_id, receipt=None):
    return group_commit.Cast(
        slip.id, slip.category_id, round_id, secrets.token_hex(16), {target_id: 1}, {}, True, False, receipt or voting.new_receipt_code()
    )


def test_a_batch_keeps_every_refusal_to_its_own_cast(make_meeting, codes_of):
    """In one batch: a slip cast twice (once accepted), a slip that had voted before, a round
    that is not open, and two casts drawing the same receipt — the good casts are written
    together, each refused one alone is refused, receipts stay unique."""
    meeting = make_meeting(open=True, rounds=[{"title": "一", "targets": "all"}, {"title": "二", "targets": "all"}])
    first, second = meeting.rounds
    target = first.targets[0].id
    slips = [voting.resolve(code) for code in codes_of(meeting)[:5]]
    voting.cast(slips[0], first.id, {})  # voted before the batch
    db.session.commit()
    batch = [
        _job(slips[1], first.id, target, receipt="AAAA2222"),
        _job(slips[1], first.id, target),  # the same slip again in the same batch
        _job(slips[0], first.id, target),  # voted already
        _job(slips[2], second.id, target),  # round two is a draft
        _job(slips[3], first.id, target, receipt="AAAA2222"),  # the same receipt drawn twice
        _job(slips[4], first.id, target),
    ]
    voting._group()._write(batch)
    outcomes = [type(job.error).__name__ if job.error else "ok" for job in batch]
    assert outcomes == ["ok", "AlreadyVoted", "AlreadyVoted", "RoundNotOpen", "ok", "ok"]
    assert batch[4].receipt != "AAAA2222"
    assert count(SlipUse) == 4 and count(Ballot) == 4 and count(BallotMark) == 3
    assert live.turnout(first.meeting_id)[first.id] == 4
    stored = set(db.session.scalars(select(Receipt.code)))
    assert {j.receipt for j in batch if not j.error} <= stored and count(Receipt) == 4  # the first cast's receipt (before the batch) and three from it


def test_a_failing_batch_writes_nothing_and_asks_everyone_to_retry(make_meeting, codes_of, monkeypatch):
    """An unexpected failure mid-batch (here: after the slip uses were written) rolls the whole
    batch back; each caster is told to submit again, and the slips are still unused."""
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    slips = [voting.resolve(code) for code in codes_of(meeting)[:3]]
    real_insert = group_commit.GroupCommit._insert

    def broken(conn, accepted):
        real_insert(conn, accepted)
        raise OSError("disk full")

    monkeypatch.setattr(group_commit.GroupCommit, "_insert", staticmethod(broken))
    batch = [_job(s, round_.id, round_.targets[0].id) for s in slips]
    voting._group()._write(batch)
    assert all(isinstance(job.error, voting.VotingError) and job.error.status == 503 for job in batch)
    assert count(SlipUse) == 0 and count(Ballot) == 0 and count(Receipt) == 0
    assert live.turnout(round_.meeting_id)[round_.id] == 0
    monkeypatch.undo()
    voting.cast(slips[0], round_.id, {})  # the slip is still good
    assert count(Ballot) == 1


def test_concurrent_casts_share_commits_and_all_arrive(app, make_meeting, codes_of, monkeypatch):
    """60 threads cast at once: every cast is acknowledged once written, and the batches were
    fewer than the casts (the point of grouping)."""
    meeting = make_meeting(open=True, expected=60, slips={"A": 20, "B": 20, "C": 20})
    round_id = meeting.rounds[0].id
    target = meeting.rounds[0].targets[0].id
    codes = codes_of(meeting)
    batches: list[int] = []
    real_write = group_commit.GroupCommit._write

    def counting(self, batch):
        batches.append(len(batch))
        return real_write(self, batch)

    monkeypatch.setattr(group_commit.GroupCommit, "_write", counting)
    start = threading.Event()
    results: list[str] = []

    def one(code):
        start.wait()  # all at once; no thread holds a connection while it waits here
        with app.app_context():
            try:
                results.append(voting.cast(voting.resolve(code), round_id, {target: 0}) or "")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=one, args=(c,)) for c in codes]
    for t in threads:
        t.start()
    start.set()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 60 and len(set(results)) == 60  # 60 receipts, all different
    assert sum(batches) == 60 and len(batches) < 60
    assert count(Ballot) == 60 and live.turnout(meeting.id)[round_id] == 60


def test_a_batch_stopped_midway_acknowledges_none_of_its_casts(make_meeting, codes_of, monkeypatch):
    """A worker stopped mid-batch (SystemExit, KeyboardInterrupt: not an Exception) rolls the
    batch back; no caster of it may hear "投票成功" (a review found the others would have)."""

    class Stopped(BaseException):
        pass

    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    slips = [voting.resolve(code) for code in codes_of(meeting)[:3]]

    def stopped(conn, accepted):
        raise Stopped()

    monkeypatch.setattr(group_commit.GroupCommit, "_insert", staticmethod(stopped))
    batch = [_job(s, round_.id, round_.targets[0].id) for s in slips]
    with pytest.raises(Stopped):
        voting._group()._write(batch)
    assert all(isinstance(job.error, voting.VotingError) and job.error.status == 503 for job in batch)
    assert count(SlipUse) == 0 and count(Ballot) == 0


def test_errors_and_logs_never_show_ballot_contents(app):
    """R23: a failed statement's message would carry its parameters (slips, marks)."""
    assert db.engine.hide_parameters


def test_one_cast_that_cannot_be_written_does_not_fail_its_batch(make_meeting, codes_of, monkeypatch):
    """A failure in a batch voids it; each cast is then written alone, so only the cast that
    fails alone too is asked to submit again (a review's suggestion)."""
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    slips = [voting.resolve(code) for code in codes_of(meeting)[:3]]
    batch = [_job(s, round_.id, round_.targets[0].id) for s in slips]
    bad = batch[1].ballot_id
    real_insert = group_commit.GroupCommit._insert

    def fails_with_the_bad_one(conn, accepted):
        if any(job.ballot_id == bad for job in accepted):
            raise OSError("cannot write this one")
        real_insert(conn, accepted)

    monkeypatch.setattr(group_commit.GroupCommit, "_insert", staticmethod(fails_with_the_bad_one))
    voting._group()._write(batch)
    assert [job.error is None for job in batch] == [True, False, True]
    assert isinstance(batch[1].error, voting.VotingError) and batch[1].error.status == 503
    assert count(SlipUse) == 2 and count(Ballot) == 2 and count(Receipt) == 2
    stored = set(db.session.scalars(select(SlipUse.slip_id)))
    assert stored == {slips[0].id, slips[2].id}  # the bad cast's slip is still unused


def test_bulk_inserts_refuse_values_that_would_skip_their_column_type(app):
    """app/bulk.py sends rows as JSON, past SQLAlchemy's types: a Decimal is refused, not
    silently converted."""
    from decimal import Decimal

    from app.bulk import insert_many

    with db.engine.connect() as conn, pytest.raises(TypeError, match="Decimal"):
        insert_many(conn, Receipt.__table__, [{"round_id": Decimal(1), "code": "AAAA2222"}])


def test_each_database_has_its_own_batch_queue(app, tmp_path):
    """Two apps in one process (tests, embedding) never share a batch: the leader of a batch
    writes into its own app's database, so another app's casts must not join it."""
    from app import create_app
    from tests.conftest import _make_config

    mine = voting._group()
    assert voting._group() is mine
    other = create_app(_make_config("sqlite:///" + str(tmp_path / "other.sqlite3"), str(tmp_path / "other")))
    with other.app_context():
        theirs = voting._group()
        assert theirs is not mine and voting._group() is theirs
    assert voting._group() is mine
