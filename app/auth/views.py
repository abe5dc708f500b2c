"""Organizer log-in and log-out."""

from __future__ import annotations

import hmac
import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from ..extensions import db, login_manager
from ..models import Organizer
from ..services import audit, ratelimit
from ..services.ratelimit import client_address
from .forms import LoginForm

bp = Blueprint("auth", __name__)

#: What ``Organizer.get_id()`` makes: the id, a colon, 16 hex digits of password fingerprint.
SESSION_USER_ID = re.compile(r"([0-9]{1,18}):([0-9a-f]{16})")


@login_manager.user_loader
def load_user(user_id: str) -> Organizer | None:
    # Sessions end here, at their next request: a stopped account's, and those opened before
    # the password was last set (their fingerprint is stale). The same goes for a remember-me
    # cookie, which Flask-Login passes here too. Anything else (a bare id from before
    # fingerprints, a malformed value) is simply not logged in, never an error.
    match = SESSION_USER_ID.fullmatch(str(user_id))
    if match is None:
        return None
    user = db.session.get(Organizer, int(match[1]))
    if user is None or not user.is_active:
        return None
    return user if hmac.compare_digest(match[2], user.session_fingerprint()) else None


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link borrow our login page.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("organizer.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log an organizer in."""
    if current_user.is_authenticated:
        return redirect(url_for("organizer.index"))
    form = LoginForm()
    if form.validate_on_submit():
        username = form.username.data.strip()
        address = client_address()
        subjects = ((ratelimit.LOGIN_PER_USER, f"{address}|{username}"), (ratelimit.LOGIN_PER_ADDRESS, address))
        wait = max((ratelimit.retry_after(limit, subject) or 0 for limit, subject in subjects), default=0)
        if wait:
            flash(f"登录失败次数过多，请 {wait // 60 + 1} 分钟后再试", "error")
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(wait)}
        user = db.session.scalar(select(Organizer).where(Organizer.username == username))
        if user is not None and user.check_password(form.password.data):
            if not user.is_active:
                # Only someone who knows the password learns that the account is stopped.
                flash("此账号已停用，请联系管理员", "error")
                return render_template("auth/login.html", form=form), 403
            login_user(user)
            audit.log(user.username, "organizer.login")
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
        for limit, subject in subjects:
            ratelimit.record_failure(limit, subject)
        flash("用户名或密码不正确", "error")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """Log out (a POST, so a link elsewhere cannot log you out)."""
    logout_user()
    return redirect(url_for("auth.login"))


@bp.get("/")
def home():
    """The root sends organizers to their console and everyone else to the code entry."""
    return redirect(url_for("organizer.index") if current_user.is_authenticated else url_for("voting.enter"))
