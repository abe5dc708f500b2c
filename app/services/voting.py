"""Casting a ballot: one per slip per round, atomic and secret (R7, R13, R23).

The cast is one transaction of three writes, in this order:

1. ``INSERT slip_use (slip_id, round_id)`` — its primary key is the database's guard of one
   ballot per slip per round; a second cast fails here and the whole transaction rolls back;
2. ``INSERT ballot`` and its marks under a random id, with no slip, time, address or device;
3. ``UPDATE round SET cast_count = cast_count + 1 WHERE id = :r AND open`` — refuses a round
   that is not open *at commit time*. On PostgreSQL it takes the round's row lock until the
   commit, so a close waits for the casts in flight and a cast after the close sees it; being
   last, it holds that lock for one statement and the commit only.

Nothing is checked in Python and then written: the checks before the transaction only give
precise messages; the guards are the UPDATE's WHERE clause and the primary key. A refused
cast writes nothing, so no slip is consumed.

On a SQLite file, concurrent casts are written in groups, one transaction and one fsync per
group, with the same guarantees checked under SQLite's write lock (services.group_commit):
there, a commit costs a disk flush and only one writer runs at a time.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
from contextlib import contextmanager
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..core import codes
from ..core.scales import LEVEL_COUNT
from ..extensions import db
from ..models import Ballot, BallotItemMark, BallotMark, Receipt, Round, RoundState, Slip, SlipUse
from . import group_commit, items as item_service, ratelimit, slips as slip_service

ALREADY_VOTED = "此码本轮已投票"


class VotingError(Exception):
    """A refused cast or look-up. ``str()`` is the Chinese message for the voter; ``status``
    the HTTP status for the API; ``reason`` a stable English key for machines."""

    status = 400
    reason = "bad_request"

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status
        if reason is not None:
            self.reason = reason


class UnknownCode(VotingError):
    status, reason = 404, "unknown_code"


class MalformedCode(UnknownCode):
    """Wrong length, characters or check symbol: no look-up was made (a typo, not a guess)."""


class TooManyAttempts(VotingError):
    status, reason = 429, "too_many_attempts"

    def __init__(self, retry_after: int):
        super().__init__(f"测评码输错次数过多，请 {retry_after} 秒后再试")
        self.retry_after = retry_after


class VoidSlip(VotingError):
    status, reason = 403, "void_slip"


class RoundNotOpen(VotingError):
    status, reason = 409, "round_not_open"


class AlreadyVoted(VotingError):
    status, reason = 409, "already_voted"


class InvalidBallot(VotingError):
    status, reason = 422, "invalid_ballot"


def resolve(text: str, *, address: str | None = None) -> Slip:
    """The usable slip for a typed or scanned code.

    :param address: the client's address: when given, unknown codes are rate-limited per
        address (services.ratelimit; malformed ones are not, they are typos, not guesses).
    :raises MalformedCode, UnknownCode, VoidSlip, TooManyAttempts:
    """
    if address is not None:
        wait = ratelimit.retry_after(ratelimit.CODE_FAILURES, address)
        if wait is not None:
            raise TooManyAttempts(wait)
    try:
        slip = slip_service.find_by_code(text)
    except codes.CodeError as error:
        raise MalformedCode(str(error)) from None
    if slip is None:
        if address is not None:
            ratelimit.record_failure(ratelimit.CODE_FAILURES, address)
        raise UnknownCode("测评码无效，请核对后重新输入")
    if slip.is_void:
        raise VoidSlip("此测评码已作废，请向工作人员领取新的测评码")
    return slip


@dataclass(frozen=True)
class SlipRound:
    """A round as one slip sees it."""

    round: Round
    has_voted: bool


def rounds_for(slip: Slip) -> list[SlipRound]:
    """The slip's meeting's rounds, each with whether *this* slip has voted in it. Only the
    slip's own holder sees this; progress of others is shown only in aggregate (R23)."""
    voted = set(db.session.scalars(select(SlipUse.round_id).where(SlipUse.slip_id == slip.id)))
    rounds = db.session.scalars(select(Round).where(Round.meeting_id == slip.meeting_id).order_by(Round.position)).all()
    return [SlipRound(r, r.id in voted) for r in rounds]


