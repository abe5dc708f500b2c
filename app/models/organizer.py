from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ._time import now_utc

#: Everything, including set-up and user management.
ROLE_ADMIN = "admin"
#: Runs the meeting: rounds, check-in (实到), paper ballots; reads turnout and results.
ROLE_COUNTER = "counter"
#: Reads only: turnout, results and their downloads, the audit log (监票, R24/R25).
ROLE_OBSERVER = "observer"
#: A stopped account: it cannot log in and its open sessions end. The row stays so that the
#: audit log's actor names keep pointing at one person (no re-use of a username).
ROLE_DISABLED = "disabled"

#: Roles an account can be given (in the order forms offer them).
ACTIVE_ROLES = (ROLE_ADMIN, ROLE_COUNTER, ROLE_OBSERVER)
ROLE_LABELS = {ROLE_ADMIN: "管理员", ROLE_COUNTER: "计票员", ROLE_OBSERVER: "监票员", ROLE_DISABLED: "已停用"}


class Organizer(UserMixin, db.Model):
    """A member of staff (考核办 / 组织部) who logs in; passwords are hashed (scrypt)."""

    __tablename__ = "organizer"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default=ROLE_ADMIN)
    created_dt: Mapped[datetime] = mapped_column(default=now_utc)

    @property
    def is_active(self) -> bool:
        """Flask-Login refuses to log in an inactive user; the user loader drops its session."""
        return self.role in ACTIVE_ROLES

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def get_id(self) -> str:
        """What Flask-Login keeps in the session cookie (and would keep in a remember-me
        cookie): the id and the password's ``session_fingerprint``. Setting a password changes
        the fingerprint, so the user loader (auth/views.py) ends every session opened before."""
        return f"{self.id}:{self.session_fingerprint()}"

    def session_fingerprint(self) -> str:
        """16 hex digits of HMAC-SHA256(SECRET_KEY, password hash).

        Keyed rather than a bare SHA-256 of the hash: the session cookie is signed, not
        encrypted, so whoever holds it can read it; keyed, the value says nothing about the
        hash outside this server. The label keeps this use of the key apart from the slip
        codes it also derives. Every hash has a fresh salt, so even setting the same password
        again changes the fingerprint. 64 bits are plenty: the cookie's signature, not this
        value, stops forgery; this only has to change when the hash does.
        """
        key = current_app.config["SECRET_KEY"].encode("utf-8")
        message = b"organizer-session:" + self.password_hash.encode("utf-8")
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)
