"""Casting a ballot: one per slip per round, atomic and secret (R7, R13, R23).

A cast is written by ``services.group_commit``, together with the casts that arrive at the
same moment, in one transaction:

1. ``SELECT … FROM round WHERE id = :r AND open FOR SHARE`` — refuses a round that is not
   open. On PostgreSQL the shared row lock lasts until the commit, so a close (an UPDATE of
   the row) waits for the casts in flight, and a cast after the close sees it; shared locks do
   not exclude one another, so casts do not queue behind each other. On SQLite the write lock
   held from ``BEGIN IMMEDIATE`` does the same;
2. ``INSERT slip_use (slip_id, round_id) … ON CONFLICT DO NOTHING RETURNING`` — its primary
   key is the database's guard of one ballot per slip per round: a slip it refuses is refused
   alone (此码本轮已投票) and nothing of its ballot is written;
3. ``INSERT ballot`` and its marks under a random id, with no slip, time, address or device;
   and the receipt, a random code stored apart (models.Receipt).

Nothing is checked in Python and then written: the checks before the transaction only give
precise messages; the guards are the locking read and the primary key. A refused cast writes
nothing, so no slip is consumed.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
from contextlib import contextmanager
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, exists, literal, select

from ..core import codes
from ..core.scales import LEVEL_COUNT
from ..extensions import PerEngine, db
from ..models import RateCounter, Round, RoundRef, RoundState, Slip, SlipRef, SlipUse
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
    digest = _digest(text, address)
    if address is None:
        return _usable(db.session.scalar(_SLIP_BY_DIGEST, {"digest": digest}), address)
    # The address's failures and the slip in one query.
    limit = ratelimit.check(ratelimit.CODE_FAILURES, address)
    slip, failures = db.session.execute(_SLIP_AND_FAILURES, {"digest": digest, "key": limit.key, "window": limit.window}).one()
    _refuse_if_limited(limit.wait(failures))
    return _usable(slip, address)


def _digest(text: str, address: str | None) -> str:
    """The digest a slip is found by (services.slips).

    :raises MalformedCode: for text that cannot be a code (after the address's limit: a
        blocked address hears 429 whatever it sends).
    """
    try:
        return slip_service.digest_of(codes.normalize(text))
    except codes.CodeError as error:
        if address is not None:
            _refuse_if_limited(ratelimit.retry_after(ratelimit.CODE_FAILURES, address))
        raise MalformedCode(str(error)) from None


def _usable(slip, address: str | None):
    """``slip`` (a Slip or a SlipRef) if a ballot may be cast with it.

    :raises UnknownCode: no slip (a failure counted against ``address``); :raises VoidSlip:
    """
    if slip is None:
        if address is not None:
            ratelimit.record_failure(ratelimit.CODE_FAILURES, address)
        raise UnknownCode("测评码无效，请核对后重新输入")
    if slip.is_void:
        raise VoidSlip("此测评码已作废，请向工作人员领取新的测评码")
    return slip


def _refuse_if_limited(wait: int | None) -> None:
    if wait is not None:
        raise TooManyAttempts(wait)


_SLIP_BY_DIGEST = select(Slip).where(Slip.code_digest == bindparam("digest"))
# One row whatever is found: the slip or NULLs, the address's failure count or NULL (and for
# a cast, the round or NULLs).
_ONE_ROW = select(literal(1).label("one")).subquery()
_WITH_FAILURES = and_(RateCounter.key == bindparam("key"), RateCounter.window == bindparam("window"))
_SLIP_AND_FAILURES = (
    select(Slip, RateCounter.count)
    .select_from(_ONE_ROW)
    .outerjoin(Slip, Slip.code_digest == bindparam("digest"))
    .outerjoin(RateCounter, _WITH_FAILURES)
)
_CAST_LOOKUP = (
    select(
        Slip.id.label("slip_id"), Slip.meeting_id.label("slip_meeting_id"), Slip.category_id, Slip.voided_dt,
        RateCounter.count.label("failures"),
        Round.id.label("round_id"), Round.meeting_id.label("round_meeting_id"), Round.opened_dt, Round.closed_dt, Round.published_dt,
    )
    .select_from(_ONE_ROW)
    .outerjoin(Slip, Slip.code_digest == bindparam("digest"))
    .outerjoin(RateCounter, _WITH_FAILURES)
    .outerjoin(Round, Round.id == bindparam("round_id"))
)


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
    round_ = _require_open(db.session.get(Round, round_id), slip)
    if check_voted and has_voted(slip, round_):
        raise AlreadyVoted(ALREADY_VOTED)
    return round_


def _require_open(round_, slip):
    """``round_`` (a Round or a RoundRef) if it is open and of the slip's meeting.

    :raises RoundNotOpen:
    """
    if round_ is None or round_.meeting_id != slip.meeting_id:
        raise RoundNotOpen("没有这个投票轮次", status=404, reason="unknown_round")
    if round_.state is RoundState.DRAFT:
        raise RoundNotOpen("本轮投票尚未开始，请等待主持人宣布")
    if round_.state is not RoundState.OPEN:
        raise RoundNotOpen("本轮投票已结束")
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
    # The common forms ("12", 12) in one look-up; only int and str may match (True == 1 and
    # 12.0 == 12 as dictionary keys), anything else takes the careful path.
    if type(raw_target) in (int, str):
        found = spec.target_keys.get(raw_target)
        if found is not None:
            return found
    target_id = _as_int(raw_target)
    if target_id is None or target_id not in spec.target_kinds:
        raise InvalidBallot("选票上没有这个测评对象，请刷新页面后重新填写")
    return target_id


_LEVELS = {**{level: level for level in range(LEVEL_COUNT)}, **{str(level): level for level in range(LEVEL_COUNT)}}


def _level(raw, levels: int = LEVEL_COUNT) -> int:
    if type(raw) in (int, str):  # as in _on_ballot: never a bool or a float
        found = _LEVELS.get(raw)
        if found is not None and found < levels:
            return found
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
    if type(value) is int:  # the common case first: JSON numbers (bool, a subclass, is not one)
        return value
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
    return _cast(slip, open_round_for(slip, round_id, check_voted=False), marks, items, is_paper=is_paper)


def cast_code(text: str, round_id: int, marks: Mapping, items: Mapping | None = None, *, address: str) -> str | None:
    """``cast`` for a voter's code as typed or scanned, with ``resolve``'s checks and limits.

    The hall's busiest request (B1): the slip, the round and the address's failures are read
    in one plain query instead of three, and nothing goes through the ORM.

    :raises VotingError: as ``resolve`` and ``cast`` do; nothing was written.
    """
    digest = _digest(text, address)
    limit = ratelimit.check(ratelimit.CODE_FAILURES, address)
    # Outside the session, in autocommit: one statement is its own snapshot, and PostgreSQL is
    # spared the BEGIN and COMMIT round trips of a transaction around it.
    with db.engine.connect() as conn:
        row = (
            conn.execution_options(isolation_level="AUTOCOMMIT")
            .execute(_CAST_LOOKUP, {"digest": digest, "key": limit.key, "window": limit.window, "round_id": round_id})
            .one()
        )
    _refuse_if_limited(limit.wait(row.failures))
    slip = _usable(None if row.slip_id is None else SlipRef(row.slip_id, row.slip_meeting_id, row.category_id, row.voided_dt), address)
    found = None if row.round_id is None else RoundRef(row.round_id, row.round_meeting_id, row.opened_dt, row.closed_dt, row.published_dt)
    return _cast(slip, _require_open(found, slip), marks, items, is_paper=False)


def _cast(slip, round_, marks: Mapping, items: Mapping | None, *, is_paper: bool) -> str | None:
    checked = check_ballot(round_, marks, items, is_paper=is_paper)
    job = group_commit.Cast(
        slip.id, slip.category_id, round_.id, secrets.token_hex(16), checked.marks, checked.item_marks, checked.is_valid, is_paper,
        None if is_paper else new_receipt_code(),
    )
    # End the read transaction of the checks above (after reading the ids: the commit expires
    # ORM objects, and reading one again would take a connection back): the batch is written
    # on a connection of its own, and this one goes back to the pool while the caster waits.
    # ``cast_code`` reads outside the session, which then has nothing to end.
    if db.session().in_transaction():
        db.session.commit()
    _group().submit(job)
    return job.receipt


RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read off a phone


def new_receipt_code() -> str:
    """8 symbols from 31 (≈ 40 bits): short enough to note down, and a collision within a
    round of 1,000 ballots has odds of about 1 in 2 million — the receipt's primary key then
    refuses it, and services.group_commit draws another."""
    # One read of the system's random source instead of eight: 64 random bits spread over
    # 31⁸ ≈ 2³⁹·⁶ codes, so each code is equally likely to within 2⁻²⁴.
    value = int.from_bytes(secrets.token_bytes(8), "big")
    symbols = []
    for _ in range(8):
        value, digit = divmod(value, len(RECEIPT_ALPHABET))
        symbols.append(RECEIPT_ALPHABET[digit])
    return "".join(symbols)


@contextmanager
def _sqlite_writer():
    """SQLite admits one writer at a time and makes the others *sleep* in its busy handler
    (1, 2, 5 … 100 ms steps), which turns a burst into long tail latencies. Writers therefore
    queue instead: threads of a process on a lock, processes (gunicorn workers) on an
    ``flock`` of a file beside the database, where the kernel wakes the next one at once.
    PostgreSQL needs nothing: it runs many writers at once."""
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
_ERRORS = (
    lambda: AlreadyVoted(ALREADY_VOTED),
    lambda: RoundNotOpen("本轮投票已结束"),
    lambda: VotingError("投票未能保存，请重新提交", status=503, reason="retry"),
)
#: The batch queue of each database engine: one per process would let the leader of a batch
#: write another app's casts into its own database when two apps share a process.
_GROUPS: PerEngine[group_commit.GroupCommit] = PerEngine(lambda: group_commit.GroupCommit(_sqlite_writer, new_receipt_code, _ERRORS))
_group = _GROUPS.get


def _lock_file(path: str) -> int:
    """One open descriptor per lock file per process (flock locks belong to the descriptor)."""
    fd = _LOCK_FILES.get(path)
    if fd is None:
        fd = _LOCK_FILES[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return fd
