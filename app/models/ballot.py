from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class Ballot(db.Model):
    """An anonymous ballot (R23): no slip, no time, no address, no device.

    The id is random (not a sequence) and, on SQLite, the table has no rowid, so neither the
    key nor the storage order tells in which order ballots arrived. ``category_id`` is kept
    because category weights need it (R14); that is why small categories get a warning.
    """

    __tablename__ = "ballot"
    __table_args__ = {"sqlite_with_rowid": False}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("voter_category.id", ondelete="CASCADE"))
    is_valid: Mapped[bool] = mapped_column(Boolean, default=True)
    is_paper: Mapped[bool] = mapped_column(Boolean, default=False)


class BallotMark(db.Model):
    """One mark on a ballot: a level for a target. An unmarked target is an abstention (R13).

    No index on ``target_id`` alone: the counts reach marks through their ballots (the primary
    key's prefix), and such an index put each of a ballot's marks in a different random place,
    which doubled the cost of writing ballots as a meeting grew (migration 0007)."""

    __tablename__ = "ballot_mark"
    __table_args__ = {"sqlite_with_rowid": False}

    ballot_id: Mapped[str] = mapped_column(ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger)


class Receipt(db.Model):
    """A receipt code shown on the phone after a cast (issue 5): after publication the round's
    list of receipts lets an attendee see that the ballot was counted.

    Kept apart from the ballot on purpose: no ballot id, no time, and on SQLite no rowid, so
    the list is in code order and a receipt cannot be paired with a ballot's contents, even
    by someone holding the database (R23). A receipt proves "counted", never "how"."""

    __tablename__ = "receipt"
    __table_args__ = {"sqlite_with_rowid": False}

    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
