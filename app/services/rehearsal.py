"""模拟测试: rehearse a meeting with real phones and slips, then purge every rehearsal ballot
in one action before the formal vote. The slips stay valid (they are the ones handed out).

While a meeting is in rehearsal, the phone, the hall display and every result say 模拟测试, so
nobody takes a rehearsal figure for a result. The purge returns every round to 未开始 and
deletes what the rehearsal produced: ballots and their marks, slip uses, receipts, and the
runoff rounds that rehearsal ties created (R21 rounds are produced by a count; a count that is
wiped takes its runoffs with it). Set-up — categories, targets, rounds, items, slips, 实到 —
is kept. Both actions commit with their audit entry (R25).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from ..extensions import db
from ..models import Ballot, BallotItemMark, BallotMark, Meeting, Receipt, Round, SlipUse, StateError
from . import audit, secrecy


@dataclass(frozen=True)
class PurgeSummary:
    ballots: int
    rounds_reset: int
    runoffs_removed: int


def _ballots_in(meeting: Meeting) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Ballot).join(Round, Round.id == Ballot.round_id).where(Round.meeting_id == meeting.id)
    )


def start(meeting: Meeting, actor: str) -> None:
    """Put a meeting into rehearsal. Only before any ballot was cast and while no round is
    open: a formal ballot must never be purged as a rehearsal one.

    :raises StateError: with the reason in Chinese.
    """
    if meeting.rehearsal:
        raise StateError("本会议已处于模拟测试状态")
    if any(r.opened_dt is not None for r in meeting.rounds) or _ballots_in(meeting):
        raise StateError("已有轮次开始过投票，不能再转为模拟测试：正式选票不能被当作演练清除")
    meeting.rehearsal = True
    audit.log(actor, "meeting.rehearsal_start", meeting.id)
    db.session.commit()


def purge(meeting: Meeting, actor: str) -> PurgeSummary:
    """Delete every rehearsal ballot and return the meeting to formal voting, slips intact.

    :raises StateError: when the meeting is not in rehearsal, or a round is still open (close
        it first: a phone may be casting into it).
    """
    if not meeting.rehearsal:
        raise StateError("本会议不在模拟测试状态，没有可清除的演练数据")
    if any(r.is_open for r in meeting.rounds):
        raise StateError("请先结束正在进行的投票，再清除演练数据")
    round_ids = list(db.session.scalars(select(Round.id).where(Round.meeting_id == meeting.id)))
    ballot_ids = select(Ballot.id).where(Ballot.round_id.in_(round_ids))
    ballots = _ballots_in(meeting)
    # Children first: SQLite only cascades with its foreign keys on, so do not rely on it.
    db.session.execute(delete(BallotItemMark).where(BallotItemMark.ballot_id.in_(ballot_ids)))
    db.session.execute(delete(BallotMark).where(BallotMark.ballot_id.in_(ballot_ids)))
    db.session.execute(delete(Ballot).where(Ballot.round_id.in_(round_ids)))
    db.session.execute(delete(SlipUse).where(SlipUse.round_id.in_(round_ids)))
    db.session.execute(delete(Receipt).where(Receipt.round_id.in_(round_ids)))
    runoffs = [r for r in meeting.rounds if r.runoff_of_id is not None]
    for runoff in sorted(runoffs, key=lambda r: -r.id):  # a runoff of a runoff goes first
        meeting.rounds.remove(runoff)
    db.session.flush()
    reset = db.session.execute(
        update(Round)
        .where(Round.meeting_id == meeting.id)
        .values(opened_dt=None, closed_dt=None, published_dt=None, show_on_phones=False)
        .execution_options(synchronize_session=False)
    ).rowcount
    meeting.rehearsal = False
    audit.log(actor, "meeting.rehearsal_purge", meeting.id, ballots=ballots, rounds_reset=reset, runoffs_removed=len(runoffs))
    db.session.commit()
    db.session.expire_all()
    secrecy.erase_arrival_order()  # the deleted rows leave no trace in the WAL or the heap
    return PurgeSummary(ballots, reset, len(runoffs))
