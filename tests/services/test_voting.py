"""Casting ballots: one per slip per round, atomic, refusals consume nothing (R7, R13, R23)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, inspect, select

from app.extensions import db
from app.models import Ballot, BallotMark, Round, SlipUse
from app.services import live, meetings, slips as slip_service, voting


def counts():
    return (
        db.session.scalar(select(func.count()).select_from(SlipUse)),
        db.session.scalar(select(func.count()).select_from(Ballot)),
        db.session.scalar(select(func.count()).select_from(BallotMark)),
    )


def test_cast_stores_an_anonymous_ballot(make_meeting, codes_of):
    """R13: marked targets become marks; the rest are abstentions; the slip is used once."""
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    slip = voting.resolve(codes_of(meeting, "B")[0])
    first, second = round_.targets[0].id, round_.targets[1].id
    voting.cast(slip, round_.id, {first: 0, second: None, str(round_.targets[2].id): "3"})
    assert counts() == (1, 1, 2)
    ballot = db.session.scalar(select(Ballot))
    assert ballot.category_id == slip.category_id and ballot.is_valid and not ballot.is_paper
    assert live.turnout(meeting.id) == {round_.id: 1}  # R19: the display's 已投


def test_second_cast_says_already_voted_and_changes_nothing(make_meeting, codes_of):
    """R7: 此码本轮已投票."""
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    slip = voting.resolve(codes_of(meeting)[0])
    voting.cast(slip, round_.id, {round_.targets[0].id: 1})
    with pytest.raises(voting.AlreadyVoted, match="此码本轮已投票"):
        voting.cast(slip, round_.id, {round_.targets[0].id: 0})
    assert counts() == (1, 1, 1)


@pytest.mark.parametrize(
    ("marks", "error"),
    [
        ({999999: 0}, "选票上没有这个测评对象"),
        ({"first": 4}, "评价等次不正确"),
        ({"first": -1}, "评价等次不正确"),
        ({"first": "好"}, "评价等次不正确"),
        ({"first": True}, "评价等次不正确"),
        ({"first": False}, "评价等次不正确"),  # False == 0 as a dictionary key: never a level
        ({"first": 1.0}, "评价等次不正确"),  # 1.0 == 1 likewise
        ({"first": "1.0"}, "评价等次不正确"),
        ({"first-as-float": 0}, "选票上没有这个测评对象"),
        ({"first-as-bool": 0}, "选票上没有这个测评对象"),
        ([1, 2], "选票格式不正确"),
    ],
)
def test_invalid_ballot_is_refused_and_consumes_nothing(make_meeting, codes_of, marks, error):
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    if isinstance(marks, dict):
        first = round_.targets[0].id
        keys = {"first": first, "first-as-float": float(first), "first-as-bool": bool(first) if first == 1 else 1.5}
        marks = {keys.get(k, k): v for k, v in marks.items()}
    slip = voting.resolve(codes_of(meeting)[0])
    with pytest.raises(voting.InvalidBallot, match=error):
        voting.cast(slip, round_.id, marks)
    assert counts() == (0, 0, 0)
    voting.cast(slip, round_.id, {})  # the slip is still good: an empty ballot is valid
    assert counts() == (1, 1, 0)


def test_targets_and_levels_as_ints_strings_or_padded_strings(make_meeting, codes_of):
    """The fast look-ups (services.voting._on_ballot, _level) and the careful path agree."""
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    a, b, c = (t.id for t in round_.targets[:3])
    checked = voting.check_ballot(round_, {a: 0, str(b): "3", f" {c} ": " 2 "})
    assert checked.marks == {a: 0, b: 3, c: 2}


def test_closed_and_draft_rounds_refuse_and_consume_nothing(make_meeting, codes_of):
    meeting = make_meeting()
    round_ = meeting.rounds[0]
    slip = voting.resolve(codes_of(meeting)[0])
    with pytest.raises(voting.RoundNotOpen, match="尚未开始"):
        voting.cast(slip, round_.id, {})
    meetings.open_round(round_, "test")
    meetings.close_round(round_, "test")
    with pytest.raises(voting.RoundNotOpen, match="已结束"):
        voting.cast(slip, round_.id, {})
    assert counts() == (0, 0, 0)


def test_round_of_another_meeting_is_unknown(make_meeting, codes_of):
    one = make_meeting(open=True)
    other = make_meeting(open=True)
    slip = voting.resolve(codes_of(one)[0])
    with pytest.raises(voting.RoundNotOpen, match="没有这个投票轮次"):
        voting.cast(slip, other.rounds[0].id, {})
    assert counts() == (0, 0, 0)


def test_void_and_unknown_codes(make_meeting, codes_of):
    meeting = make_meeting(open=True)
    code = codes_of(meeting)[0]
    slip = voting.resolve(code)
    replacement = slip_service.void(slip, "遗失", "test")
    with pytest.raises(voting.VoidSlip, match="已作废"):
        voting.resolve(code)
    with pytest.raises(voting.VoidSlip):
        voting.cast(slip, meeting.rounds[0].id, {})
    assert voting.resolve(slip_service.code_of(replacement)).id == replacement.id
    with pytest.raises(voting.UnknownCode, match="无效"):
        voting.resolve("0" * 17 + __import__("app.core.codes", fromlist=["x"]).check_symbol("0" * 17))
    with pytest.raises(voting.UnknownCode, match="校验"):
        voting.resolve(code[:-1] + ("0" if code[-1] != "0" else "1"))
    assert counts() == (0, 0, 0)


def _run_threads(app, n, work):
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        with app.app_context():
            barrier.wait()
            try:
                work(i)
                results[i] = "ok"
            except voting.VotingError as error:
                results[i] = type(error).__name__
            except Exception as error:  # noqa: BLE001  (reported in the assertion)
                results[i] = repr(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    db.session.expire_all()  # the threads wrote through their own sessions
    return results


@pytest.mark.parametrize("n", [50, 200])
def test_threads_casting_one_slip_give_exactly_one_ballot(app, make_meeting, codes_of, n):
    """R7 guarded by the database (H1): n concurrent casts of one slip → one ballot."""
    meeting = make_meeting(open=True)
    round_id = meeting.rounds[0].id
    target_id = meeting.rounds[0].targets[0].id
    code = codes_of(meeting)[0]

    def work(_i):
        voting.cast(voting.resolve(code), round_id, {target_id: 0})

    results = _run_threads(app, n, work)
    assert results.count("ok") == 1, results
    assert results.count("AlreadyVoted") == n - 1, results
    assert counts() == (1, 1, 1)
    assert live.turnout(meeting.id)[round_id] == 1


@pytest.mark.parametrize("n", [50, 200])
def test_slips_at_once_give_as_many_ballots(app, make_meeting, codes_of, n):
    """H1: n different slips cast at once → exactly n ballots, every mark stored."""
    meeting = make_meeting(open=True, expected=n, slips={"A": n // 2, "B": n // 4, "C": n - n // 2 - n // 4})
    round_id = meeting.rounds[0].id
    target_ids = [t.id for t in meeting.rounds[0].targets]
    all_codes = codes_of(meeting)
    assert len(all_codes) == n

    def work(i):
        voting.cast(voting.resolve(all_codes[i]), round_id, {t: i % 4 for t in target_ids})

    results = _run_threads(app, n, work)
    assert results == ["ok"] * n
    assert counts() == (n, n, n * len(target_ids))
    assert live.turnout(meeting.id)[round_id] == n


def test_casts_racing_a_close_are_all_counted_or_refused(app, make_meeting, codes_of):
    """No ballot after the close commits; every success is counted (R19: 收回 = the display's 已投)."""
    meeting = make_meeting(open=True, slips={"A": 20, "B": 10, "C": 10})
    round_id = meeting.rounds[0].id
    all_codes = codes_of(meeting)

    def work(i):
        if i == 20:
            meetings.close_round(db.session.get(Round, round_id), "test")
        else:
            voting.cast(voting.resolve(all_codes[i]), round_id, {})

    results = _run_threads(app, 40, work)
    ok = sum(1 for i, r in enumerate(results) if r == "ok" and i != 20)
    assert results[20] == "ok"
    assert set(results) <= {"ok", "RoundNotOpen"}, results
    assert counts()[:2] == (ok, ok)
    assert live.turnout(meeting.id)[round_id] == ok


def test_schema_links_no_slip_to_a_ballot(app):
    """R23: no foreign key or shared column pairs slip_use with ballot; no time, address or
    device column on a ballot; no sequence that orders slip uses or ballots."""
    inspector = inspect(db.engine)
    for table in ("ballot", "ballot_mark", "ballot_item_mark", "receipt"):
        fks = {fk["referred_table"] for fk in inspector.get_foreign_keys(table)}
        assert not fks & {"slip", "slip_use"}, (table, fks)
    # Receipts are kept apart from ballots: nothing pairs a receipt with a ballot's contents.
    assert {c["name"] for c in inspector.get_columns("receipt")} == {"round_id", "code"}
    assert {fk["referred_table"] for fk in inspector.get_foreign_keys("receipt")} == {"round"}
    assert {c["name"] for c in inspector.get_columns("ballot_item_mark")} == {"ballot_id", "target_id", "item_id", "level"}
    slip_use_columns = {c["name"] for c in inspector.get_columns("slip_use")}
    assert slip_use_columns == {"slip_id", "round_id"}
    ballot_columns = {c["name"]: c for c in inspector.get_columns("ballot")}
    assert set(ballot_columns) == {"id", "round_id", "category_id", "is_valid", "is_paper"}
    assert not any(k.endswith(("_dt", "_at", "ip", "agent")) for k in ballot_columns)
    assert str(ballot_columns["id"]["type"]).upper().startswith("VARCHAR")  # random, not a sequence
    if db.engine.dialect.name == "sqlite":
        ddl = dict(db.session.execute(db.text("SELECT name, sql FROM sqlite_master WHERE type='table'")).all())
        for table in ("slip_use", "ballot", "ballot_mark", "ballot_item_mark", "receipt"):
            assert "WITHOUT ROWID" in ddl[table], table


def test_stored_data_does_not_pair_uses_with_ballots(app, make_meeting, codes_of):
    """R23 (H6): 100 ballots cast in random order, each marking a level that identifies its
    slip to the test; nothing stored lets one line up the k-th slip use with the k-th ballot:
    slip uses come back in slip order, ballots in random-id order, on both databases once the
    round is closed (and on SQLite at all times)."""
    import random

    meeting = make_meeting(open=True, expected=100, slips={"A": 40, "B": 30, "C": 30})
    round_ = meeting.rounds[0]
    target = round_.targets[0].id
    codes = codes_of(meeting)
    arrival = list(range(100))
    random.Random(7).shuffle(arrival)
    arrival_ids = []
    for i in arrival:
        slip = voting.resolve(codes[i])
        voting.cast(slip, round_.id, {target: i % 4})
        arrival_ids.append(slip.id)
    meetings.close_round(round_, "test")
    db.session.expire_all()
    uses = list(db.session.scalars(db.text("SELECT slip_id FROM slip_use WHERE round_id = :r"), {"r": round_.id}))
    assert uses == sorted(uses) != arrival_ids  # stored by slip, not by arrival
    ballot_ids = list(db.session.scalars(db.text("SELECT id FROM ballot WHERE round_id = :r"), {"r": round_.id}))
    assert len(ballot_ids) == 100 and ballot_ids == sorted(ballot_ids)  # random-id order
    # The ballots' order tells nothing about arrival: the levels (i % 4 of the arrival index)
    # read in storage order do not follow the arrival sequence.
    levels = list(db.session.scalars(db.text("SELECT m.level FROM ballot b JOIN ballot_mark m ON m.ballot_id = b.id WHERE b.round_id = :r"), {"r": round_.id}))
    assert levels != [i % 4 for i in arrival]


def test_closing_erases_arrival_order_from_storage(app, make_meeting, codes_of):
    """R23: after the close, ballots sit in random-id order and slip uses in slip order, also
    physically (PostgreSQL ctid), and no transaction id pairs them (xmin); on SQLite the WAL
    is emptied."""
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    all_codes = codes_of(meeting)
    for code in reversed(all_codes[:25]):  # arrival order opposite to slip order
        voting.cast(voting.resolve(code), round_.id, {round_.targets[0].id: 1})
    meetings.close_round(round_, "test")
    if db.engine.dialect.name == "postgresql":
        ballot_ids = list(db.session.scalars(db.text("SELECT id FROM ballot ORDER BY ctid")))
        assert ballot_ids == sorted(ballot_ids)
        uses = list(db.session.scalars(db.text("SELECT slip_id FROM slip_use ORDER BY ctid")))
        assert uses == sorted(uses)
        marks = list(db.session.scalars(db.text("SELECT ballot_id FROM ballot_mark ORDER BY ctid")))
        assert marks == sorted(marks)
        receipts = list(db.session.scalars(db.text("SELECT code FROM receipt ORDER BY ctid")))
        assert len(receipts) == 25 and receipts == sorted(receipts)
        # Each cast was a batch of its own: its rows shared a transaction id (xmin), which
        # would pair slip and ballot. After the close they all carry the close's.
        writers = set(
            db.session.scalars(
                db.text(
                    "SELECT xmin::text FROM slip_use UNION SELECT xmin::text FROM ballot "
                    "UNION SELECT xmin::text FROM ballot_mark UNION SELECT xmin::text FROM receipt"
                )
            )
        )
        assert len(writers) == 1, writers
    else:
        import os

        wal = db.engine.url.database + "-wal"
        assert not os.path.exists(wal) or os.path.getsize(wal) == 0
    assert counts()[:2] == (25, 25)
