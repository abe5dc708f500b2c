"""差额票决 rounds: created from a group's 特优 candidates, counted through
``app.core.selection``, continued by runoffs (DOMAIN R3, R4, R10, R11, R19, R21, R22, §7).

A selection ballot is stored like any ballot: a mark (level 0, 同意) per chosen candidate.
An over-selection typed on a phone or sent to the API is *refused* (nothing consumed, the
voter fixes it); on a paper ballot entered by staff it is *recorded as invalid* (废票: counted in
收回 and 无效, in no candidate's votes), because the paper exists and was cast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy import func, select

from ..core import selection as core
from ..core.scoring import RoundCounts, percent
from ..extensions import db
from ..models import SELECTION, Ballot, BallotMark, Meeting, Round, RoundState, RoundTarget, StateError, Target
from ..models._time import now_utc
from . import audit
from .results import round_counts

ORDERS = ("score", "strokes")


def stroke_sort_key():
    """A sort key in 笔画 order: ICU's Chinese stroke collation (zh@collation=stroke)."""
    import icu

    collator = icu.Collator.createInstance(icu.Locale("zh@collation=stroke"))
    return collator.getSortKey


def create_selection_round(
    meeting: Meeting, group: str, units: list[str], actor: str, *, seats: int | None = None, order: str = "score", title: str | None = None
) -> Round:
    """A draft 差额票决 round for a group, its candidates in the stated order (R10).

    :param units: the candidate unit names: the group's candidates outright plus, where units
        tie at the N-th place, the ones the organizer chose (R3).
    :param seats: K (default: the group's setting, else half the candidates, R4).
    :raises StateError: for candidates that are not the group's, a tie left undecided, or K
        not below the number of candidates.
    """
    from .assessment import assessment_report

    if order not in ORDERS:
        raise StateError("候选人排列顺序应为 按得分 或 按笔画")
    report = assessment_report(meeting)
    row = next((g for g in report.groups if g.name == group), None)
    if row is None:
        raise StateError(f"没有分组「{group}」")
    if any(r.is_selection and r.group_name == group and r.runoff_of_id is None for r in meeting.rounds):
        raise StateError(f"「{group}」已有差额票决轮次")
    chosen = list(dict.fromkeys(units))
    unknown = [u for u in chosen if u not in row.chosen and u not in row.tied]
    if unknown:
        raise StateError(f"不是「{group}」的特优候选单位：{'、'.join(unknown)}")
    missing = [u for u in row.chosen if u not in chosen]
    if missing:
        raise StateError(f"缺少候选单位：{'、'.join(missing)}")
    from_tie = [u for u in chosen if u in row.tied]
    if len(from_tie) != row.open_places:
        raise StateError(f"并列的 {len(row.tied)} 个单位争 {row.open_places} 个候选名额：请选定 {row.open_places} 个（已选 {len(from_tie)} 个）")
    k = seats if seats is not None else row.seats
    if not 1 <= k < len(chosen):
        raise StateError(f"应选名额须在 1 到 {len(chosen) - 1} 之间（差额票决）")
    scores = {u.name: u.target_score for u in report.units}
    if order == "score":
        chosen.sort(key=lambda name: (-scores[name], stroke_sort_key()(name)))
    else:
        chosen.sort(key=stroke_sort_key())
    round_ = _new_round(meeting, title or f"{group}“特优”差额票决", group, k, order, [_team_target(meeting, u) for u in chosen])
    audit.log(actor, "selection.create", meeting.id, round_id=round_.id, group=group, seats=k, candidates=chosen, from_tie=from_tie)
    db.session.commit()
    return round_


def _team_target(meeting: Meeting, unit: str) -> Target:
    """The unit's team target, made when the meeting graded no team of it (票决 only)."""
    target = next((t for t in meeting.targets if t.kind == "team" and t.unit == unit), None)
    if target is None:
        target = Target(kind="team", unit=unit, name="", title="", is_principal=True, position=len(meeting.targets))
        meeting.targets.append(target)
    return target


def _new_round(meeting: Meeting, title: str, group: str, seats: int, order: str, targets: list[Target], runoff_of: Round | None = None) -> Round:
    round_ = Round(
        kind=SELECTION,
        title=title,
        position=len(meeting.rounds),
        seats=seats,
        group_name=group,
        candidate_order=order,
        runoff_of_id=runoff_of.id if runoff_of else None,
    )
    round_.round_targets = [RoundTarget(target=t, position=i) for i, t in enumerate(targets)]
    meeting.rounds.append(round_)
    db.session.flush()
    return round_


