from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._time import now_utc
from .meeting import Round, VoterCategory


@dataclass(frozen=True)
class SlipRef:
    """The columns of a slip that a cast needs, read with plain SQL on the cast's hot path
    (services.voting.cast_code)."""

    id: int
    meeting_id: int
    category_id: int
    voided_dt: datetime | None

    @property
    def is_void(self) -> bool:
        return self.voided_dt is not None


class Slip(db.Model):
    """A printed one-time slip (测评码). The code itself is never stored: ``nonce`` and the
    server secret derive it, ``code_digest`` (keyed) finds the slip from a typed code."""

    __tablename__ = "slip"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("voter_category.id", ondelete="CASCADE"), index=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(16))
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    issued_dt: Mapped[datetime] = mapped_column(default=now_utc)
    voided_dt: Mapped[datetime | None]
    void_reason: Mapped[str] = mapped_column(String(200), default="")
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("slip.id", ondelete="SET NULL"))

    category: Mapped[VoterCategory] = relationship()

    @property
    def is_void(self) -> bool:
        return self.voided_dt is not None


class SlipUse(db.Model):
    """*That* a slip voted in a round — never *what* (R7, R23).

    The composite primary key is the database's guard of one ballot per slip per round. The
    row has no id, no timestamp and, on SQLite, no rowid, so nothing orders slip uses by time
    or pairs the k-th use with the k-th ballot.
    """

    __tablename__ = "slip_use"
    __table_args__ = {"sqlite_with_rowid": False}

    slip_id: Mapped[int] = mapped_column(ForeignKey("slip.id", ondelete="CASCADE"), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey(Round.id, ondelete="CASCADE"), primary_key=True, index=True)
