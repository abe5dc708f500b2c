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

from ..core.scales import KIND_LABELS, PERSON, TEAM, level_labels, plain_number, round_half_up, scoring_rule_text
from ..core.scoring import (
    FLAG_LABELS,
    CategorySpec,
    DimensionSpec,
    RoundCounts,
    ScoringPolicy,
    TargetScore,
    TargetTally,
    percent,
    score_targets,
)
from ..extensions import db
from ..models import DIMENSION, INTENT, REVERSE, Ballot, BallotItem, BallotItemMark, BallotMark, Meeting, Round, Slip
from ..models._time import now_utc


@dataclass(frozen=True)
class CategoryInfo:
    code: str
    name: str
    weight: Decimal  # percent as entered


@dataclass(frozen=True)
class ItemCount:
    """A 逆向测评 or 使用意向 option of one target: how many valid ballots ticked it (R18)."""

    label: str
    count: int
    rate: Fraction | None  # of the round's valid ballots

    @property
    def rate_text(self) -> str:
        return _pct(self.rate)


@dataclass(frozen=True)
class DimensionRow:
    """One dimension item of one target (R15), scored like the overall grade."""

    label: str
    weight: Decimal | None
    counts: tuple[int, int, int, int]
    abstained: int
    score: Fraction | None
    band_label: str

    @property
    def score_text(self) -> str:
        return "—" if self.score is None else f"{round_half_up(self.score):.2f}"

    @property
    def weight_text(self) -> str:
        return "" if self.weight is None else plain_number(self.weight)


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
    dimensions: tuple[DimensionRow, ...] = ()
    reverse: tuple[ItemCount, ...] = ()
    intent: tuple[ItemCount, ...] = ()

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
    rehearsal: bool = False  # 模拟测试: every rendering says so

    @property
    def has_items(self) -> bool:
        return any(r.dimensions or r.reverse or r.intent for r in self.rows)

    def item_labels(self, kind: str, part: str) -> tuple[str, ...]:
        """The labels of a kind's dimensions / reverse / intent items, in ballot order (the
        columns of the second sheet)."""
        rows = self.rows_of(kind)
        if not rows:
            return ()
        return tuple(i.label for i in getattr(rows[0], part))

    def has_items_for(self, kind: str) -> bool:
        """Whether a kind's ballot asked dimensions, 逆向测评 or 使用意向 (whether it gets a
        second sheet)."""
        return any(self.item_labels(kind, part) for part in ("dimensions", "reverse", "intent"))

    def is_weighted(self, kind: str) -> bool:
        """R15: whether a kind's 折合分 is the weighted sum of its dimension scores."""
        return any(r.result.weighted for r in self.rows_of(kind))

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


@dataclass(frozen=True)
class TargetInfo:
    """A target as the report needs it (from the database, or from a ballots file)."""

    id: int
    kind: str
    unit: str
    name: str  # as printed: "<unit>领导班子" for a team
    title: str


@dataclass(frozen=True)
class ItemInfo:
    """A ballot item as the report needs it (R9, R15, R18)."""

    id: int
    kind: str
    item_type: str
    label: str
    weight: Decimal | None


@dataclass(frozen=True)
class ReportHeading:
    """Who and when, printed on the report; none of it is counted."""

    meeting_id: int
    meeting_title: str
    meeting_place: str
    meeting_date: str
    round_id: int
    round_title: str
    round_state: str
    round_state_label: str
    opened_dt: datetime | None = None
    closed_dt: datetime | None = None
    published_dt: datetime | None = None
    rehearsal: bool = False


def round_report(round_: Round) -> RoundReport:
    """Count a 测评 round: per target the counts per level and category, abstentions, the
    weighted score, band, rates, flags and rank; for the round the R19 counts.

    Only valid ballots are scored. Safe to call while the round is open (the organizer's
    turnout view); who may *see* the figures is decided by the caller. The counting itself is
    ``assemble_report``, which the recount of a ballots file calls too.
    """
    meeting: Meeting = round_.meeting
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
    items = db.session.scalars(
        select(BallotItem).where(BallotItem.round_id == round_.id).order_by(BallotItem.kind, BallotItem.item_type, BallotItem.position)
    ).all()
    item_counts: dict[int, dict[int, dict[int, list[int]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: [0, 0, 0, 0])))
    if items:
        for target_id, item_id, category_id, level, n in db.session.execute(
            select(BallotItemMark.target_id, BallotItemMark.item_id, Ballot.category_id, BallotItemMark.level, func.count())
            .join(Ballot, Ballot.id == BallotItemMark.ballot_id)
            .where(Ballot.round_id == round_.id, Ballot.is_valid.is_(True))
            .group_by(BallotItemMark.target_id, BallotItemMark.item_id, Ballot.category_id, BallotItemMark.level)
        ):
            item_counts[target_id][item_id][category_id][level] += n
    heading = ReportHeading(
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
        rehearsal=meeting.rehearsal,
    )
    return assemble_report(
        heading,
        policy=meeting.scoring_policy,
        categories=[(c.id, CategoryInfo(c.code, c.name, Decimal(c.weight))) for c in meeting.categories],
        targets=[TargetInfo(t.id, t.kind, t.unit, t.display_name, t.title) for t in round_.targets],
        items=[ItemInfo(i.id, i.kind, i.item_type, i.label, i.weight) for i in items],
        ballots_by_cat=ballots_by_cat,
        marks=marks,
        item_counts=item_counts,
        counts=round_counts(round_),
    )


