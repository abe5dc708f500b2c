from __future__ import annotations

from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..core.scales import TARGET_KINDS
from ..extensions import db

DIMENSION = "dimension"  # 测评维度: the four-level scale per item (R15)
REVERSE = "reverse"  # 逆向测评: tick any number (R9)
INTENT = "intent"  # 使用意向: one of (R18)
ITEM_TYPES = (DIMENSION, REVERSE, INTENT)
ITEM_TYPE_LABELS = {DIMENSION: "测评维度", REVERSE: "逆向测评", INTENT: "使用意向"}


class BallotItem(db.Model):
    """One item a 测评 round asks about each target of a kind, besides the overall grade:
    a dimension (with an optional weight, R15), a 逆向测评 option (R9) or a 使用意向 option.

    Items belong to the round, not the meeting, so a runoff or a second round can ask less;
    they are fixed once the round opens (services.items refuses changes after that)."""

    __tablename__ = "ballot_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    item_type: Mapped[str] = mapped_column(String(12))
    label: Mapped[str] = mapped_column(String(50))
    weight: Mapped[Decimal | None] = mapped_column(Numeric(7, 3))  # dimensions only; percent
    position: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        UniqueConstraint("round_id", "kind", "item_type", "label", name="uq_ballot_item_label"),
        CheckConstraint(f"kind IN {TARGET_KINDS!r}", name="item_kind_known"),
        CheckConstraint(f"item_type IN {ITEM_TYPES!r}", name="item_type_known"),
        CheckConstraint("weight IS NULL OR weight >= 0", name="item_weight_non_negative"),
    )


class BallotItemMark(db.Model):
    """A ballot's answer to one item for one target: a level 0–3 for a dimension, 0 for a
    ticked 逆向测评 option or the chosen 使用意向. Anonymous like ``ballot_mark`` (R23), and
    like it without a secondary index (migration 0007)."""

    __tablename__ = "ballot_item_mark"
    __table_args__ = {"sqlite_with_rowid": False}

    ballot_id: Mapped[str] = mapped_column(ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("ballot_item.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, default=0)
