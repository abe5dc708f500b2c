"""Scores, bands, rates, flags and ranks (DOMAIN R12–R17), with the worked example of §4."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.assessment import CompositeWeights, composite
from app.core.scales import ZERO_BOTTOM_LEVEL_VALUES, band_of, round_half_up
from app.core.scoring import (
    HIGH_DISAPPROVAL,
    LOW_APPROVAL,
    CategorySpec,
    DimensionSpec,
    RoundCounts,
    ScoringPolicy,
    TargetTally,
    competition_ranks,
    percent,
    score_target,
    score_targets,
)

CATS = [CategorySpec("A", Fraction(30)), CategorySpec("B", Fraction(40)), CategorySpec("C", Fraction(30))]
ZHANG_SAN = TargetTally(
    "张三",
    "person",
    counts={"A": (8, 2, 0, 0), "B": (10, 8, 2, 0), "C": (5, 10, 4, 1)},
    ballots={"A": 10, "B": 20, "C": 22},  # C: 2 abstentions
)


def test_worked_example_of_domain_section_4():
    """R13, R14, R16, R17: 张三 scores 87.70 → 称职; 优秀率 46.00%, 称职及以上率 86.00%."""
    result = score_target(ZHANG_SAN, CATS, ScoringPolicy())
    by_cat = {c.key: c.score for c in result.categories}
    assert by_cat == {"A": 96, "B": 88, "C": 79}
    assert result.score == Fraction("87.7")
    assert result.score_shown == Decimal("87.70")
    assert result.band == 1  # 称职
    assert percent(result.excellent_rate) == Decimal("46.00")
    assert percent(result.approval_rate) == Decimal("86.00")
    assert result.abstained == 2 and result.marked == 50
    assert result.flags == () and result.respread == ()


def test_worked_example_composite():
    """R1: as a member 92×0.4 + 87.7×0.6 = 89.42; as principal 92×0.6 + 87.7×0.4 = 90.28."""
    assert round_half_up(composite(Fraction(92), Fraction("87.7"), is_principal=False)) == Decimal("89.42")
    assert round_half_up(composite(Fraction(92), Fraction("87.7"), is_principal=True)) == Decimal("90.28")
    with pytest.raises(ValueError):
        CompositeWeights(principal=(70, 40))


def test_abstentions_can_count_as_zero():
    """R13 (configurable): with abstain_as_zero C is 1580/22, not 1580/20."""
    result = score_target(ZHANG_SAN, CATS, ScoringPolicy(abstain_as_zero=True))
    assert {c.key: c.score for c in result.categories}["C"] == Fraction(1580, 22)


def test_zero_bottom_preset():
    """R12 preset 差 = 0."""
    tally = TargetTally("t", "team", {"A": (0, 0, 0, 2)}, {"A": 2})
    assert score_target(tally, CATS[:1], ScoringPolicy(values=ZERO_BOTTOM_LEVEL_VALUES)).score == 0


def test_category_without_marks_has_its_weight_respread_and_reported():
    """R14: B marked nothing, so A and C share its weight 30:30 and the report says so."""
    tally = TargetTally("t", "person", {"A": (10, 0, 0, 0), "C": (0, 10, 0, 0)}, {"A": 10, "B": 5, "C": 10})
    result = score_target(tally, CATS, ScoringPolicy())
    assert result.score == 90
    assert result.respread == ("B",)


def test_nobody_marked_means_no_score_band_or_rank():
    """R13: all abstained → no score; nothing is re-spread onto nothing."""
    tally = TargetTally("t", "team", {}, {"A": 3})
    (result,) = score_targets([tally], CATS, ScoringPolicy())
    assert (result.score, result.band, result.rank, result.respread) == (None, None, None, ())
    assert result.abstained == 3


@pytest.mark.parametrize(
    ("score", "band"),
    [("100", 0), ("90", 0), ("89.995", 0), ("89.994", 1), ("80", 1), ("79.999", 1), ("79.994", 2), ("60", 2), ("59.99", 3), ("0", 3)],
)
def test_bands_on_the_score_rounded_half_up(score, band):
    """R16: bands are decided on the 2-decimal half-up rounding (89.995 → 90.00 → top band)."""
    assert band_of(Fraction(score)) == band


def test_rounding_is_exact_half_up():
    """R16: no binary floating point: 2.675 → 2.68, 1/3 → 0.33, 2/3 → 0.67."""
    assert round_half_up(Fraction("2.675")) == Decimal("2.68")
    assert round_half_up(Fraction(1, 3)) == Decimal("0.33")
    assert round_half_up(Fraction(2, 3)) == Decimal("0.67")


def test_flags_inform_without_changing_the_band():
    """R17: LOW_APPROVAL when 称职及以上率 < 2/3; HIGH_DISAPPROVAL when 不称职 > 1/3."""
    tally = TargetTally("t", "person", {"A": (1, 0, 0, 2)}, {"A": 3})
    result = score_target(tally, CATS[:1], ScoringPolicy())
    assert set(result.flags) == {LOW_APPROVAL, HIGH_DISAPPROVAL}
    assert result.band == band_of(result.score)
    # exactly 2/3 approval and exactly 1/3 disapproval raise no flag
    edge = score_target(TargetTally("t", "person", {"A": (2, 0, 0, 1)}, {"A": 3}), CATS[:1], ScoringPolicy())
    assert edge.flags == ()


def test_competition_ranking_shares_and_skips():
    """R16: equal scores share a rank and the next rank is skipped (1, 2, 2, 4)."""
    scores = [Fraction(90), Fraction(85), Fraction(85), Fraction(80), None]
    assert competition_ranks(scores) == [1, 2, 2, 4, None]


def test_teams_and_leaders_are_ranked_apart():
    tallies = [
        TargetTally("team1", "team", {"A": (1, 0, 0, 0)}, {"A": 1}),
        TargetTally("p1", "person", {"A": (0, 1, 0, 0)}, {"A": 1}),
        TargetTally("team2", "team", {"A": (0, 0, 1, 0)}, {"A": 1}),
    ]
    ranks = {r.key: r.rank for r in score_targets(tallies, CATS[:1], ScoringPolicy())}
    assert ranks == {"team1": 1, "p1": 1, "team2": 2}


def test_more_marks_than_ballots_is_refused():
    with pytest.raises(ValueError):
        score_target(TargetTally("t", "team", {"A": (3, 0, 0, 0)}, {"A": 2}), CATS[:1], ScoringPolicy())


def test_round_counts_invariants():
    """R19: 收回 ≤ 发出 and 有效 + 无效 = 收回 are checked and reported."""
    assert RoundCounts(30, 30, 30, 20, 19, 1).problems() == ()
    assert len(RoundCounts(30, 30, 10, 20, 19, 0).problems()) == 2


# --- properties (hypothesis) -------------------------------------------------------------

levels = st.integers(min_value=0, max_value=4)  # 4 = abstain
ballot_lists = st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), levels), min_size=1, max_size=60)


def tally_of(ballots) -> TargetTally:
    counts: dict[str, list[int]] = {}
    totals: dict[str, int] = {}
    for cat, level in ballots:
        totals[cat] = totals.get(cat, 0) + 1
        if level < 4:
            counts.setdefault(cat, [0, 0, 0, 0])[level] += 1
    return TargetTally("t", "person", {k: tuple(v) for k, v in counts.items()}, totals)


@settings(max_examples=200)
@given(ballot_lists, st.randoms())
def test_ballot_order_does_not_matter(ballots, rnd):
    """R13: the tally is a sum; shuffling the ballots changes nothing."""
    shuffled = list(ballots)
    rnd.shuffle(shuffled)
    assert score_target(tally_of(ballots), CATS, ScoringPolicy()) == score_target(tally_of(shuffled), CATS, ScoringPolicy())


@settings(max_examples=200)
@given(ballot_lists, st.fractions(min_value=Fraction(1, 100), max_value=1000))
def test_scaling_every_weight_changes_no_score(ballots, factor):
    """R14: weights 30/40/30 and 0.3/0.4/0.3 (or any multiple) give the same score."""
    scaled = [CategorySpec(c.key, c.weight * factor) for c in CATS]
    assert score_target(tally_of(ballots), CATS, ScoringPolicy()).score == score_target(tally_of(ballots), scaled, ScoringPolicy()).score


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=3), st.lists(st.sampled_from(["A", "B", "C"]), min_size=1, max_size=40))
def test_all_one_level_lands_in_that_levels_band(level, cats):
    """R12 + R16: unanimous ballots score the level's value and fall in its band."""
    result = score_target(tally_of([(c, level) for c in cats]), CATS, ScoringPolicy())
    assert result.score == ScoringPolicy().values[level]
    assert result.band == level


