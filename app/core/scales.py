"""Grading scales, level values and bands (DOMAIN R8, R12, R16).

Levels are referred to by their position on the scale: 0 is the top level (好 / 优秀) and 3 the
bottom (差 / 不称职). Storing the position instead of the label lets one ballot column serve
both scales and keeps labels a matter of presentation.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

TEAM = "team"
PERSON = "person"
TARGET_KINDS = (TEAM, PERSON)

#: R8: the four-level scales, best first.
LEVEL_LABELS: dict[str, tuple[str, str, str, str]] = {
    TEAM: ("好", "较好", "一般", "差"),
    PERSON: ("优秀", "称职", "基本称职", "不称职"),
}
KIND_LABELS = {TEAM: "领导班子", PERSON: "领导干部"}
LEVEL_COUNT = 4

#: R12: default value of each level, and the "差 = 0" preset.
DEFAULT_LEVEL_VALUES: tuple[int, int, int, int] = (100, 80, 60, 40)
ZERO_BOTTOM_LEVEL_VALUES: tuple[int, int, int, int] = (100, 80, 60, 0)

#: R16: lower bound of each band, best first; the last band starts at 0.
BAND_FLOORS: tuple[int, int, int, int] = (90, 80, 60, 0)

SCORING_RULE_TEXT = (
    "计分规则（{kind}）：类别得分 = Σ(各等次票数 × 分值) ÷ {denominator}；"
    "折合分 = Σ(类别权重 × 类别得分)，某类别无评价时其权重按比例分配给其他类别。"
    "分值：{values}。等次按折合分（四舍五入保留两位小数）：90 分及以上为{b0}，80–90 分为{b1}，"
    "60–80 分为{b2}，60 分以下为{b3}。"
)


def level_labels(kind: str) -> tuple[str, str, str, str]:
    """Return the four labels of a target kind's scale (R8).

    :raises ValueError: for an unknown kind.
    """
    try:
        return LEVEL_LABELS[kind]
    except KeyError:
        raise ValueError(f"unknown target kind: {kind!r}") from None


def round_half_up(value: Fraction, places: int = 2) -> Decimal:
    """Round an exact value half up to ``places`` decimals (R16: "rounded to 2 decimals").

    Works on the exact fraction, so 89.995 becomes 90.00 and never 89.99 through binary
    floating point.
    """
    quantum = Decimal(1).scaleb(-places)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    # Decimal division is exact to 28 digits, far beyond two places; the tie case is exact
    # because a tie needs only ``places + 1`` digits.
    return exact.quantize(quantum, rounding=ROUND_HALF_UP)


def band_of(score: Fraction, floors: tuple[int, ...] = BAND_FLOORS) -> int:
    """Return the level index whose band holds ``score`` (R16).

    The band is decided on the score rounded to 2 decimals half up, so the grade printed next to
    "89.995 → 90.00" is the top band, as a reader of the sheet would expect.
    """
    shown = round_half_up(score)
    for index, floor in enumerate(floors):
        if shown >= floor:
            return index
    return len(floors) - 1


def scoring_rule_text(kind: str, values: tuple[int, ...] = DEFAULT_LEVEL_VALUES, abstain_as_zero: bool = False) -> str:
    """The rule printed on every report (R13, R14, R16), in the words of the kind's scale."""
    labels = level_labels(kind)
    shown = "、".join(f"{label} {value}" for label, value in zip(labels, values))
    denominator = "该类别收回的有效票数（弃权按 0 分计）" if abstain_as_zero else "该类别作出评价的票数（弃权不计入分母）"
    return SCORING_RULE_TEXT.format(
        kind=KIND_LABELS[kind], denominator=denominator, values=shown, b0=labels[0], b1=labels[1], b2=labels[2], b3=labels[3]
    )


def plain_number(value) -> str:
    """A weight or value as people write it: 30, 33.5 — no trailing zeros, no exponent
    (``Decimal("30.000")`` would otherwise print as 30.000, and normalized as 3E+1)."""
    number = Decimal(str(value))
    text = format(number.normalize(), "f")
    return text