def assemble_report(
    heading: ReportHeading,
    *,
    policy: ScoringPolicy,
    categories: list[tuple[object, CategoryInfo]],
    targets: list[TargetInfo],
    items: list[ItemInfo],
    ballots_by_cat: dict,
    marks: dict,
    item_counts: dict,
    counts: RoundCounts,
) -> RoundReport:
    """The report from plain counts — no database (R12–R19). ``round_report`` feeds it from
    the database and ``services.recount`` from a published ballots file, so the recount
    checks the very arithmetic that made the published figures.

    :param categories: ``(key, info)`` in the meeting's order; keys are what the counts use.
    :param marks: target id → category key → four counts (overall grade).
    :param item_counts: target id → item id → category key → four counts.
    """
    dimension_specs = {
        kind: [
            DimensionSpec(i.id, i.label, None if i.weight is None else Fraction(i.weight))
            for i in items
            if i.kind == kind and i.item_type == DIMENSION
        ]
        for kind in (TEAM, PERSON)
    }
    specs = [CategorySpec(key, Fraction(info.weight)) for key, info in categories]
    empty: dict = {}
    tallies = [
        TargetTally(
            t.id,
            t.kind,
            {k: tuple(v) for k, v in marks.get(t.id, empty).items()},
            dict(ballots_by_cat),
            {item_id: {k: tuple(v) for k, v in per_cat.items()} for item_id, per_cat in item_counts.get(t.id, empty).items()},
        )
        for t in targets
    ]
    scores = score_targets(tallies, specs, policy, dimension_specs)
    valid = sum(ballots_by_cat.values())

    def ticks(target: TargetInfo, item_type: str) -> tuple[ItemCount, ...]:
        out = []
        for item in items:
            if item.kind == target.kind and item.item_type == item_type:
                n = sum(sum(levels) for levels in item_counts.get(target.id, empty).get(item.id, empty).values())
                out.append(ItemCount(item.label, n, Fraction(n, valid) if valid else None))
        return tuple(out)

    def dimension_rows(target: TargetInfo, score) -> tuple[DimensionRow, ...]:
        labels = level_labels(target.kind)
        return tuple(
            DimensionRow(
                d.label,
                None if d.weight is None else _decimal(d.weight),
                d.result.counts,
                d.result.abstained,
                d.result.score,
                "—" if d.result.band is None else labels[d.result.band],
            )
            for d in score.dimensions
        )

    codes = tuple(info.code for _, info in categories)
    numbers: dict[str, int] = defaultdict(int)  # 序号 counts within each table (teams, leaders)

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
            name=t.name,
            title=t.title,
            levels=level_labels(t.kind),
            result=score,
            category_codes=codes,
            dimensions=dimension_rows(t, score),
            reverse=ticks(t, REVERSE),
            intent=ticks(t, INTENT),
        )
        for t, score in zip(targets, scores)
    )
    kinds = tuple(dict.fromkeys(t.kind for t in targets)) or (PERSON,)
    return RoundReport(
        meeting_id=heading.meeting_id,
        meeting_title=heading.meeting_title,
        meeting_place=heading.meeting_place,
        meeting_date=heading.meeting_date,
        round_id=heading.round_id,
        round_title=heading.round_title,
        round_state=heading.round_state,
        round_state_label=heading.round_state_label,
        opened_dt=heading.opened_dt,
        closed_dt=heading.closed_dt,
        published_dt=heading.published_dt,
        counts=counts,
        categories=tuple(info for _, info in categories),
        rows=rows,
        level_values=policy.values,
        abstain_as_zero=policy.abstain_as_zero,
        rules=tuple(scoring_rule_text(k, policy.values, policy.abstain_as_zero) for k in kinds)
        + tuple(dimension_rule_text(k, dimension_specs[k]) for k in kinds if dimension_specs[k]),
        problems=counts.problems(),
        generated_dt=now_utc(),
        rehearsal=heading.rehearsal,
    )


def _decimal(weight: Fraction) -> Decimal:
    """A stored weight back as the decimal it was entered as (Numeric(7, 3): exact)."""
    return Decimal(weight.numerator) / Decimal(weight.denominator)


def dimension_rule_text(kind: str, dimensions: list[DimensionSpec]) -> str:
    """R15, printed with the scoring rule: how the dimensions enter the score."""
    what = KIND_LABELS[kind]
    if any(d.weight for d in dimensions):
        parts = " ".join(f"{d.label}{plain_number(_decimal(d.weight or 0))}" for d in dimensions)
        return (
            f"分项计分（{what}）：各分项得分的计算方法同上；折合分 = Σ(分项权重 × 分项得分) ÷ Σ权重"
            f"（{parts}），某分项无评价时其权重按比例分配给其他分项；优秀率、称职及以上率按总体评价计算。"
        )
    names = "、".join(d.label for d in dimensions)
    return f"分项评价（{what}：{names}）仅作参考，折合分按总体评价计算。"


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
                "weighted_by_dimensions": r.result.weighted,
                "dimensions": [
                    {
                        "label": d.label,
                        "weight": None if d.weight is None else d.weight_text,
                        "counts": list(d.counts),
                        "abstained": d.abstained,
                        "score": None if d.score is None else d.score_text,
                        "score_exact": None if d.score is None else str(d.score),
                        "band": None if d.score is None else d.band_label,
                    }
                    for d in r.dimensions
                ],
                "reverse": [{"label": i.label, "count": i.count, "rate": i.rate_text} for i in r.reverse],
                "intent": [{"label": i.label, "count": i.count, "rate": i.rate_text} for i in r.intent],
            }
            for r in report.rows
        ],
        "rules": list(report.rules),
        "problems": list(report.problems),
        "rehearsal": report.rehearsal,
    }


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat() + "Z"