@settings(max_examples=200)
@given(ballot_lists, st.sampled_from(["A", "B", "C"]))
def test_a_category_without_marks_has_its_weight_respread(ballots, silent):
    """R14: dropping a category's marks equals scoring with the others' weights alone."""
    without = [(c, lv) for c, lv in ballots if c != silent] + [(silent, 4)]
    others = [c for c in CATS if c.key != silent]
    full = score_target(tally_of(without), CATS, ScoringPolicy())
    alone = score_target(tally_of([b for b in without if b[0] != silent]), others, ScoringPolicy())
    assert full.score == alone.score
    if full.score is not None:
        assert silent in full.respread


@settings(max_examples=200)
@given(ballot_lists)
def test_score_stays_within_the_level_values(ballots):
    result = score_target(tally_of(ballots), CATS, ScoringPolicy())
    if result.score is not None:
        assert 40 <= result.score <= 100


def test_stored_utc_times_print_in_the_halls_zone(monkeypatch):
    from datetime import datetime

    from app.core.times import local

    monkeypatch.delenv("CEPING_TIMEZONE", raising=False)
    assert local(datetime(2026, 12, 1, 1, 30)).strftime("%H:%M") == "09:30"  # China Standard Time
    monkeypatch.setenv("CEPING_TIMEZONE", "UTC")
    assert local(datetime(2026, 12, 1, 1, 30)).strftime("%H:%M") == "01:30"
    assert local(None) is None