def open_round_for(slip: Slip, round_id: int, *, check_voted: bool = True) -> Round:
    """The round to cast into, checked for a precise message (the cast re-checks atomically).

    :param check_voted: tell 此码本轮已投票 now (the form's review step); the cast itself
        leaves it to the primary key of ``slip_use``, which gives the same answer for one
        query less.
    :raises RoundNotOpen, AlreadyVoted:
    """
    round_ = db.session.get(Round, round_id)
    if round_ is None or round_.meeting_id != slip.meeting_id:
        raise RoundNotOpen("没有这个投票轮次", status=404, reason="unknown_round")
    if round_.state is RoundState.DRAFT:
        raise RoundNotOpen("本轮投票尚未开始，请等待主持人宣布")
    if round_.state is not RoundState.OPEN:
        raise RoundNotOpen("本轮投票已结束")
    if check_voted and has_voted(slip, round_):
        raise AlreadyVoted(ALREADY_VOTED)
    return round_


def has_voted(slip: Slip, round_: Round) -> bool:
    return bool(db.session.scalar(select(exists().where(SlipUse.slip_id == slip.id, SlipUse.round_id == round_.id))))


@dataclass(frozen=True)
class CheckedBallot:
    """A ballot that passed the checks: what ``cast`` writes."""

    marks: dict[int, int]  # target id → overall level; abstentions left out (R13)
    item_marks: dict[tuple[int, int], int]  # (target id, item id) → level (0 for ticks)
    is_valid: bool = True


def check_ballot(round_: Round, marks: Mapping, items: Mapping | None = None, *, is_paper: bool = False) -> CheckedBallot:
    """Validate a ballot against the round's ballot (services.items.ballot_spec).

    :param marks: target id → overall level 0–3; None, "" or a missing target is an abstention
        (R13). In a 差额票决 round the only level is 0 (同意).
    :param items: target id → ``{"dimensions": {item id: level}, "reverse": [item ids],
        "intent": item id}``, each part optional (R9, R15, R18).
    :return: the clean ballot. It is invalid (废票) only when entered from paper and it breaks
        a count rule — more than K choices in a 差额票决 (R11; see services.selection) or more
        top-level grades than the round's cap: counted in 收回 and 无效 and in nothing else.
        From a phone or the API such a ballot is refused instead, so the voter can fix it.
    :raises InvalidBallot: for a target or item not on this ballot, a level not on the scale,
        two 使用意向, or a broken count rule that is not a paper ballot.
    """
    if not isinstance(marks, Mapping) or not (items is None or isinstance(items, Mapping)):
        raise InvalidBallot("选票格式不正确")
    spec = item_service.ballot_spec(round_)
    levels = 1 if spec.is_selection else LEVEL_COUNT
    clean: dict[int, int] = {}
    for raw_target, raw_level in marks.items():
        target_id = _on_ballot(spec, raw_target)
        if raw_level is None or raw_level == "":
            continue
        clean[target_id] = _level(raw_level, levels)
    item_marks = _check_items(spec, items or {})
    broken = _count_rule_broken(spec, clean)
    if broken:
        if not is_paper:
            raise InvalidBallot(broken)
        return CheckedBallot({}, {}, False)  # 废票: counted in 收回 and 无效, nowhere else
    return CheckedBallot(clean, item_marks, True)


def _on_ballot(spec, raw_target) -> int:
    target_id = _as_int(raw_target)
    if target_id is None or target_id not in spec.target_kinds:
        raise InvalidBallot("选票上没有这个测评对象，请刷新页面后重新填写")
    return target_id


def _level(raw, levels: int = LEVEL_COUNT) -> int:
    level = _as_int(raw)
    if level is None or not 0 <= level < levels:
        raise InvalidBallot("评价等次不正确，请刷新页面后重新填写")
    return level


