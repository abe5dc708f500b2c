from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class Unit(db.Model):
    """A unit (单位) assessed this year: its group (分组), 综合目标考核 score, veto and staff (R2, R5).

    Its team and leaders are the meeting's targets whose ``unit`` equals ``name``; a leader's
    role (主要负责人 or 其他成员) is ``Target.is_principal``.
    """

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    group_name: Mapped[str] = mapped_column(String(50))
    target_score: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    is_vetoed: Mapped[bool] = mapped_column(Boolean, default=False)
    veto_reason: Mapped[str] = mapped_column(String(200), default="")
    staff_count: Mapped[int] = mapped_column(Integer, default=0)  # 编内在职职工人数
    position: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        UniqueConstraint("meeting_id", "name", name="uq_unit_meeting_name"),
        CheckConstraint("target_score >= 0 AND target_score <= 100", name="score_range"),
        CheckConstraint("staff_count >= 0", name="staff_non_negative"),
    )


class UnitGroup(db.Model):
    """A group's settings (R3, R4): N candidates (None: every 达标 unit) and K seats
    (None: N/2)."""

    __tablename__ = "unit_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    candidate_places: Mapped[int | None] = mapped_column(Integer)
    seats: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(default=0)

    __table_args__ = (UniqueConstraint("meeting_id", "name", name="uq_unit_group_meeting_name"),)


class HistoryRecord(db.Model):
    """A unit's or leader's standing in a past year (R6), archived from a meeting or imported."""

    __tablename__ = "history_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(8))  # unit / person
    group_name: Mapped[str] = mapped_column(String(50), default="")
    unit: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100), default="")  # empty for a unit
    rank: Mapped[int | None] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer, default=0)
    band: Mapped[str] = mapped_column(String(16), default="")

    __table_args__ = (UniqueConstraint("year", "kind", "unit", "name", name="uq_history_record_key"),)
