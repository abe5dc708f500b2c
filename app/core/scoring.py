"""Turning 测评 vote counts into scores, bands, rates, flags and ranks (DOMAIN R12–R17).

Policy, stated once here and cited by the tests:

- R13 item score: ``Σ count × value ÷ marked``. Abstentions (弃权: a ballot that left the target
  unmarked) are counted and reported but left out of the denominator, unless the meeting chose
  ``abstain_as_zero``, in which case they count as a mark worth 0.
- R14 categories: ``score = Σ weight × category score ÷ Σ weight`` over the categories that
  marked the target. Dividing by the sum of the weights in play re-spreads the weight of a
  category with no marks over the others in proportion, and makes the score independent of the
  weights' scale. Such categories are listed in ``respread`` so reports can say so.
- R16 bands on the score rounded half up to 2 decimals; ranks follow the exact score, highest
  first, equal scores share a rank and the next rank is skipped (1, 2, 2, 4). Targets nobody
  marked have no score, no band and no rank.
- R15 dimensions: each dimension item is scored like the overall grade (R13, R14). When the
  round gives the dimensions weights, the headline score is ``Σ weight × dimension score ÷
  Σ weight`` over the dimensions that were marked (a dimension nobody marked re-spreads its
  weight, as a category does); otherwise the overall grade drives the score and the
  dimensions are informative.
- R17 rates use plain counts of the overall grade over all categories; flags inform and never
  change a band.

Everything is exact (``fractions.Fraction``); rounding happens only for display.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from .scales import BAND_FLOORS, DEFAULT_LEVEL_VALUES, LEVEL_COUNT, band_of, round_half_up

LOW_APPROVAL = "LOW_APPROVAL"
HIGH_DISAPPROVAL = "HIGH_DISAPPROVAL"
FLAG_LABELS = {LOW_APPROVAL: "称职及以上率低于2/3", HIGH_DISAPPROVAL: "不称职（差）票超过1/3"}

Counts = tuple[int, int, int, int]


@dataclass(frozen=True)
class CategorySpec:
    """A voter category (R14) with its weight; any positive scale (30 or 0.3) works."""

    key: Hashable
    weight: Fraction


@dataclass(frozen=True)
class TargetTally:
    """What the ballots say about one target, per category.

    :param counts: per category key, the number of marks for each level (best first).
    :param ballots: per category key, the number of valid ballots cast in that category; the
        difference to the marks is the number of abstentions.
    """

    key: Hashable
    kind: str
    counts: Mapping[Hashable, Sequence[int]]
    ballots: Mapping[Hashable, int]
    #: R15: per dimension key, counts per category key (like ``counts``).
    dimensions: Mapping[Hashable, Mapping[Hashable, Sequence[int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class DimensionSpec:
    """A dimension item (R15) of a target kind, with its weight or None."""

    key: Hashable
    label: str
    weight: Fraction | None = None


def dimensions_weighted(specs: Sequence[DimensionSpec]) -> bool:
    """R15: the dimensions drive the headline score when any of them carries a weight > 0
    (a dimension without a weight then counts with weight 0)."""
    return any(spec.weight for spec in specs)


@dataclass(frozen=True)
class CategoryScore:
    key: Hashable
    counts: Counts
    abstained: int
    marked: int
    score: Fraction | None  # None: nobody in this category marked the target


@dataclass(frozen=True)
class TargetScore:
    key: Hashable
    kind: str
    counts: Counts
    abstained: int
    marked: int
    score: Fraction | None
    band: int | None
    excellent_rate: Fraction | None
    approval_rate: Fraction | None
    flags: tuple[str, ...]
    categories: tuple[CategoryScore, ...]
    respread: tuple[Hashable, ...]
    rank: int | None = None
    dimensions: tuple["DimensionScore", ...] = ()
    weighted: bool = False  # R15: the score is the dimensions' weighted sum

    @property
    def score_shown(self) -> Decimal | None:
        """The score as printed: 2 decimals, half up (R16)."""
        return None if self.score is None else round_half_up(self.score)


@dataclass(frozen=True)
class ScoringPolicy:
    """Per-meeting settings of R12, R13 and R16."""

    values: tuple[int, ...] = DEFAULT_LEVEL_VALUES
    abstain_as_zero: bool = False
    band_floors: tuple[int, ...] = field(default=BAND_FLOORS)

    def __post_init__(self) -> None:
        if len(self.values) != LEVEL_COUNT:
            raise ValueError("a scale has exactly four level values")


@dataclass(frozen=True)
class DimensionScore:
    """One dimension of one target: scored exactly like the overall grade (R13, R14)."""

    key: Hashable
    label: str
    weight: Fraction | None
    result: TargetScore


def _as_counts(raw: Sequence[int]) -> Counts:
    if len(raw) != LEVEL_COUNT or any(c < 0 for c in raw):
        raise ValueError(f"counts must be four non-negative integers, got {raw!r}")
    return (int(raw[0]), int(raw[1]), int(raw[2]), int(raw[3]))


def category_score(counts: Counts, ballots: int, policy: ScoringPolicy) -> tuple[Fraction | None, int, int]:
    """Score of one target within one category (R13).

    :return: ``(score, marked, abstained)``; score is None when the denominator is zero.
    :raises ValueError: when there are more marks than ballots.
    """
    marked = sum(counts)
    abstained = ballots - marked
    if abstained < 0:
        raise ValueError(f"{marked} marks but only {ballots} ballots")
    denominator = ballots if policy.abstain_as_zero else marked
    if denominator == 0:
        return None, marked, abstained
    total = sum(count * value for count, value in zip(counts, policy.values))
    return Fraction(total, denominator), marked, abstained


def score_target(
    tally: TargetTally,
    categories: Sequence[CategorySpec],
    policy: ScoringPolicy,
    dimensions: Sequence[DimensionSpec] = (),
) -> TargetScore:
    """Score one target across the voter categories (R13, R14, R16, R17) and, when the round
    asks them, its dimension items (R15).

    :param categories: every category of the meeting, so that categories without ballots are
        reported as re-spread too.
    :param dimensions: the dimension items of the target's kind, in ballot order.
    """
    overall = _score_grade(tally, categories, policy)
    if not dimensions:
        return overall
    from dataclasses import replace

    scored = tuple(
        DimensionScore(
            spec.key,
            spec.label,
            spec.weight,
            _score_grade(TargetTally(spec.key, tally.kind, tally.dimensions.get(spec.key, {}), tally.ballots), categories, policy),
        )
        for spec in dimensions
    )
    if not dimensions_weighted(dimensions):
        return replace(overall, dimensions=scored)
    weighted = Fraction(0)
    weight_in_play = Fraction(0)
    for dim in scored:
        if dim.weight and dim.result.score is not None:
            weighted += dim.weight * dim.result.score
            weight_in_play += dim.weight
    score = weighted / weight_in_play if weight_in_play else None
    return replace(
        overall,
        score=score,
        band=None if score is None else band_of(score, policy.band_floors),
        dimensions=scored,
        weighted=True,
    )


def _score_grade(tally: TargetTally, categories: Sequence[CategorySpec], policy: ScoringPolicy) -> TargetScore:
    """One four-level question (the overall grade, or a dimension) across categories."""
    per_category: list[CategoryScore] = []
    weighted = Fraction(0)
    weight_in_play = Fraction(0)
    respread: list[Hashable] = []
    totals = [0, 0, 0, 0]
    for spec in categories:
        counts = _as_counts(tally.counts.get(spec.key, (0, 0, 0, 0)))
        ballots = int(tally.ballots.get(spec.key, 0))
        score, marked, abstained = category_score(counts, ballots, policy)
        per_category.append(CategoryScore(spec.key, counts, abstained, marked, score))
        for i in range(LEVEL_COUNT):
            totals[i] += counts[i]
        if score is None or spec.weight <= 0:
            if spec.weight > 0:
                respread.append(spec.key)
            continue
        weighted += spec.weight * score
        weight_in_play += spec.weight
    counts = _as_counts(totals)
    marked = sum(counts)
    abstained = sum(c.abstained for c in per_category)
    score = weighted / weight_in_play if weight_in_play else None
    # A target nobody marked re-spreads nothing: there is nothing to spread onto.
    if score is None:
        respread = []
    excellent = Fraction(counts[0], marked) if marked else None
    approval = Fraction(counts[0] + counts[1], marked) if marked else None
    flags: list[str] = []
    if approval is not None and approval < Fraction(2, 3):
        flags.append(LOW_APPROVAL)
    if marked and Fraction(counts[3], marked) > Fraction(1, 3):
        flags.append(HIGH_DISAPPROVAL)
    return TargetScore(
        key=tally.key,
        kind=tally.kind,
        counts=counts,
        abstained=abstained,
        marked=marked,
        score=score,
        band=None if score is None else band_of(score, policy.band_floors),
        excellent_rate=excellent,
        approval_rate=approval,
        flags=tuple(flags),
        categories=tuple(per_category),
        respread=tuple(respread),
    )


def competition_ranks(scores: Sequence[Fraction | None]) -> list[int | None]:
    """Standard competition ranking, highest first (R16): equal scores share a rank and the
    next rank is skipped (1, 2, 2, 4). ``None`` (no score) gets no rank.
    """
    ranks: list[int | None] = [None] * len(scores)
    present = sorted((s for s in scores if s is not None), reverse=True)
    first_position: dict[Fraction, int] = {}
    for position, value in enumerate(present, start=1):
        first_position.setdefault(value, position)
    for i, value in enumerate(scores):
        if value is not None:
            ranks[i] = first_position[value]
    return ranks


def score_targets(
    tallies: Sequence[TargetTally],
    categories: Sequence[CategorySpec],
    policy: ScoringPolicy,
    dimensions: Mapping[str, Sequence[DimensionSpec]] | None = None,
) -> tuple[TargetScore, ...]:
    """Score every target and rank them within their kind (teams and leaders apart), R13–R17.

    :param dimensions: per target kind, its dimension items (R15); none by default.
    The result keeps the order of ``tallies`` (the ballot order); ``rank`` carries the ranking.
    """
    dimensions = dimensions or {}
    scored = [score_target(t, categories, policy, dimensions.get(t.kind, ())) for t in tallies]
    ranked: list[TargetScore | None] = [None] * len(scored)
    for kind in dict.fromkeys(s.kind for s in scored):
        positions = [i for i, s in enumerate(scored) if s.kind == kind]
        ranks = competition_ranks([scored[i].score for i in positions])
        for i, rank in zip(positions, ranks):
            ranked[i] = _with_rank(scored[i], rank)
    return tuple(r for r in ranked if r is not None)


def _with_rank(score: TargetScore, rank: int | None) -> TargetScore:
    from dataclasses import replace

    return replace(score, rank=rank)


@dataclass(frozen=True)
class RoundCounts:
    """R19: the six counts every round reports."""

    expected: int  # 应到
    present: int  # 实到
    issued: int  # 发出
    returned: int  # 收回
    valid: int  # 有效
    invalid: int  # 无效
    paper: int = 0  # 纸质录入 (§6), part of 收回

    def problems(self) -> tuple[str, ...]:
        """Broken R19 invariants, in Chinese, for the report; empty when all hold."""
        found = []
        if self.returned > self.issued:
            found.append(f"收回 {self.returned} 超过发出 {self.issued}")
        if self.valid + self.invalid != self.returned:
            found.append(f"有效 {self.valid} + 无效 {self.invalid} ≠ 收回 {self.returned}")
        return tuple(found)


def percent(rate: Fraction | None) -> Decimal | None:
    """A rate as a percentage with 2 decimals, half up (46.00 for 23/50)."""
    return None if rate is None else round_half_up(rate * 100)
