"""Organizer accounts: create, change role, reset password, stop — each in the audit log.

Accounts are never deleted. The audit log names its actors by username (R25); deleting an
account would let the name be given to someone else, and the log would then mix two people.
A stopped account keeps its row with the role ``disabled``: it cannot log in, its open
sessions end at their next request (the user loader refuses it), and an admin can give it a
role again.

Setting a password (``reset_password``, ``save_user``) ends the account's open sessions too:
a session carries a fingerprint of the password hash (``Organizer.get_id``) that the user
loader checks. An admin who resets their own password on the web stays logged in there
(the view logs them in again).

There is always at least one admin: a change that would leave none is refused. The check
locks the admins' rows (``FOR UPDATE`` on PostgreSQL), so two admins demoting each other at
the same moment cannot both succeed; SQLite serialises writers and refuses the later one.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from ..extensions import db
from ..models import Organizer
from ..models.organizer import ACTIVE_ROLES, ROLE_ADMIN, ROLE_DISABLED
from . import audit

MIN_PASSWORD = 8
MAX_PASSWORD = 256
#: Letters (also Chinese), digits and . _ - : a name that reads the same in the log, a CSV
#: and a shell, with no spaces to mistype.
USERNAME_PATTERN = re.compile(r"^[\w.\-]{2,64}$")
#: Actor names the software itself writes to the audit log.
RESERVED_USERNAMES = frozenset({"cli", "demo"})


class UserError(ValueError):
    """A refused account change; ``str()`` is the Chinese reason."""


def all_users() -> list[Organizer]:
    """Every account, active ones first, then by name."""
    users = db.session.scalars(select(Organizer).order_by(Organizer.username)).all()
    return sorted(users, key=lambda u: u.role == ROLE_DISABLED)


def find(username: str) -> Organizer | None:
    return db.session.scalar(select(Organizer).where(Organizer.username == username.strip()))


def check_username(username: str) -> str:
    """:return: the name, stripped. :raises UserError: when it is not a usable name."""
    name = (username or "").strip()
    if not USERNAME_PATTERN.match(name):
        raise UserError("用户名应为 2–64 个字母、汉字、数字或 . _ -，不含空格")
    if name.lower() in RESERVED_USERNAMES:
        raise UserError(f"用户名「{name}」为系统保留，请换一个")
    return name


def check_password(password: str) -> None:
    """:raises UserError: for a password shorter than 8 or longer than 256 characters."""
    if len(password or "") < MIN_PASSWORD:
        raise UserError(f"密码至少 {MIN_PASSWORD} 位")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"密码最多 {MAX_PASSWORD} 位")


def _check_role(role: str) -> None:
    if role not in ACTIVE_ROLES:
        raise UserError("角色不正确")


def _keep_an_admin(user: Organizer, new_role: str) -> None:
    """:raises UserError: when taking ``user``'s admin role away would leave no admin."""
    if user.role != ROLE_ADMIN or new_role == ROLE_ADMIN:
        return
    admins = db.session.scalars(select(Organizer.id).where(Organizer.role == ROLE_ADMIN).with_for_update()).all()
    if not set(admins) - {user.id}:
        raise UserError("至少须保留一名管理员：请先将其他用户设为管理员")


def create_user(username: str, role: str, password: str, actor: str) -> Organizer:
    """:raises UserError: for a bad or taken name, a bad role or a short password."""
    name = check_username(username)
    _check_role(role)
    check_password(password)
    if find(name) is not None:
        raise UserError(f"用户名「{name}」已存在")
    user = Organizer(username=name, role=role)
    user.set_password(password)
    db.session.add(user)
    audit.log(actor, "user.create", None, username=name, role=role)
    db.session.commit()
    return user


def set_role(user: Organizer, role: str, actor: str) -> None:
    """Change the role, or give a stopped account a role again.

    :raises UserError: for a bad role, or when no admin would be left.
    """
    _check_role(role)
    if role == user.role:
        return
    _keep_an_admin(user, role)
    previous, user.role = user.role, role
    audit.log(actor, "user.role", None, username=user.username, role=role, previous=previous)
    db.session.commit()


def reset_password(user: Organizer, password: str, actor: str) -> None:
    """Set a new password; sessions opened with the old one end at their next request.

    :raises UserError: for a short password. The password itself is never logged.
    """
    check_password(password)
    user.set_password(password)
    audit.log(actor, "user.password", None, username=user.username)
    db.session.commit()


def disable(user: Organizer, actor: str) -> None:
    """Stop an account: it can no longer log in, and its open sessions end.

    :raises UserError: when it is already stopped, or it is the last admin.
    """
    if user.role == ROLE_DISABLED:
        raise UserError(f"用户「{user.username}」已停用")
    _keep_an_admin(user, ROLE_DISABLED)
    previous, user.role = user.role, ROLE_DISABLED
    audit.log(actor, "user.disable", None, username=user.username, previous=previous)
    db.session.commit()


def save_user(username: str, role: str, password: str, actor: str) -> tuple[Organizer, bool]:
    """The shell's way in (``create-user``, ``create-admin``): create the account, or set the
    password and role of the existing one (recovery when nobody can log in). A new password
    ends the account's open sessions, as ``reset_password`` does.

    :return: the account and whether it was created.
    :raises UserError: as for ``create_user`` and ``set_role``.
    """
    name = (username or "").strip()
    user = find(name)
    if user is None:
        return create_user(name, role, password, actor), True
    _check_role(role)
    check_password(password)
    _keep_an_admin(user, role)
    user.set_password(password)
    audit.log(actor, "user.password", None, username=user.username)
    if user.role != role:
        previous, user.role = user.role, role
        audit.log(actor, "user.role", None, username=user.username, role=role, previous=previous)
    db.session.commit()
    return user, False