# ------------------------------------------------------------------------------------------
# R15: dimension items
# ------------------------------------------------------------------------------------------

_DNQJL = [DimensionSpec("德", "德", Fraction(15)), DimensionSpec("能", "能", Fraction(10)), DimensionSpec("勤", "勤", Fraction(30)),
          DimensionSpec("绩", "绩", Fraction(30)), DimensionSpec("廉", "廉", Fraction(15))]


def _dimension_tally(per_dimension: dict, overall=(10, 0, 0, 0)) -> TargetTally:
    return TargetTally("t", "person", {"A": overall}, {"A": 10}, {key: {"A": counts} for key, counts in per_dimension.items()})


def test_weighted_dimensions_drive_the_headline_score():
    """R15: with weights 德15 能10 勤30 绩30 廉15 the score is Σ weight × dimension score ÷ Σ
    weight — here (15×100 + 10×80 + 30×90 + 30×60 + 15×100) ÷ 100 = 83 → 称职 — although
    every overall grade was 优秀; the rates (R17) still follow the overall grade."""
    tally = _dimension_tally({"德": (10, 0, 0, 0), "能": (0, 10, 0, 0), "勤": (5, 5, 0, 0), "绩": (0, 0, 10, 0), "廉": (10, 0, 0, 0)})
    result = score_target(tally, [CategorySpec("A", Fraction(1))], ScoringPolicy(), _DNQJL)
    assert result.weighted and result.score == 83 and result.band == 1
    assert [d.result.score for d in result.dimensions] == [100, 80, 90, 60, 100]
    assert result.excellent_rate == 1 and result.counts == (10, 0, 0, 0)


def test_unweighted_dimensions_are_informative_only():
    """R15: without weights the overall grade drives the score; the dimensions are reported."""
    specs = [DimensionSpec(d.key, d.label, None) for d in _DNQJL]
    tally = _dimension_tally({"德": (0, 0, 0, 10)})
    result = score_target(tally, [CategorySpec("A", Fraction(1))], ScoringPolicy(), specs)
    assert not result.weighted and result.score == 100 and result.band == 0
    assert result.dimensions[0].result.score == 40 and result.dimensions[1].result.score is None


def test_an_unmarked_dimension_re_spreads_its_weight():
    """R15 (like R14): a dimension nobody marked drops out and the others share its weight."""
    tally = _dimension_tally({"德": (10, 0, 0, 0), "能": (0, 10, 0, 0)})
    result = score_target(tally, [CategorySpec("A", Fraction(1))], ScoringPolicy(), _DNQJL[:3])
    assert result.score == Fraction(15 * 100 + 10 * 80, 25)


def test_dimension_abstentions_follow_the_policy():
    """R13 per dimension: abstentions are left out of the denominator, or count 0 when chosen."""
    tally = _dimension_tally({"德": (5, 0, 0, 0)})
    keep = score_target(tally, [CategorySpec("A", Fraction(1))], ScoringPolicy(), _DNQJL[:1])
    zero = score_target(tally, [CategorySpec("A", Fraction(1))], ScoringPolicy(abstain_as_zero=True), _DNQJL[:1])
    assert keep.score == 100 and zero.score == 50
    assert keep.dimensions[0].result.abstained == 5
