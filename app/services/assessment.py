"""The composite table (综合考核结果): one function for the page, the PDF, the .xlsx and the
CLI (DOMAIN R1–R6, §7 "Composite table").

``assessment_report()`` reads the units, the 测评 results (through ``round_report``, the one
results function) and the 差额票决 outcomes (through ``selection_chain_outcome``), and hands
plain values to ``app.core.assessment``.

Ranks (R6 and the table): units by composite score within their group; leaders by composite
score among the leaders of their group's units. A unit without a team 测评 score is ranked by
its target score alone (composite = target score is not assumed; it shows "—").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import select

from ..core import assessment as core
from ..core.scales import round_half_up
from ..core.scoring import competition_ranks
from ..extensions import db
from ..models import HistoryRecord, Meeting, RoundState
from .results import round_report
from .units import groups_of, units_of


@dataclass(frozen=True)
class UnitRow:
    name: str
    group: str
    target_score: Decimal
    is_vetoed: bool
    veto_reason: str
    staff: int
    grade: str
    grade_label: str
    democratic: Decimal | None  # the team's 测评 score, 2 decimals
    composite: Decimal | None
    rank: int | None  # within the group, by composite
    group_size: int
    candidate: str  # "candidate", "tied" (the organizer decides), or ""
    outcome: str | None  # core.selection ELECTED / NOT_ELECTED / RUNOFF for candidates
    outcome_label: str  # 特优 / 优秀 / 待再次投票 / ""
    reward: Decimal | None  # None when no reward rate is set
    flags: tuple[str, ...]


@dataclass(frozen=True)
class LeaderRow:
    unit: str
    group: str
    name: str
    title: str
    is_principal: bool
    democratic: Decimal | None
    band: str
    composite: Decimal | None
    rank: int | None
    group_size: int
    flags: tuple[str, ...]


@dataclass(frozen=True)
class GroupRow:
    name: str
    places: int  # N as applied (all 达标 units when unset)
    seats: int  # K as applied (N/2 when unset)
    chosen: tuple[str, ...]
    tied: tuple[str, ...]
    open_places: int


@dataclass(frozen=True)
class AssessmentReport:
    meeting_id: int
    meeting_title: str
    year: int | None
    units: tuple[UnitRow, ...]
    leaders: tuple[LeaderRow, ...]
    groups: tuple[GroupRow, ...]
    weights: core.CompositeWeights
    reward_rule: core.RewardRule
    rules: tuple[str, ...]


def _shown(value: Fraction | None) -> Decimal | None:
    return None if value is None else round_half_up(value)


def democratic_scores(meeting: Meeting) -> dict[int, tuple[Fraction | None, str]]:
    """Target id → (exact 测评 score, band label) from the latest counted evaluation round
    that carries it (closed or published)."""
    scores: dict[int, tuple[Fraction | None, str]] = {}
    for round_ in meeting.rounds:
        if round_.is_selection or round_.state not in (RoundState.CLOSED, RoundState.PUBLISHED):
            continue
        for row in round_report(round_).rows:
            band = "" if row.result.band is None else row.levels[row.result.band]
            scores[row.target_id] = (row.result.score, band)
    return scores


def _ranks_within(groups: dict[str, list[int]], values: list[Fraction | None]) -> dict[int, tuple[int | None, int]]:
    out: dict[int, tuple[int | None, int]] = {}
    for indexes in groups.values():
        ranks = competition_ranks([values[i] for i in indexes])
        for i, rank in zip(indexes, ranks):
            out[i] = (rank, len(indexes))
    return out


def assessment_report(meeting: Meeting) -> AssessmentReport:
    """The composite table of a meeting's units and leaders (R1, R2, R3, R5, R6)."""
    from .selection import group_outcomes  # late: selection imports this module's helpers

    weights = core.CompositeWeights(
        principal=(meeting.principal_target_pct, 100 - meeting.principal_target_pct),
        member=(meeting.member_target_pct, 100 - meeting.member_target_pct),
    )
    grade_rule = core.GradeRule(meeting.grade_basic, meeting.grade_qualified)
    reward_rule = core.RewardRule(
        per_point=Decimal(meeting.reward_per_point or 0),
        basic_percent=meeting.reward_basic_pct,
        lump_excellent=Decimal(meeting.reward_lump_excellent or 0),
        lump_top=Decimal(meeting.reward_lump_top or 0),
    )
    units = units_of(meeting)
    scores = democratic_scores(meeting)
    teams = {t.unit: t for t in meeting.targets if t.kind == "team"}
    leaders = [t for t in meeting.targets if t.kind == "person"]

    grades = [core.unit_grade(Fraction(u.target_score), vetoed=u.is_vetoed, rule=grade_rule) for u in units]
    team_scores = [scores.get(teams[u.name].id, (None, ""))[0] if u.name in teams else None for u in units]
    composites = [
        None if d is None else core.composite(Fraction(u.target_score), d, is_principal=True, weights=weights)
        for u, d in zip(units, team_scores)
    ]
    by_group: dict[str, list[int]] = defaultdict(list)
    for i, u in enumerate(units):
        by_group[u.group_name].append(i)
    ranking_values = [c if c is not None else Fraction(u.target_score) for u, c in zip(units, composites)]
    unit_ranks = _ranks_within(by_group, ranking_values)

    group_rows = []
    candidate_state: dict[str, str] = {}
    standings = [core.UnitStanding(u.name, u.group_name, Fraction(u.target_score), g) for u, g in zip(units, grades)]
    settings = {g.name: g for g in groups_of(meeting)}
    places = {name: g.candidate_places for name, g in settings.items() if g.candidate_places}
    for name, group in core.candidates(standings, places).items():
        seats = settings[name].seats if name in settings and settings[name].seats else core.default_seats(group.places)
        group_rows.append(GroupRow(name, group.places, seats, tuple(group.chosen), tuple(group.tied), group.open_places))
        candidate_state.update({k: "candidate" for k in group.chosen})
        candidate_state.update({k: "tied" for k in group.tied})
    outcomes = group_outcomes(meeting)  # unit name → status, for units that stood in a 票决

    year = meeting.assessment_year
    last_year = _history(year - 1) if year else {}
    unit_rows = []
    for i, (u, grade) in enumerate(zip(units, grades)):
        rank, size = unit_ranks[i]
        outcome = outcomes.get(u.name)
        flags = core.history_flags(core.YearStanding(u.name, rank, size), last_year.get(("unit", u.name, "")))
        unit_rows.append(
            UnitRow(
                name=u.name,
                group=u.group_name,
                target_score=Decimal(u.target_score),
                is_vetoed=u.is_vetoed,
                veto_reason=u.veto_reason,
                staff=u.staff_count,
                grade=grade,
                grade_label=core.GRADE_LABELS[grade],
                democratic=_shown(team_scores[i]),
                composite=_shown(composites[i]),
                rank=rank,
                group_size=size,
                candidate=candidate_state.get(u.name, ""),
                outcome=outcome,
                outcome_label={"elected": "特优", "not_elected": "优秀", "runoff": "待再次投票"}.get(outcome or "", ""),
                reward=core.reward(Fraction(u.target_score), grade, u.staff_count, outcome if outcome != "runoff" else None, reward_rule)
                if reward_rule.per_point or reward_rule.lump_top or reward_rule.lump_excellent
                else None,
                flags=tuple(core.HISTORY_LABELS[f] for f in flags),
            )
        )

    unit_by_name = {u.name: u for u in units}
    leader_values: list[Fraction | None] = []
    leader_data = []
    for t in leaders:
        unit = unit_by_name.get(t.unit)
        democratic, band = scores.get(t.id, (None, ""))
        comp = (
            core.composite(Fraction(unit.target_score), democratic, is_principal=t.is_principal, weights=weights)
            if unit is not None and democratic is not None
            else None
        )
        leader_values.append(comp)
        leader_data.append((t, unit, democratic, band, comp))
    leader_groups: dict[str, list[int]] = defaultdict(list)
    for i, (_, unit, *_rest) in enumerate(leader_data):
        leader_groups[unit.group_name if unit else ""].append(i)
    leader_ranks = _ranks_within(leader_groups, leader_values)
    leader_rows = []
    for i, (t, unit, democratic, band, comp) in enumerate(leader_data):
        rank, size = leader_ranks[i]
        flags = core.history_flags(core.YearStanding(t.name, rank, size, band), last_year.get(("person", t.unit, t.name)))
        leader_rows.append(
            LeaderRow(
                unit=t.unit,
                group=unit.group_name if unit else "",
                name=t.name,
                title=t.title,
                is_principal=t.is_principal,
                democratic=_shown(democratic),
                band=band,
                composite=_shown(comp),
                rank=rank,
                group_size=size,
                flags=tuple(core.HISTORY_LABELS[f] for f in flags),
            )
        )
    rules = (
        f"综合得分：领导班子和党政主要负责人 = 综合目标考核得分 × {weights.principal[0]}% + 民主测评得分 × {weights.principal[1]}%；"
        f"其他班子成员 = 综合目标考核得分 × {weights.member[0]}% + 民主测评得分 × {weights.member[1]}%。",
        f"等次：一票否决或得分低于 {grade_rule.basic} 分为不达标；{grade_rule.basic}–{grade_rule.qualified} 分（不含 {grade_rule.qualified}）"
        f"为基本达标；{grade_rule.qualified} 分及以上为达标。“特优”候选：达标单位中按综合目标考核得分取各组前 N 名，差额票决产生。",
        "奖金 = 人均每分奖励标准 × 综合目标考核得分 × 编内在职职工人数；基本达标按 "
        f"{reward_rule.basic_percent}% 计发，不达标不奖；优秀、特优另加一次性奖励。",
        "排名：按综合得分在本组内排名（无测评得分的单位按综合目标考核得分）；连续两年列本组后两名或连续两年被评为基本称职的予以标记。",
    )
    return AssessmentReport(
        meeting_id=meeting.id,
        meeting_title=meeting.title,
        year=year,
        units=tuple(unit_rows),
        leaders=tuple(leader_rows),
        groups=tuple(group_rows),
        weights=weights,
        reward_rule=reward_rule,
        rules=rules,
    )


