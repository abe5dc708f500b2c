"""Account management (admins only, see permissions.py): list, create, change role, reset
password, stop. The rules (last admin, no deletion) live in services.users."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_user

from ..extensions import db
from ..models import Organizer
from ..models.organizer import ROLE_ADMIN, ROLE_LABELS
from ..services import users as user_service
from .forms import EmptyForm, NewUserForm, PasswordResetForm, UserRoleForm
from .views import bp


def _user(user_id: int) -> Organizer:
    return db.get_or_404(Organizer, user_id)


def _errors(form) -> list[str]:
    return [e for field_errors in form.errors.values() for e in field_errors]


def _users_page(status: int = 200, errors: list[str] | None = None, new_form: NewUserForm | None = None):
    return (
        render_template(
            "organizer/users.html",
            users=user_service.all_users(),
            new_form=new_form or NewUserForm(),
            role_form=UserRoleForm(),
            password_form=PasswordResetForm(),
            button_form=EmptyForm(),
            ROLE_LABELS=ROLE_LABELS,
            errors=errors or [],
        ),
        status,
    )


@bp.get("/users")
def users():
    """Every account with its role, and the forms to manage them."""
    return _users_page()


@bp.post("/users")
def create_user():
    """Create an account with a role and an initial password."""
    form = NewUserForm()
    if not form.validate_on_submit():
        return _users_page(400, _errors(form), new_form=form)
    try:
        user = user_service.create_user(form.username.data, form.role.data, form.password.data, current_user.username)
    except user_service.UserError as error:
        return _users_page(400, [str(error)], new_form=form)
    flash(f"已创建用户「{user.username}」（{user.role_label}）", "ok")
    return redirect(url_for(".users"))


@bp.post("/users/<int:user_id>/role")
def user_role(user_id: int):
    """Change an account's role (or give a stopped account one again)."""
    user = _user(user_id)
    form = UserRoleForm()
    if not form.validate_on_submit():
        return _users_page(400, _errors(form))
    try:
        user_service.set_role(user, form.role.data, current_user.username)
    except user_service.UserError as error:
        return _users_page(409, [str(error)])
    flash(f"「{user.username}」的角色已改为{user.role_label}", "ok")
    # An admin who made themself something else can no longer see this page.
    return redirect(url_for(".users") if current_user.role == ROLE_ADMIN else url_for(".index"))


@bp.post("/users/<int:user_id>/password")
def user_password(user_id: int):
    """Set a new password for an account (the admin tells its owner); its other open sessions end."""
    user = _user(user_id)
    form = PasswordResetForm()
    if not form.validate_on_submit():
        return _users_page(400, [f"「{user.username}」：{e}" for e in _errors(form)])
    try:
        user_service.reset_password(user, form.password.data, current_user.username)
    except user_service.UserError as error:
        return _users_page(400, [str(error)])
    if user.id == current_user.id:
        # The new password ends the account's sessions (services.users); the one that just
        # set it carries on under the new fingerprint, the others end at their next request.
        login_user(user)
    flash(f"「{user.username}」的密码已重置", "ok")
    return redirect(url_for(".users"))


@bp.post("/users/<int:user_id>/disable")
def user_disable(user_id: int):
    """Stop an account: no more log-ins, open sessions end (the row stays for the audit log)."""
    user = _user(user_id)
    if not EmptyForm().validate_on_submit():
        return _users_page(400, ["请求有误，请刷新页面后重试"])
    try:
        user_service.disable(user, current_user.username)
    except user_service.UserError as error:
        return _users_page(409, [str(error)])
    flash(f"用户「{user.username}」已停用", "ok")
    # Stopping oneself ends one's own session with the next request.
    return redirect(url_for(".users"))
