"""Composite scores (DOMAIN R1).

The rest of the annual pipeline (grades R2, candidates R3, rewards R5, history R6) builds on
this module in the 特优 issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


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
