from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ._time import now_utc

ROLE_ADMIN = "admin"
ROLE_LABELS = {ROLE_ADMIN: "管理员"}


class Organizer(UserMixin, db.Model):
    """A member of staff (考核办 / 组织部) who logs in; passwords are hashed (scrypt)."""

    __tablename__ = "organizer"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default=ROLE_ADMIN)
    created_dt: Mapped[datetime] = mapped_column(default=now_utc)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)
