"""The annual assessment around the votes (DOMAIN §2): composite scores (R1), unit grades
(R2), 特优 candidates (R3), rewards (R5) and the two-year history flags (R6).

Everything is exact (``Fraction``/``Decimal``); the organizer changes every threshold, weight
and amount per meeting, the defaults being the seed's.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from .scoring import competition_ranks


@dataclass(frozen=True)
class CompositeWeights:
    """R1: (target share, democratic share) in percent for each role; defaults from the seed."""

    principal: tuple[int, int] = (60, 40)  # 班子 and 党政主要负责人
    member: tuple[int, int] = (40, 60)  # 其他班子成员

    def __post_init__(self) -> None:
        for pair in (self.principal, self.member):
            if sum(pair) != 100 or min(pair) < 0:
                raise ValueError("composite weights must be two non-negative shares summing to 100")


def composite(target: Fraction, democratic: Fraction, *, is_principal: bool, weights: CompositeWeights = CompositeWeights()) -> Fraction:
    """R1: ``target × t% + democratic × d%``, exactly.

    :param is_principal: True for a team and for a unit's principal leaders (党政主要负责人).
    """
    t, d = weights.principal if is_principal else weights.member
    return (Fraction(target) * t + Fraction(democratic) * d) / 100


# --- R2 unit grades --------------------------------------------------------------------------

UNQUALIFIED = "unqualified"  # 不达标
BASIC = "basic"  # 基本达标
QUALIFIED = "qualified"  # 达标
GRADE_LABELS = {UNQUALIFIED: "不达标", BASIC: "基本达标", QUALIFIED: "达标"}


@dataclass(frozen=True)
class GradeRule:
    """R2 thresholds: score < basic → 不达标; basic ≤ score < qualified → 基本达标; else 达标."""

    basic: int = 80
    qualified: int = 90


def unit_grade(score: Fraction, *, vetoed: bool, rule: GradeRule = GradeRule()) -> str:
    """R2: a veto (一票否决) or a score under 80 is 不达标; 80 ≤ score < 90 基本达标; ≥ 90 达标.

    Decided on the exact score as entered (0–100, at most 2 decimals), not on a rounding.
    """
    if vetoed or score < rule.basic:
        return UNQUALIFIED
    if score < rule.qualified:
        return BASIC
    return QUALIFIED


# --- R3 candidates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitStanding:
    key: Hashable
    group: str
    score: Fraction  # 综合目标考核得分: candidates are ranked by it (seed: 考核得分前18名)
    grade: str


@dataclass(frozen=True)
class GroupCandidates:
    """R3 for one group. ``chosen`` are candidates outright; when units tie across the N-th
    place, ``tied`` lists them and ``open_places`` says how many of them the organizer must
    choose — a tie is shown, never dropped silently."""

    group: str
    places: int  # N
    chosen: tuple[Hashable, ...]  # ranked, best first
    tied: tuple[Hashable, ...] = ()
    open_places: int = 0
    ranks: Mapping[Hashable, int] = field(default_factory=dict)  # rank among the group's 达标 units

    @property
    def settled(self) -> bool:
        return not self.tied


def candidates(standings: Sequence[UnitStanding], places: Mapping[str, int]) -> dict[str, GroupCandidates]:
    """R3: within 达标 units, the top N of each group by score.

    :param places: N per group; a group missing here takes all its 达标 units.
    :return: per group, in the order groups first appear.
    """
    out: dict[str, GroupCandidates] = {}
    for group in dict.fromkeys(s.group for s in standings):
        qualified = sorted((s for s in standings if s.group == group and s.grade == QUALIFIED), key=lambda s: -s.score)
        n = places.get(group, len(qualified))
        ranks = dict(zip((s.key for s in qualified), competition_ranks([s.score for s in qualified])))
        if n <= 0 or not qualified:
            out[group] = GroupCandidates(group, max(n, 0), (), ranks=ranks)
            continue
        if n >= len(qualified):
            out[group] = GroupCandidates(group, n, tuple(s.key for s in qualified), ranks=ranks)
            continue
        cut = qualified[n - 1].score
        above = tuple(s.key for s in qualified if s.score > cut)
        at_cut = tuple(s.key for s in qualified if s.score == cut)
        if len(above) + len(at_cut) <= n:
            out[group] = GroupCandidates(group, n, above + at_cut, ranks=ranks)
        else:
            out[group] = GroupCandidates(group, n, above, tied=at_cut, open_places=n - len(above), ranks=ranks)
    return out


def default_seats(candidate_count: int) -> int:
    """R4: at a 2:1 ratio the top half become 特优 (18 → 9, 8 → 4); odd counts round down."""
    return candidate_count // 2


# --- R5 rewards ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RewardRule:
    """R5: ``per_point × score × staff``; 基本达标 units at ``basic_percent`` of the rate,
    不达标 none; 优秀 / 特优 units a lump sum on top (seed: 3–4 万元)."""

    per_point: Decimal = Decimal(0)
    basic_percent: int = 80
    lump_excellent: Decimal = Decimal(0)  # 优秀
    lump_top: Decimal = Decimal(0)  # 特优


def reward(score: Fraction, grade: str, staff: int, outcome: str | None, rule: RewardRule) -> Decimal:
    """The unit's reward in yuan, rounded half up to the fen (R5).

    :param outcome: "elected" (特优), "not_elected" (优秀, a candidate who did not win), or None.
    """
    if grade == UNQUALIFIED:
        base = Fraction(0)
    else:
        rate = Fraction(rule.per_point) * (Fraction(rule.basic_percent, 100) if grade == BASIC else 1)
        base = rate * Fraction(score) * staff
    lump = {"elected": rule.lump_top, "not_elected": rule.lump_excellent}.get(outcome or "", Decimal(0))
    total = base + Fraction(lump)
    return (Decimal(total.numerator) / Decimal(total.denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- R6 history ------------------------------------------------------------------------------

LAST_TWO = "LAST_TWO_TWICE"
BASIC_TWICE = "BASIC_COMPETENT_TWICE"
HISTORY_LABELS = {LAST_TWO: "连续两年列本组后两名", BASIC_TWICE: "连续两年被评为基本称职"}


@dataclass(frozen=True)
class YearStanding:
    """One unit's or leader's place in a year: rank within its group (1 = best) of ``size``,
    and, for leaders, the 测评 band label (e.g. 基本称职)."""

    key: Hashable
    rank: int | None
    size: int
    band: str = ""

    @property
    def in_last_two(self) -> bool:
        return self.rank is not None and self.size >= 3 and self.rank >= self.size - 1


def history_flags(this_year: YearStanding, last_year: YearStanding | None) -> tuple[str, ...]:
    """R6: in the last two places of the group two years running, or graded 基本称职 two years
    running. Groups of fewer than three are never "last two" (everyone would be).
    Flags are for the organizer's attention; they change no grade.
    """
    if last_year is None:
        return ()
    flags = []
    if this_year.in_last_two and last_year.in_last_two:
        flags.append(LAST_TWO)
    if this_year.band == "基本称职" and last_year.band == "基本称职":
        flags.append(BASIC_TWICE)
    return tuple(flags)