def _history(year: int) -> dict[tuple[str, str, str], core.YearStanding]:
    records = db.session.scalars(select(HistoryRecord).where(HistoryRecord.year == year))
    return {(r.kind, r.unit, r.name): core.YearStanding(r.name or r.unit, r.rank, r.size, r.band) for r in records}


def archive_year(meeting: Meeting, actor: str) -> int:
    """Keep this year's standings for next year's R6 flags (replacing an earlier archive of
    the same year). :return: the number of records written.
    :raises ValueError: when the meeting has no year."""
    from . import audit

    report = assessment_report(meeting)
    if report.year is None:
        raise ValueError("会议没有年度（请设置会议日期或年度）")
    db.session.execute(HistoryRecord.__table__.delete().where(HistoryRecord.year == report.year))
    records = [
        HistoryRecord(year=report.year, kind="unit", group_name=u.group, unit=u.name, name="", rank=u.rank, size=u.group_size)
        for u in report.units
    ] + [
        HistoryRecord(year=report.year, kind="person", group_name=l.group, unit=l.unit, name=l.name, rank=l.rank, size=l.group_size, band=l.band)
        for l in report.leaders
    ]
    db.session.add_all(records)
    audit.log(actor, "history.archive", meeting.id, year=report.year, records=len(records))
    db.session.commit()
    return len(records)