def outcome_of(round_: Round) -> core.SelectionOutcome:
    """Count a selection round's valid ballots (R11, R21, R22)."""
    order = [rt.target_id for rt in round_.round_targets]
    votes = dict(
        db.session.execute(
            select(BallotMark.target_id, func.count())
            .join(Ballot, Ballot.id == BallotMark.ballot_id)
            .where(Ballot.round_id == round_.id, Ballot.is_valid.is_(True), BallotMark.level == 0)
            .group_by(BallotMark.target_id)
        ).all()
    )
    valid = db.session.scalar(select(func.count()).select_from(Ballot).where(Ballot.round_id == round_.id, Ballot.is_valid.is_(True)))
    majority_of = round_counts(round_).present if round_.meeting.majority_required else None
    return core.decide({k: votes.get(k, 0) for k in order}, order, round_.seats or 0, valid, majority_of=majority_of)


def chain_of(round_: Round) -> list[Round]:
    """The first round of a group's 票决 and its runoffs, in order."""
    first = round_
    while first.runoff_of_id is not None:
        first = db.session.get(Round, first.runoff_of_id)
    chain = [first]
    while True:
        nxt = db.session.scalar(select(Round).where(Round.runoff_of_id == chain[-1].id))
        if nxt is None:
            return chain
        chain.append(nxt)


def start_runoff(round_: Round, actor: str) -> Round:
    """R21 in one action: a runoff among the tied (or, with R22, the short of a majority) for
    the seats still open, same group and order.

    :raises StateError: when the round is not counted yet, needs no runoff, or has one.
    """
    if not round_.is_selection or round_.state not in (RoundState.CLOSED, RoundState.PUBLISHED):
        raise StateError("差额票决轮次结束后才能发起再次投票")
    if db.session.scalar(select(Round.id).where(Round.runoff_of_id == round_.id)) is not None:
        raise StateError("本轮已发起再次投票")
    plan = core.runoff_plan(outcome_of(round_))
    if plan is None:
        raise StateError("本轮名额已全部产生，无需再次投票")
    targets = {t.id: t for t in round_.targets}
    n = len(chain_of(round_)) + 1
    base = chain_of(round_)[0].title
    runoff = _new_round(
        round_.meeting, f"{base}（第{n}次投票）", round_.group_name or "", plan.seats, round_.candidate_order,
        [targets[k] for k in plan.candidates], runoff_of=round_,
    )
    audit.log(actor, "selection.runoff", round_.meeting_id, round_id=runoff.id, of=round_.id, seats=plan.seats, candidates=len(plan.candidates))
    db.session.commit()
    return runoff


def group_outcomes(meeting: Meeting) -> dict[str, str]:
    """Unit name → final status ("elected", "not_elected", "runoff") for every unit that stood
    in a counted 票决 round; rounds not yet closed do not count."""
    out: dict[str, str] = {}
    for first in (r for r in meeting.rounds if r.is_selection and r.runoff_of_id is None):
        counted = [r for r in chain_of(first) if r.state in (RoundState.CLOSED, RoundState.PUBLISHED)]
        if not counted:
            continue
        units = {rt.target_id: rt.target.unit for r in counted for rt in r.round_targets}
        for target_id, status in core.resolve_chain([outcome_of(r) for r in counted]).items():
            out[units[target_id]] = status
    return out


# --- the 票决计票结果报告单 ----------------------------------------------------------------


@dataclass(frozen=True)
class CandidateRow:
    number: int  # 序号 on the ballot
    unit: str
    votes: int
    share: Fraction | None
    rank: int
    status: str
    status_label: str

    @property
    def share_text(self) -> str:
        shown = percent(self.share)
        return "—" if shown is None else f"{shown:.2f}%"


@dataclass(frozen=True)
class SelectionRoundReport:
    round_id: int
    title: str
    state: str
    state_label: str
    opened_dt: datetime | None
    closed_dt: datetime | None
    published_dt: datetime | None
    seats: int
    counts: RoundCounts
    rows: tuple[CandidateRow, ...]
    open_seats: int
    majority_of: int | None

    def ranked(self) -> tuple[CandidateRow, ...]:
        return tuple(sorted(self.rows, key=lambda r: (r.rank, r.number)))


@dataclass(frozen=True)
class SelectionReport:
    meeting_id: int
    meeting_title: str
    meeting_place: str
    meeting_date: str
    group: str
    seats: int
    order_label: str
    rounds: tuple[SelectionRoundReport, ...]  # counted rounds of the chain, first first
    final: tuple[tuple[str, str], ...]  # (unit, 特优 / 优秀 / 待再次投票) in ballot order of the first round
    digest: str  # SHA-256 of the tally, for the record
    rules: tuple[str, ...]
    problems: tuple[str, ...]
    generated_dt: datetime

    @property
    def elected(self) -> tuple[str, ...]:
        return tuple(u for u, label in self.final if label == "特优")


