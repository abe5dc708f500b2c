"""差额票决: K of N candidates, ties across the cut, runoffs, the majority rule
(DOMAIN R10, R11, R19, R21, R22).

Policy, stated once and cited by the tests:

- R10/R11 validity: a ballot names candidates of this round only, each at most once. Marking
  more than K is invalid (废票); K or fewer — including none — is valid. Invalid ballots count in
  收回 and 无效 and in no candidate's votes.
- Ranking: by votes, highest first; equal votes share a rank and the next is skipped
  (1, 2, 2, 4). 得票率 is votes ÷ valid ballots.
- R21 ties across the cut: when candidates with the K-th highest vote count do not all fit in
  the K seats, every candidate strictly above them is elected and the tied ones go to a runoff
  for the seats that remain (再次投票). Nothing is broken by list order or at random.
- R22 majority (optional): a candidate who would take a seat but has no more than half of 实到
  is not elected; the seat stays open and the candidate goes to the runoff.
- Runoffs: a runoff among the pending candidates fills the open seats with the same rules. A
  seat once won is never taken back; a chain of rounds never elects more than K.
"""

from __future__ import annotations

import hashlib
import json

from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .scoring import competition_ranks

ELECTED = "elected"  # 特优
NOT_ELECTED = "not_elected"  # 优秀 (a candidate who did not win a seat)
RUNOFF = "runoff"  # 待再次投票
STATUS_LABELS = {ELECTED: "特优", NOT_ELECTED: "优秀", RUNOFF: "待再次投票"}


def is_valid_choice(chosen: Sequence[Hashable], candidates: Collection[Hashable], seats: int) -> bool:
    """R10/R11: the chosen keys are candidates of this round, none twice, at most ``seats``.

    An empty choice is valid (R11). Unknown keys are not "invalid ballots" but malformed
    requests; callers refuse them before asking this.
    """
    return len(set(chosen)) == len(chosen) and set(chosen) <= set(candidates) and len(chosen) <= seats


def tally(ballots: Iterable[Collection[Hashable]], candidates: Sequence[Hashable]) -> dict[Hashable, int]:
    """Votes per candidate from valid ballots (each a collection of chosen candidates)."""
    votes = {c: 0 for c in candidates}
    for ballot in ballots:
        for key in ballot:
            votes[key] += 1
    return votes


@dataclass(frozen=True)
class CandidateOutcome:
    key: Hashable
    votes: int
    share: Fraction | None  # 得票率: votes ÷ valid ballots
    rank: int
    status: str  # ELECTED / NOT_ELECTED / RUNOFF
    has_majority: bool | None  # R22; None when the rule is off

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class SelectionOutcome:
    seats: int
    valid: int
    candidates: tuple[CandidateOutcome, ...]  # in ballot order

    @property
    def elected(self) -> tuple[Hashable, ...]:
        return tuple(c.key for c in self.candidates if c.status == ELECTED)

    @property
    def pending(self) -> tuple[Hashable, ...]:
        return tuple(c.key for c in self.candidates if c.status == RUNOFF)

    @property
    def open_seats(self) -> int:
        """Seats a runoff must still fill (0 when the round settled everything)."""
        return self.seats - len(self.elected) if self.pending else 0


def decide(
    votes: Mapping[Hashable, int], order: Sequence[Hashable], seats: int, valid: int, *, majority_of: int | None = None
) -> SelectionOutcome:
    """Elect up to ``seats`` candidates from their votes (R21, R22; see the module docstring).

    :param order: the candidates in ballot order (the result keeps it).
    :param valid: valid ballots, the denominator of 得票率.
    :param majority_of: 实到 when the majority rule (R22) is on, else None.
    :raises ValueError: for a negative seat count or votes of unknown candidates.
    """
    if seats < 0:
        raise ValueError("seats must not be negative")
    if set(votes) - set(order):
        raise ValueError("votes for candidates not on the ballot")
    counts = [int(votes.get(key, 0)) for key in order]
    ranks = competition_ranks([Fraction(n) for n in counts])
    by_votes = sorted(counts, reverse=True)
    winners: set[Hashable] = set()
    tied: set[Hashable] = set()
    if seats >= len(order):
        winners = set(order)
    elif seats > 0:
        cut = by_votes[seats - 1]  # votes of the K-th place
        above = [k for k, n in zip(order, counts) if n > cut]
        at_cut = [k for k, n in zip(order, counts) if n == cut]
        if len(above) + len(at_cut) <= seats:
            winners = set(above) | set(at_cut)
        else:
            winners, tied = set(above), set(at_cut)
    lacking: set[Hashable] = set()
    if majority_of is not None:
        lacking = {k for k, n in zip(order, counts) if k in winners and 2 * n <= majority_of}
        winners -= lacking
    outcomes = []
    for key, n, rank in zip(order, counts, ranks):
        if key in winners:
            status = ELECTED
        elif key in tied or key in lacking:
            status = RUNOFF
        else:
            status = NOT_ELECTED
        outcomes.append(
            CandidateOutcome(
                key=key,
                votes=n,
                share=Fraction(n, valid) if valid else None,
                rank=rank,
                status=status,
                has_majority=None if majority_of is None else 2 * n > majority_of,
            )
        )
    return SelectionOutcome(seats=seats, valid=valid, candidates=tuple(outcomes))


@dataclass(frozen=True)
class RunoffPlan:
    candidates: tuple[Hashable, ...]  # in the original ballot order
    seats: int


def runoff_plan(outcome: SelectionOutcome) -> RunoffPlan | None:
    """R21: the runoff a round calls for — its pending candidates and the seats still open —
    or None when the round settled every seat."""
    if not outcome.pending:
        return None
    return RunoffPlan(candidates=outcome.pending, seats=outcome.open_seats)


def resolve_chain(outcomes: Sequence[SelectionOutcome]) -> dict[Hashable, str]:
    """Final status of every candidate of a first round and its runoffs, in order.

    A seat won in an earlier round is kept; a candidate in a runoff takes the runoff's status;
    everyone else keeps the status of the last round they stood in.

    :raises ValueError: when a runoff elects more than the seats left open.
    """
    if not outcomes:
        return {}
    status: dict[Hashable, str] = {c.key: c.status for c in outcomes[0].candidates}
    total_seats = outcomes[0].seats
    for runoff in outcomes[1:]:
        for c in runoff.candidates:
            if status.get(c.key) == ELECTED:
                raise ValueError(f"{c.key!r} already holds a seat and cannot stand in a runoff")
            status[c.key] = c.status
        if sum(1 for s in status.values() if s == ELECTED) > total_seats:
            raise ValueError("a runoff elected more candidates than there are seats")
    return status


def tally_digest(meeting_title: str, group: str | None, rounds: list[dict]) -> str:
    """SHA-256 of a 差额票决 tally for the 报告单 (DOMAIN §7): content only — titles, seats,
    the six counts and each candidate's votes, never database ids — so a recount from the
    published ballots, or an archive imported elsewhere, comes to the same digest.

    :param rounds: per round ``{"round": title, "seats": K, "counts": [应到, 实到, 发出, 收回,
        有效, 无效], "votes": [[unit, votes], …]}``, first round first.
    """
    tally = {"meeting": meeting_title, "group": group, "rounds": rounds}
    text = json.dumps(tally, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
