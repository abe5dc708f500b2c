from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class RateCounter(db.Model):
    """Failures (unknown codes, wrong passwords) per client and time window, shared by every
    worker process. Never written for a successful look-up and never tied to a ballot (R23)."""

    __tablename__ = "rate_counter"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    window: Mapped[int] = mapped_column(Integer, primary_key=True)  # start of the window, epoch seconds
    count: Mapped[int] = mapped_column(Integer, default=0)