def selection_report(round_: Round) -> SelectionReport:
    """Everything the 票决计票结果报告单 says, for the chain ``round_`` belongs to (§7).

    While ``round_`` is open its running tally is included (for 随投随显示); the sheet itself is
    only offered once the round is closed.
    """
    from ..models import ORDER_LABELS, ROUND_STATE_LABELS

    meeting = round_.meeting
    chain = chain_of(round_)
    # Counted rounds, and the round asked about while it is open (the live display, R24).
    counted = [r for r in chain if r.state in (RoundState.CLOSED, RoundState.PUBLISHED) or (r.id == round_.id and r.is_open)]
    reports = []
    outcomes = []
    for r in counted:
        outcome = outcome_of(r)
        outcomes.append(outcome)
        units = {rt.target_id: rt.target.unit for rt in r.round_targets}
        rows = tuple(
            CandidateRow(i, units[c.key], c.votes, c.share, c.rank, c.status, c.status_label)
            for i, c in enumerate(outcome.candidates, start=1)
        )
        counts = round_counts(r)
        reports.append(
            SelectionRoundReport(
                round_id=r.id, title=r.title, state=r.state.value, state_label=ROUND_STATE_LABELS[r.state],
                opened_dt=r.opened_dt, closed_dt=r.closed_dt, published_dt=r.published_dt, seats=r.seats or 0,
                counts=counts, rows=rows, open_seats=outcome.open_seats,
                majority_of=counts.present if meeting.majority_required else None,
            )
        )
    first_units = [(rt.target_id, rt.target.unit) for rt in chain[0].round_targets]
    statuses = core.resolve_chain(outcomes) if outcomes else {}
    final = tuple((unit, core.STATUS_LABELS[statuses[tid]] if tid in statuses else "未计票") for tid, unit in first_units)
    digest = core.tally_digest(
        meeting.title,
        chain[0].group_name,
        [
            {
                "round": r.title,
                "seats": r.seats,
                "counts": [r.counts.expected, r.counts.present, r.counts.issued, r.counts.returned, r.counts.valid, r.counts.invalid],
                "votes": [[row.unit, row.votes] for row in r.rows],
            }
            for r in reports
        ],
    )
    problems = tuple(p for r in reports for p in r.counts.problems())
    rules = (
        f"应选 {chain[0].seats} 名，候选 {len(first_units)} 名；每票所选不得超过应选名额，超过为废票，少选或不选有效（R10、R11）。",
        "按得票多少排序，得票率 = 得票 ÷ 有效票；得票相同跨越最后一个名额时，对并列者就剩余名额再次投票（R21）。"
        + ("当选须获得超过实到人数半数的票（R22）。" if meeting.majority_required else ""),
    )
    return SelectionReport(
        meeting_id=meeting.id,
        meeting_title=meeting.title,
        meeting_place=meeting.place or "",
        meeting_date=meeting.held_on.isoformat() if meeting.held_on else "",
        group=chain[0].group_name or "",
        seats=chain[0].seats or 0,
        order_label=ORDER_LABELS.get(chain[0].candidate_order, ""),
        rounds=tuple(reports),
        final=final,
        digest=digest,
        rules=rules,
        problems=problems,
        generated_dt=now_utc(),
    )


def selection_report_dict(report: SelectionReport) -> dict:
    """JSON form (API and CLI)."""
    return {
        "meeting": {"id": report.meeting_id, "title": report.meeting_title},
        "group": report.group,
        "seats": report.seats,
        "rounds": [
            {
                "id": r.round_id,
                "title": r.title,
                "state": r.state,
                "seats": r.seats,
                "counts": {
                    "expected": r.counts.expected, "present": r.counts.present, "issued": r.counts.issued,
                    "returned": r.counts.returned, "valid": r.counts.valid, "invalid": r.counts.invalid, "paper": r.counts.paper,
                },
                "candidates": [
                    {"number": c.number, "unit": c.unit, "votes": c.votes, "share": c.share_text, "rank": c.rank, "result": c.status_label}
                    for c in r.rows
                ],
                "open_seats": r.open_seats,
            }
            for r in report.rounds
        ],
        "final": [{"unit": u, "result": label} for u, label in report.final],
        "digest": report.digest,
    }
