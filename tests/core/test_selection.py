"""差额票决 in the core: validity, ranking, ties across the cut, runoffs, majority
(DOMAIN R10, R11, R21, R22)."""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.selection import (
    ELECTED,
    NOT_ELECTED,
    RUNOFF,
    decide,
    is_valid_choice,
    resolve_chain,
    runoff_plan,
    tally,
)

CANDIDATES = ["甲", "乙", "丙", "丁", "戊", "己"]


def test_validity_k_of_n():
    """R10/R11: up to K distinct candidates of this round; none is valid; K+1 is not."""
    assert is_valid_choice([], CANDIDATES, 3)
    assert is_valid_choice(["甲", "乙", "丙"], CANDIDATES, 3)
    assert not is_valid_choice(["甲", "乙", "丙", "丁"], CANDIDATES, 3)
    assert not is_valid_choice(["甲", "甲"], CANDIDATES, 3)
    assert not is_valid_choice(["外人"], CANDIDATES, 3)


def test_clear_winners_and_shares():
    """Ranked by votes; 得票率 over valid ballots; the top K elected."""
    votes = {"甲": 9, "乙": 7, "丙": 5, "丁": 3, "戊": 1, "己": 0}
    outcome = decide(votes, CANDIDATES, 3, valid=10)
    assert outcome.elected == ("甲", "乙", "丙")
    by_key = {c.key: c for c in outcome.candidates}
    assert by_key["甲"].share == Fraction(9, 10) and by_key["己"].rank == 6
    assert runoff_plan(outcome) is None and outcome.open_seats == 0


def test_tie_across_the_cut_goes_to_a_runoff_for_the_remaining_seats():
    """R21: 乙 clear; 丙, 丁 and 戊 tie for the last two seats → runoff among them for 2."""
    votes = {"甲": 9, "乙": 8, "丙": 5, "丁": 5, "戊": 5, "己": 1}
    outcome = decide(votes, CANDIDATES, 4, valid=10)
    assert outcome.elected == ("甲", "乙")
    assert outcome.pending == ("丙", "丁", "戊")
    plan = runoff_plan(outcome)
    assert plan.candidates == ("丙", "丁", "戊") and plan.seats == 2
    ranks = {c.key: c.rank for c in outcome.candidates}
    assert ranks == {"甲": 1, "乙": 2, "丙": 3, "丁": 3, "戊": 3, "己": 6}


def test_a_tie_inside_the_seats_is_no_tie_at_all():
    votes = {"甲": 9, "乙": 9, "丙": 5, "丁": 4, "戊": 4, "己": 1}
    assert decide(votes, CANDIDATES, 3, valid=10).elected == ("甲", "乙", "丙")


def test_runoff_fills_the_open_seats_and_the_chain_resolves():
    first = decide({"甲": 9, "乙": 8, "丙": 5, "丁": 5, "戊": 5, "己": 1}, CANDIDATES, 4, valid=10)
    plan = runoff_plan(first)
    second = decide({"丙": 6, "丁": 6, "戊": 2}, plan.candidates, plan.seats, valid=10)
    final = resolve_chain([first, second])
    assert [k for k, s in final.items() if s == ELECTED] == ["甲", "乙", "丙", "丁"]
    assert final["戊"] == NOT_ELECTED and final["己"] == NOT_ELECTED


def test_a_runoff_that_ties_again_calls_for_another():
    first = decide({"甲": 5, "乙": 5, "丙": 5}, ["甲", "乙", "丙"], 1, valid=10)
    second = decide({"甲": 4, "乙": 4, "丙": 2}, runoff_plan(first).candidates, 1, valid=10)
    assert second.pending == ("甲", "乙") and runoff_plan(second).seats == 1
    third = decide({"甲": 6, "乙": 4}, runoff_plan(second).candidates, 1, valid=10)
    final = resolve_chain([first, second, third])
    assert final == {"甲": ELECTED, "乙": NOT_ELECTED, "丙": NOT_ELECTED}