def _check_items(spec, items: Mapping) -> dict[tuple[int, int], int]:
    if items and spec.is_selection:
        raise InvalidBallot("差额票决选票只有“同意”一项")
    out: dict[tuple[int, int], int] = {}
    for raw_target, answers in items.items():
        target_id = _on_ballot(spec, raw_target)
        if not isinstance(answers, Mapping) or set(answers) - {"dimensions", "reverse", "intent"}:
            raise InvalidBallot("选票格式不正确")
        asked = spec.items_for(spec.target_kinds[target_id])
        dimensions = answers.get("dimensions") or {}
        reverse = answers.get("reverse") or []
        intent = answers.get("intent")
        if not isinstance(dimensions, Mapping) or not isinstance(reverse, (list, tuple)):
            raise InvalidBallot("选票格式不正确")
        for raw_item, raw_level in dimensions.items():
            item_id = _item(raw_item, asked.dimensions)
            if raw_level is None or raw_level == "":
                continue
            out[(target_id, item_id)] = _level(raw_level)
        for raw_item in reverse:
            out[(target_id, _item(raw_item, asked.reverse))] = 0
        if intent is not None and intent != "":
            if isinstance(intent, (list, tuple)):
                raise InvalidBallot("使用意向只能选一项")
            out[(target_id, _item(intent, asked.intent))] = 0
    return out


def _item(raw, asked) -> int:
    item_id = _as_int(raw)
    if item_id is None or all(item.id != item_id for item in asked):
        raise InvalidBallot("选票上没有这个测评项目，请刷新页面后重新填写")
    return item_id


def _count_rule_broken(spec, clean: dict[int, int]) -> str | None:
    """The Chinese reason a ballot breaks a count rule (R11, the top-level cap), or None."""
    if spec.is_selection:
        if len(clean) > spec.seats:
            return f"最多可选 {spec.seats} 名，您选了 {len(clean)} 名，请减少后再提交"
        return None
    for kind, asked in spec.kinds.items():
        if asked.top_cap is None:
            continue
        top = sum(1 for target_id, level in clean.items() if level == 0 and spec.target_kinds[target_id] == kind)
        if top > asked.top_cap:
            return f"每票“{asked.top_label}”不超过 {asked.top_cap} 个，您选了 {top} 个，请修改后再提交"
    return None


def _as_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        # isdigit() alone also admits "²" and other Unicode digits that int() refuses.
        if text.isascii() and text.isdigit() and len(text) < 10:
            return int(text)
    return None


def cast(slip: Slip, round_id: int, marks: Mapping, items: Mapping | None = None, *, is_paper: bool = False) -> str | None:
    """Cast one 测评 ballot for a slip in a round, atomically (see the module docstring).

    :param marks: target id → level index (0 = 好/优秀 … 3 = 差/不称职), None = 弃权; in a
        差额票决 round 0 = 同意 for each chosen candidate.
    :param items: the answers to the round's items (see ``check_ballot``).
    :param is_paper: a paper ballot entered by staff (§6): a broken count rule is recorded as
        invalid instead of refused.
    :return: the receipt code for the voter's phone (None for a paper ballot): a random code
        stored apart from the ballot, listed after publication (see models.Receipt).
    :raises VotingError: (a subclass) with the Chinese message; nothing was written.
    """
    if slip.is_void:
        raise VoidSlip("此测评码已作废，请向工作人员领取新的测评码")
    round_ = open_round_for(slip, round_id, check_voted=False)
    checked = check_ballot(round_, marks, items, is_paper=is_paper)
    slip_id, category_id = slip.id, slip.category_id
    # End the read transaction of the checks above, so that the write transaction starts with
    # a write (on SQLite it then waits for the lock instead of failing on a stale snapshot).
    db.session.commit()
    ballot_id = secrets.token_hex(16)
    if _group_commits():
        job = group_commit.Cast(
            slip_id, category_id, round_id, ballot_id, checked.marks, checked.item_marks, checked.is_valid, is_paper,
            None if is_paper else new_receipt_code(),
        )
        _GROUP.submit(job)
        return job.receipt
    for attempt in range(3):
        receipt = None if is_paper else new_receipt_code()
        try:
            with _sqlite_writer():
                _write_ballot(slip_id, category_id, round_id, ballot_id, checked, is_paper, receipt)
            return receipt
        except AlreadyVoted:
            # The key that refused the cast is slip_use's — or, once in millions, a receipt
            # code drawn twice in the round: then the slip is unused and a new code is drawn.
            if receipt is None or attempt == 2 or has_voted(slip, round_):
                raise
    raise AssertionError("unreachable")


