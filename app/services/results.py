"""The one place round results are made (R12–R19).

``round_report()`` reads the ballots with a few aggregate queries, hands plain counts to
``app.core.scoring`` and returns a frozen ``RoundReport``. The results page, the PDF and XLSX
sheets, the JSON API and the CLI all render this object, so a number on the screen and on the
signed sheet cannot differ.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import func, select

from ..core.scales import KIND_LABELS, PERSON, TEAM, level_labels, round_half_up, scoring_rule_text
from ..core.scoring import (
    FLAG_LABELS,
    CategorySpec,
    RoundCounts,
    TargetScore,
    TargetTally,
    percent,
    score_targets,
)
from ..extensions import db
from ..models import Ballot, BallotMark, Meeting, Round, Slip
from ..models._time import now_utc


@dataclass(frozen=True)
class CategoryInfo:
    code: str
    name: str
    weight: Decimal  # percent as entered


@dataclass(frozen=True)
class TargetRow:
    """One line of the 测评结果汇总表: who, and the core's ``TargetScore``."""

    number: int  # 序号 within its kind's table, in ballot order
    target_id: int
    kind: str
    kind_label: str
    unit: str
    name: str  # 班子 rows: "<unit>领导班子"
    title: str  # 职务
    levels: tuple[str, str, str, str]
    result: TargetScore
    category_codes: tuple[str, ...]

    @property
    def score_text(self) -> str:
        shown = self.result.score_shown
        return "—" if shown is None else f"{shown:.2f}"

    @property
    def band_label(self) -> str:
        return "—" if self.result.band is None else self.levels[self.result.band]

    @property
    def rank_text(self) -> str:
        return "—" if self.result.rank is None else str(self.result.rank)

    @property
    def excellent_rate_text(self) -> str:
        return _pct(self.result.excellent_rate)

    @property
    def approval_rate_text(self) -> str:
        return _pct(self.result.approval_rate)

    def level_share_text(self, level: int) -> str:
        marked = self.result.marked
        return _pct(Fraction(self.result.counts[level], marked) if marked else None)

    def category_score_texts(self) -> tuple[str, ...]:
        out = []
        for cat in self.result.categories:
            out.append("—" if cat.score is None else f"{round_half_up(cat.score):.2f}")
        return tuple(out)

    @property
    def flag_texts(self) -> tuple[str, ...]:
        notes = [FLAG_LABELS[f] for f in self.result.flags]
        if self.result.respread:
            codes = "、".join(str(self.category_codes[i]) for i, c in enumerate(self.result.categories) if c.key in self.result.respread)
            notes.append(f"{codes}类无评价，权重已按比例分配")
        return tuple(notes)


@dataclass(frozen=True)
class RoundReport:
    meeting_id: int
    meeting_title: str
    meeting_place: str
    meeting_date: str  # YYYY-MM-DD or ""
    round_id: int
    round_title: str
    round_state: str  # draft / open / closed / published
    round_state_label: str
    opened_dt: datetime | None
    closed_dt: datetime | None
    published_dt: datetime | None
    counts: RoundCounts
    categories: tuple[CategoryInfo, ...]
    rows: tuple[TargetRow, ...]
    level_values: tuple[int, int, int, int]
    abstain_as_zero: bool
    rules: tuple[str, ...]  # the scoring rule, printed on every report (R16)
    problems: tuple[str, ...]  # broken R19 invariants; empty when all hold
    generated_dt: datetime

    def rows_of(self, kind: str) -> tuple[TargetRow, ...]:
        return tuple(r for r in self.rows if r.kind == kind)

    def ranked(self, kind: str) -> tuple[TargetRow, ...]:
        """A kind's rows by rank (R16), ties in ballot order, unranked targets last."""
        return tuple(sorted(self.rows_of(kind), key=lambda r: (r.result.rank is None, r.result.rank or 0, r.number)))

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k in (TEAM, PERSON) if any(r.kind == k for r in self.rows))


def _pct(rate: Fraction | None) -> str:
    shown = percent(rate)
    return "—" if shown is None else f"{shown:.2f}%"


def round_counts(round_: Round) -> RoundCounts:
    """R19 counts of a round. 实到 is the figure entered at check-in or, when none was
    entered, the number of slips handed out (issued and not voided)."""
    meeting = round_.meeting
    issued = db.session.scalar(
        select(func.count()).select_from(Slip).where(Slip.meeting_id == meeting.id, Slip.voided_dt.is_(None))
    )
    rows = db.session.execute(
        select(Ballot.is_valid, Ballot.is_paper, func.count()).where(Ballot.round_id == round_.id).group_by(Ballot.is_valid, Ballot.is_paper)
    ).all()
    valid = sum(n for is_valid, _, n in rows if is_valid)
    invalid = sum(n for is_valid, _, n in rows if not is_valid)
    paper = sum(n for _, is_paper, n in rows if is_paper)
    present = meeting.present_count if meeting.present_count is not None else issued
    return RoundCounts(
        expected=meeting.expected_count,
        present=present,
        issued=issued,
        returned=valid + invalid,
        valid=valid,
        invalid=invalid,
        paper=paper,
    )


