"""Grades, candidates, rewards and history (DOMAIN R1, R2, R3, R5, R6)."""

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.assessment import (
    BASIC,
    BASIC_TWICE,
    LAST_TWO,
    QUALIFIED,
    UNQUALIFIED,
    RewardRule,
    UnitStanding,
    YearStanding,
    candidates,
    default_seats,
    history_flags,
    reward,
    unit_grade,
)


def test_grades_with_veto_and_thresholds():
    """R2: veto → 不达标; < 80 不达标; 80 ≤ s < 90 基本达标; ≥ 90 达标."""
    assert unit_grade(Fraction(95), vetoed=True) == UNQUALIFIED
    assert unit_grade(Fraction("79.99"), vetoed=False) == UNQUALIFIED
    assert unit_grade(Fraction(80), vetoed=False) == BASIC
    assert unit_grade(Fraction("89.99"), vetoed=False) == BASIC
    assert unit_grade(Fraction(90), vetoed=False) == QUALIFIED


def standing(key, score, group="部门组", grade=QUALIFIED):
    return UnitStanding(key, group, Fraction(score), grade)


def test_top_n_of_each_group_among_qualified_units():
    """R3: only 达标 units; top N per group by score."""
    units = [standing("a", 98), standing("b", 96), standing("c", 95, grade=BASIC), standing("d", 93), standing("t1", 97, "乡镇组")]
    result = candidates(units, {"部门组": 2, "乡镇组": 4})
    assert result["部门组"].chosen == ("a", "b") and result["部门组"].settled
    assert result["乡镇组"].chosen == ("t1",)


def test_a_tie_at_the_nth_place_is_shown_not_dropped():
    """R3: b, c and d tie for the last two of three places → the organizer chooses two."""
    units = [standing("a", 98), standing("b", 95), standing("c", 95), standing("d", 95), standing("e", 91)]
    group = candidates(units, {"部门组": 3})["部门组"]
    assert group.chosen == ("a",) and set(group.tied) == {"b", "c", "d"} and group.open_places == 2
    assert not group.settled


def test_default_seats_half():
    """R4: 18 → 9, 8 → 4."""
    assert (default_seats(18), default_seats(8), default_seats(7)) == (9, 4, 3)


def test_reward_rules():
    """R5: rate × score × staff; 基本达标 at 80%; 不达标 none; lump sums on top."""
    rule = RewardRule(per_point=Decimal("10"), basic_percent=80, lump_excellent=Decimal(30000), lump_top=Decimal(40000))
    assert reward(Fraction(92), QUALIFIED, 20, None, rule) == Decimal("18400.00")
    assert reward(Fraction(85), BASIC, 20, None, rule) == Decimal("13600.00")
    assert reward(Fraction(70), UNQUALIFIED, 20, None, rule) == Decimal("0.00")
    assert reward(Fraction(95), QUALIFIED, 20, "elected", rule) == Decimal("59000.00")
    assert reward(Fraction(95), QUALIFIED, 20, "not_elected", rule) == Decimal("49000.00")


def test_history_flags():
    """R6: last two of the group two years running; 基本称职 two years running."""
    assert history_flags(YearStanding("x", 9, 10), YearStanding("x", 10, 10)) == (LAST_TWO,)
    assert history_flags(YearStanding("x", 8, 10), YearStanding("x", 10, 10)) == ()
    assert history_flags(YearStanding("x", 1, 5, "基本称职"), YearStanding("x", 2, 5, "基本称职")) == (BASIC_TWICE,)
    assert history_flags(YearStanding("x", 2, 2), YearStanding("x", 2, 2)) == ()  # groups of two: no flag
    assert history_flags(YearStanding("x", 9, 10), None) == ()


@settings(max_examples=200)
@given(st.lists(st.integers(min_value=70, max_value=100), min_size=1, max_size=25), st.integers(min_value=0, max_value=25))
def test_candidates_never_exceed_n_and_include_every_unit_above_the_cut(scores, n):
    units = [standing(f"u{i}", s, grade=unit_grade(Fraction(s), vetoed=False)) for i, s in enumerate(scores)]
    group = candidates(units, {"部门组": n}).get("部门组")
    qualified = [u for u in units if u.grade == QUALIFIED]
    assert len(group.chosen) + group.open_places <= max(n, 0)
    if group.tied:
        assert group.open_places < len(group.tied)
    chosen_scores = [u.score for u in units if u.key in group.chosen]
    others = [u.score for u in qualified if u.key not in group.chosen and u.key not in group.tied]
    if chosen_scores and others:
        assert min(chosen_scores) > max(others)