def _group_commits() -> bool:
    """SQLite files write ballots in groups (services.group_commit); PostgreSQL merges
    concurrent commits into one WAL flush by itself and keeps one transaction per ballot."""
    return db.engine.dialect.name == "sqlite" and bool(db.engine.url.database)


RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read off a phone


def new_receipt_code() -> str:
    """8 symbols from 31 (≈ 40 bits): short enough to note down, and a collision within a
    round of 1,000 ballots has odds of about 1 in 2 million — the primary key then refuses
    the cast, which the voter simply submits again."""
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(8))


@contextmanager
def _sqlite_writer():
    """SQLite admits one writer at a time and makes the others *sleep* in its busy handler
    (1, 2, 5 … 100 ms steps), which turns a burst into long tail latencies. Writers therefore
    queue instead: threads of a process on a lock, processes (gunicorn workers) on an
    ``flock`` of a file beside the database, where the kernel wakes the next one at once.
    PostgreSQL needs nothing: its row lock on the round queues casts by itself."""
    if db.engine.dialect.name != "sqlite" or not db.engine.url.database:
        yield
        return
    with _SQLITE_WRITE_LOCK:
        fd = _lock_file(db.engine.url.database + ".writelock")
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


_SQLITE_WRITE_LOCK = threading.Lock()
_LOCK_FILES: dict[str, int] = {}
_GROUP = group_commit.GroupCommit(
    _sqlite_writer,
    new_receipt_code,
    (
        lambda: AlreadyVoted(ALREADY_VOTED),
        lambda: RoundNotOpen("本轮投票已结束"),
        lambda: VotingError("投票未能保存，请重新提交", status=503, reason="retry"),
    ),
)


def _lock_file(path: str) -> int:
    """One open descriptor per lock file per process (flock locks belong to the descriptor)."""
    fd = _LOCK_FILES.get(path)
    if fd is None:
        fd = _LOCK_FILES[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return fd


def _write_ballot(
    slip_id: int, category_id: int, round_id: int, ballot_id: str, checked: CheckedBallot, is_paper: bool, receipt: str | None
) -> None:
    try:
        # Core inserts on the tables: the ORM's bulk machinery costs more than the writes.
        db.session.execute(insert(SlipUse.__table__).values(slip_id=slip_id, round_id=round_id))
        db.session.execute(
            insert(Ballot.__table__).values(
                id=ballot_id, round_id=round_id, category_id=category_id, is_valid=checked.is_valid, is_paper=is_paper
            )
        )
        if checked.marks:
            db.session.execute(
                insert(BallotMark.__table__), [{"ballot_id": ballot_id, "target_id": t, "level": lv} for t, lv in checked.marks.items()]
            )
        if checked.item_marks:
            db.session.execute(
                insert(BallotItemMark.__table__),
                [{"ballot_id": ballot_id, "target_id": t, "item_id": i, "level": lv} for (t, i), lv in checked.item_marks.items()],
            )
        if receipt is not None:
            db.session.execute(insert(Receipt.__table__).values(round_id=round_id, code=receipt))
        # Last, so that on PostgreSQL the round's row lock is held only until the commit: casts
        # queue on it for one statement, not for the whole transaction.
        bumped = db.session.execute(
            update(Round)
            .where(Round.id == round_id, Round.opened_dt.isnot(None), Round.closed_dt.is_(None))
            .values(cast_count=Round.cast_count + 1)
            .execution_options(synchronize_session=False)
        )
        if bumped.rowcount != 1:
            db.session.rollback()
            raise RoundNotOpen("本轮投票已结束")
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise AlreadyVoted(ALREADY_VOTED) from None
    except BaseException:
        db.session.rollback()
        raise