def test_majority_rule_leaves_the_seat_open():
    """R22: 实到 20 → a winner needs more than 10 votes; 乙 with 10 goes to the runoff."""
    outcome = decide({"甲": 15, "乙": 10, "丙": 3}, ["甲", "乙", "丙"], 2, valid=18, majority_of=20)
    assert outcome.elected == ("甲",) and outcome.pending == ("乙",)
    assert runoff_plan(outcome).seats == 1
    assert {c.key: c.has_majority for c in outcome.candidates} == {"甲": True, "乙": False, "丙": False}
    assert decide({"甲": 15, "乙": 10}, ["甲", "乙"], 2, valid=18).elected == ("甲", "乙")  # rule off


def test_more_seats_than_candidates_and_zero_seats():
    assert decide({"甲": 0, "乙": 3}, ["甲", "乙"], 5, valid=3).elected == ("甲", "乙")
    assert decide({"甲": 3}, ["甲"], 0, valid=3).elected == ()
    with pytest.raises(ValueError):
        decide({"外": 1}, ["甲"], 1, valid=1)


def test_a_runoff_may_not_re_elect_a_seat_holder():
    first = decide({"甲": 5, "乙": 3}, ["甲", "乙"], 1, valid=8)
    bogus = decide({"甲": 5}, ["甲"], 1, valid=8)
    with pytest.raises(ValueError):
        resolve_chain([first, bogus])


# --- properties ------------------------------------------------------------------------------

ballots_strategy = st.lists(st.sets(st.sampled_from(CANDIDATES), max_size=6), max_size=40)
seats_strategy = st.integers(min_value=0, max_value=6)


@settings(max_examples=300)
@given(ballots_strategy, seats_strategy, st.booleans())
def test_never_more_than_k_winners_and_pending_fit_the_open_seats(ballots, seats, majority):
    valid = [b for b in ballots if len(b) <= seats]
    votes = tally(valid, CANDIDATES)
    outcome = decide(votes, CANDIDATES, seats, len(valid), majority_of=len(ballots) if majority else None)
    assert len(outcome.elected) <= seats
    if outcome.pending:
        assert 0 < outcome.open_seats <= seats - len(outcome.elected)
    # everyone elected has at least as many votes as anyone not elected without a majority issue
    if not majority and outcome.elected:
        least_elected = min(votes[k] for k in outcome.elected)
        assert all(votes[c.key] <= least_elected for c in outcome.candidates if c.status == NOT_ELECTED)


@settings(max_examples=300)
@given(ballots_strategy, seats_strategy, st.randoms())
def test_ranking_does_not_depend_on_ballot_order(ballots, seats, rnd):
    shuffled = list(ballots)
    rnd.shuffle(shuffled)
    one = decide(tally(ballots, CANDIDATES), CANDIDATES, seats, len(ballots))
    two = decide(tally(shuffled, CANDIDATES), CANDIDATES, seats, len(shuffled))
    assert one == two


@settings(max_examples=200)
@given(ballots_strategy, st.integers(min_value=1, max_value=5), st.lists(st.dictionaries(st.sampled_from(CANDIDATES), st.integers(0, 30)), min_size=1, max_size=3))
def test_a_runoff_never_changes_a_seat_already_won(ballots, seats, runoff_votes):
    first = decide(tally(ballots, CANDIDATES), CANDIDATES, seats, len(ballots))
    chain = [first]
    for votes in runoff_votes:
        plan = runoff_plan(chain[-1])
        if plan is None:
            break
        chain.append(decide({k: votes.get(k, 0) for k in plan.candidates}, plan.candidates, plan.seats, len(ballots)))
    final = resolve_chain(chain)
    assert all(final[k] == ELECTED for k in first.elected)
    assert sum(1 for s in final.values() if s == ELECTED) <= seats
    if runoff_plan(chain[-1]) is None:
        assert RUNOFF not in final.values()