def round_report(round_: Round) -> RoundReport:
    """Count a 测评 round: per target the counts per level and category, abstentions, the
    weighted score, band, rates, flags and rank; for the round the R19 counts.

    Only valid ballots are scored. Safe to call while the round is open (the organizer's
    turnout view); who may *see* the figures is decided by the caller.
    """
    meeting: Meeting = round_.meeting
    categories = list(meeting.categories)
    targets = round_.targets

    ballots_by_cat: dict[int, int] = dict(
        db.session.execute(
            select(Ballot.category_id, func.count())
            .where(Ballot.round_id == round_.id, Ballot.is_valid.is_(True))
            .group_by(Ballot.category_id)
        ).all()
    )
    marks: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0, 0]))
    for target_id, category_id, level, n in db.session.execute(
        select(BallotMark.target_id, Ballot.category_id, BallotMark.level, func.count())
        .join(Ballot, Ballot.id == BallotMark.ballot_id)
        .where(Ballot.round_id == round_.id, Ballot.is_valid.is_(True))
        .group_by(BallotMark.target_id, Ballot.category_id, BallotMark.level)
    ):
        marks[target_id][category_id][level] += n

    specs = [CategorySpec(c.id, Fraction(c.weight)) for c in categories]
    tallies = [TargetTally(t.id, t.kind, {k: tuple(v) for k, v in marks[t.id].items()}, ballots_by_cat) for t in targets]
    scores = score_targets(tallies, specs, meeting.scoring_policy)
    codes = tuple(c.code for c in categories)
    # 序号 counts within each table (teams, leaders), in ballot order.
    numbers: dict[str, int] = defaultdict(int)

    def number(kind: str) -> int:
        numbers[kind] += 1
        return numbers[kind]

    rows = tuple(
        TargetRow(
            number=number(t.kind),
            target_id=t.id,
            kind=t.kind,
            kind_label=KIND_LABELS[t.kind],
            unit=t.unit,
            name=t.display_name,
            title=t.title,
            levels=level_labels(t.kind),
            result=score,
            category_codes=codes,
        )
        for t, score in zip(targets, scores)
    )
    counts = round_counts(round_)
    kinds = tuple(dict.fromkeys(t.kind for t in targets)) or (PERSON,)
    return RoundReport(
        meeting_id=meeting.id,
        meeting_title=meeting.title,
        meeting_place=meeting.place or "",
        meeting_date=meeting.held_on.isoformat() if meeting.held_on else "",
        round_id=round_.id,
        round_title=round_.title,
        round_state=round_.state.value,
        round_state_label=round_.state_label,
        opened_dt=round_.opened_dt,
        closed_dt=round_.closed_dt,
        published_dt=round_.published_dt,
        counts=counts,
        categories=tuple(CategoryInfo(c.code, c.name, Decimal(c.weight)) for c in categories),
        rows=rows,
        level_values=meeting.level_values,
        abstain_as_zero=meeting.abstain_as_zero,
        rules=tuple(scoring_rule_text(k, meeting.level_values, meeting.abstain_as_zero) for k in kinds),
        problems=counts.problems(),
        generated_dt=now_utc(),
    )


def report_as_dict(report: RoundReport) -> dict:
    """JSON form of a report (API and ``flask results --format json``); numbers as strings
    with 2 decimals, exactly as printed, plus the exact score as a fraction for recounts."""
    return {
        "meeting": {"id": report.meeting_id, "title": report.meeting_title, "place": report.meeting_place, "date": report.meeting_date},
        "round": {
            "id": report.round_id,
            "title": report.round_title,
            "state": report.round_state,
            "opened_at": _iso(report.opened_dt),
            "closed_at": _iso(report.closed_dt),
            "published_at": _iso(report.published_dt),
        },
        "counts": {
            "expected": report.counts.expected,
            "present": report.counts.present,
            "issued": report.counts.issued,
            "returned": report.counts.returned,
            "valid": report.counts.valid,
            "invalid": report.counts.invalid,
            "paper": report.counts.paper,
        },
        "categories": [{"code": c.code, "name": c.name, "weight": str(c.weight)} for c in report.categories],
        "level_values": list(report.level_values),
        "abstain_as_zero": report.abstain_as_zero,
        "targets": [
            {
                "number": r.number,
                "id": r.target_id,
                "kind": r.kind,
                "unit": r.unit,
                "name": r.name,
                "title": r.title,
                "levels": list(r.levels),
                "counts": list(r.result.counts),
                "abstained": r.result.abstained,
                "marked": r.result.marked,
                "score": None if r.result.score is None else r.score_text,
                "score_exact": None if r.result.score is None else str(r.result.score),
                "band": None if r.result.band is None else r.band_label,
                "rank": r.result.rank,
                "excellent_rate": r.excellent_rate_text,
                "approval_rate": r.approval_rate_text,
                "flags": list(r.result.flags),
                "notes": list(r.flag_texts),
                "categories": [
                    {"code": code, "counts": list(c.counts), "abstained": c.abstained, "score": text}
                    for code, c, text in zip(r.category_codes, r.result.categories, r.category_score_texts())
                ],
            }
            for r in report.rows
        ],
        "rules": list(report.rules),
        "problems": list(report.problems),
    }


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat() + "Z"
