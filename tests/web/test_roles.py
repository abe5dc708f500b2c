"""Roles, accounts and the audit log (issue 5, R25).

The role tests are driven by the route-coverage lists of test_organizer.py (GET_URLS,
POST_CASES), which a guard there keeps complete: a new organizer route must be added to those
lists, to the permission table (guard below) and, through ``EXPECTED``, to the policy written
out here a second time — so a route given to the wrong roles fails too.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from urllib.parse import urlparse

import pytest
from flask import g
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Meeting, Organizer, Round, RoundState
from app.organizer import permissions
from app.services import audit, voting
from tests.conftest import AuthActions

from .conftest import OrganizerClient, db_state
from .test_organizer import GET_URLS, POST_CASES, _url, world  # noqa: F401  (world is a fixture)

ADMIN, COUNTER, OBSERVER = "admin", "counter", "observer"
ROLES = (ADMIN, COUNTER, OBSERVER)
ROLE_NAMES = {ADMIN: "管理员", COUNTER: "计票员", OBSERVER: "监票员"}
PASSWORD = "role password 1"

#: The policy of issue 5, written independently of app/organizer/permissions.py.
#: Everyone may read these: turnout and live state, results and their downloads, the log.
READING = {
    "organizer.index",
    "organizer.meeting",
    "organizer.live_state",
    "organizer.live_events",
    "organizer.results",
    "organizer.results_file",
    "organizer.assessment",
    "organizer.assessment_file",
    "organizer.audit_log",
    "organizer.audit_file",
    "organizer.receipts",  # after publication: the receipt list and the anonymous ballots
    "organizer.ballots_file",
}
#: Counters also run the meeting: rounds, result mode, check-in (实到), runoffs (R21), and
#: paper ballot entry (§6).
RUNNING = {"organizer.round_transition", "organizer.round_mode", "organizer.set_present", "organizer.runoff", "organizer.paper_ballot"}
#: Actions that must leave no audit entry: one entry per ballot would pair a moment with a
#: slip's use (R23).
PER_BALLOT = {"organizer.paper_ballot"}


def expected(role: str, endpoint: str, method: str) -> bool:
    if role == ADMIN:
        return True
    if role == COUNTER:
        return endpoint in READING | RUNNING
    return method == "GET" and endpoint in READING  # observers read, never write


def text(response) -> str:
    return response.get_data(as_text=True)


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and urlparse(response.headers["Location"]).path == "/login"


def endpoint_of(app, url: str, method: str) -> str:
    return app.url_map.bind("localhost").match(urlparse(url).path, method=method)[0]


class FreshUserClient(FlaskClient):
    """The tests share one application context (and ``g``) across requests, where
    Flask-Login caches the user and Flask-WTF the CSRF token: forget both before each request,
    so that two clients logged in as two people stay two people."""

    def open(self, *args, **kwargs):
        for cached in ("_login_user", "csrf_token"):
            g.pop(cached, None)
        return super().open(*args, **kwargs)


@pytest.fixture(autouse=True)
def fresh_user_per_request(app):
    app.test_client_class = FreshUserClient


def make_user(username: str, role: str, password: str = PASSWORD) -> Organizer:
    user = Organizer(username=username, role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


@pytest.fixture
def login_as(app, client):
    """``login_as(role)`` → an OrganizerClient logged in as a new account of that role."""

    def login(role: str, username: str | None = None) -> OrganizerClient:
        user = make_user(username or f"{role}_user", role)
        response = AuthActions(client).login(user.username, PASSWORD)
        assert response.status_code == 302, text(response)
        return OrganizerClient(client)

    return login


def without_audit(state: dict) -> dict:
    return {table: rows for table, rows in state.items() if table != "audit_entry"}


def audit_entries(action: str | None = None) -> list[AuditEntry]:
    db.session.rollback()
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return db.session.scalars(query).all()


def assert_refused(response, role: str) -> None:
    assert response.status_code == 403, (response.status_code, text(response)[:300])
    assert f"您的角色（{ROLE_NAMES[role]}）无权执行此操作" in text(response)


# ------------------------------------------------------------------------------------------
# The table itself
# ------------------------------------------------------------------------------------------


def _organizer_routes(app) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("organizer.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_organizer_route_is_in_the_permission_table(app):
    """A route left out of the table would fall back to admin-only: safe, but not a decision.
    A stale entry (a route that went away) is flagged too."""
    endpoints = {endpoint for endpoint, _ in _organizer_routes(app)}
    listed = {e for e in permissions.PERMISSIONS if e.startswith("organizer.")}
    assert endpoints - listed == set(), "routes missing from app/organizer/permissions.py"
    assert listed - endpoints == set(), "entries of app/organizer/permissions.py without a route"


def test_the_table_matches_the_policy(app):
    """Each role × each organizer route, as the table decides it, against the policy above."""
    for endpoint, method in sorted(_organizer_routes(app)):
        for role in ROLES:
            assert permissions.is_allowed(role, endpoint, method) is expected(role, endpoint, method), (role, endpoint, method)


def test_observers_never_post_and_unknown_endpoints_are_admin_only(app):
    """Read-only roles are refused any write even where the table lists them; an endpoint the
    table does not know (a route being added right now) is for admins only; a stopped or
    unknown role gets nothing."""
    for endpoint in permissions.PERMISSIONS:
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert not permissions.is_allowed(OBSERVER, endpoint, method), endpoint
    assert permissions.is_allowed(ADMIN, "organizer.not_yet_listed", "POST")
    assert not permissions.is_allowed(COUNTER, "organizer.not_yet_listed", "POST")
    assert not permissions.is_allowed(COUNTER, "organizer.not_yet_listed", "GET")
    for role in ("disabled", "", None, "root"):
        assert not permissions.is_allowed(role, "organizer.index", "GET")


# ------------------------------------------------------------------------------------------
# Each role × each organizer route, through HTTP
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("template", GET_URLS)
@pytest.mark.parametrize("role", ROLES)
def test_role_get(app, login_as, world, role, template):
    """Allowed pages answer; refused ones answer 403 in Chinese, change nothing and are logged."""
    org = login_as(role)
    url = _url(template, world)
    endpoint = endpoint_of(app, url, "GET")
    before = db_state()
    response = org.get(url)
    try:
        if expected(role, endpoint, "GET"):
            # Allowed: whatever the page answers for itself (a job id that does not exist is 404).
            assert response.status_code != 403 and response.status_code < 500, (response.status_code, text(response)[:300])
            assert not is_login_redirect(response)
            return
        assert_refused(response, role)
    finally:
        response.close()
    assert without_audit(db_state()) == without_audit(before)
    refusals = audit_entries("permission.denied")
    assert len(refusals) == 1
    assert (refusals[0].actor, refusals[0].detail["endpoint"], refusals[0].detail["method"]) == (f"{role}_user", endpoint, "GET")


@pytest.mark.parametrize("template", list(POST_CASES))
@pytest.mark.parametrize("role", ROLES)
def test_role_post(app, login_as, world, role, template):
    """An allowed POST does its work and writes an audit entry naming the organizer; a refused
    one answers 403 in Chinese and changes nothing but the audit log, which records the
    refusal."""
    org = login_as(role)
    url = _url(template, world)
    endpoint = endpoint_of(app, url, "POST")
    actor = f"{role}_user"
    before = db_state()
    last_entry = max((e.id for e in audit_entries()), default=0)
    response = org.post(url, POST_CASES[template](world))
    new_entries = [e for e in audit_entries() if e.id > last_entry]
    if expected(role, endpoint, "POST"):
        assert response.status_code == 302, (response.status_code, text(response)[:500])
        assert without_audit(db_state()) != without_audit(before)
        if endpoint in PER_BALLOT:
            return  # see test_paper_ballot_entry_writes_no_audit_entry
        assert new_entries and all(e.actor == actor for e in new_entries)
        assert all(e.action in audit.ACTION_LABELS and e.action != "permission.denied" for e in new_entries)
        return
    assert_refused(response, role)
    assert without_audit(db_state()) == without_audit(before)
    assert [(e.actor, e.action, e.detail["endpoint"], e.detail["method"]) for e in new_entries] == [(actor, "permission.denied", endpoint, "POST")]


#: Pages whose buttons and links the template test reads (the lists' pages, and a 票决 meeting).
PAGES = [u for u in GET_URLS if "." not in u.rsplit("/", 1)[-1] and "/live/" not in u] + [
    "/organizer/meetings/{x}",
    "/organizer/rounds/{rs}/results",
]


@pytest.mark.parametrize("role", ROLES)
def test_pages_offer_only_what_the_role_may_use(app, login_as, world, role):
    """Every form and every console link on every page a role can open leads somewhere that
    role is allowed: no button that would answer 403 (the templates ask ``can()``)."""
    org = login_as(role)
    checked = 0
    for template in PAGES:
        url = _url(template, world)
        if not expected(role, endpoint_of(app, url, "GET"), "GET"):
            continue
        html = text(org.get(url))
        for action in re.findall(r'<form method="post" action="([^"]+)"', html):
            if action == "/logout":
                continue
            endpoint = endpoint_of(app, action, "POST")
            assert expected(role, endpoint, "POST"), (role, url, "offers", endpoint)
            checked += 1
        for link in re.findall(r'href="(/organizer/[^"#]*)', html):
            endpoint = endpoint_of(app, link.replace("&amp;", "&"), "GET")
            assert expected(role, endpoint, "GET"), (role, url, "links to", endpoint)
            checked += 1
    assert checked


def test_each_role_sees_its_own_buttons(login_as, world):
    """The meeting page: counters get the round buttons and check-in, not set-up; observers
    get no form at all but the log-out."""
    page = f"/organizer/meetings/{world['m']}"
    counter = text(login_as(COUNTER).get(page))
    assert ">开始投票</button>" in counter and "保存实到人数" in counter
    for setup in ("添加轮次", "生成测评码", "作废", "更换链接", "添加类别", "添加对象"):
        assert setup not in counter, setup
    assert "（计票员）" in counter


def test_observer_sees_no_form(login_as, world):
    observer = login_as(OBSERVER)
    html = text(observer.get(f"/organizer/meetings/{world['m']}"))
    assert re.findall(r'<form method="post" action="([^"]+)"', html) == ["/logout"]
    assert "（监票员）" in html and "操作日志" in html and "用户管理" not in html


# ------------------------------------------------------------------------------------------
# Accounts
# ------------------------------------------------------------------------------------------


@pytest.fixture
def admin(login_as):
    return login_as(ADMIN, "zuzhibu")


def user_named(username: str) -> Organizer | None:
    db.session.rollback()
    return db.session.scalar(select(Organizer).where(Organizer.username == username))


def test_admin_creates_a_user_who_logs_in_with_that_role(admin, app):
    """A new account logs in with its role; the creation is in the log without the password."""
    response = admin.post("/organizer/users", {"username": "jipiao", "role": "counter", "password": "初始密码longenough", "confirm": "初始密码longenough"})
    assert response.status_code == 302
    page = text(admin.get("/organizer/users"))
    assert "已创建用户「jipiao」（计票员）" in page and "jipiao" in page
    entry = audit_entries("user.create")[-1]
    assert (entry.actor, entry.detail) == ("zuzhibu", {"username": "jipiao", "role": "counter"})
    assert "初始密码" not in repr([e.detail for e in audit_entries()])

    other = app.test_client()
    assert AuthActions(other).login("jipiao", "初始密码longenough").status_code == 302
    assert_refused(other.get("/organizer/users"), COUNTER)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "zuzhibu", "role": "counter", "password": "longpassword", "confirm": "longpassword"}, "用户名「zuzhibu」已存在"),
        ({"username": "new user", "role": "counter", "password": "longpassword", "confirm": "longpassword"}, "不含空格"),
        ({"username": "cli", "role": "counter", "password": "longpassword", "confirm": "longpassword"}, "系统保留"),
        ({"username": "jipiao", "role": "counter", "password": "short", "confirm": "short"}, "密码应为 8–256 位"),
        ({"username": "jipiao", "role": "counter", "password": "longpassword", "confirm": "otherpassword"}, "两次输入的密码不一致"),
        ({"username": "jipiao", "role": "root", "password": "longpassword", "confirm": "longpassword"}, "不是有效的选择"),
        ({"username": "jipiao", "role": "disabled", "password": "longpassword", "confirm": "longpassword"}, "不是有效的选择"),
        ({"username": "", "role": "counter", "password": "longpassword", "confirm": "longpassword"}, "请填写用户名"),
    ],
)
def test_create_user_is_validated_on_the_server(admin, data, message):
    """Every refusal is explained in Chinese and creates nothing."""
    before = db_state()
    response = admin.post("/organizer/users", data)
    assert response.status_code == 400
    assert message in text(response)
    assert db_state() == before


def test_admin_changes_a_role_and_the_change_applies_at_once(admin, app):
    """The role is read on every request: a counter made observer loses the round buttons
    in the session already open."""
    counter = make_user("jipiao", COUNTER)
    other = app.test_client()
    AuthActions(other).login("jipiao", PASSWORD)
    assert other.get("/organizer/").status_code == 200
    assert admin.post(f"/organizer/users/{counter.id}/role", {"role": OBSERVER}).status_code == 302
    assert user_named("jipiao").role == OBSERVER
    entry = audit_entries("user.role")[-1]
    assert entry.detail == {"username": "jipiao", "role": OBSERVER, "previous": COUNTER}
    assert "更改用户角色" in text(admin.get("/organizer/audit")) and "原角色：计票员" in text(admin.get("/organizer/audit"))
    token = OrganizerClient(other).token()
    assert_refused(other.post("/organizer/meetings/1/present", data={"present": "3", "csrf_token": token}), OBSERVER)


def test_admin_resets_a_password(admin, app):
    """The old password stops working, the new one works; the log says who, never the password."""
    user = make_user("jipiao", COUNTER)
    response = admin.post(f"/organizer/users/{user.id}/password", {"password": "brand new pass", "confirm": "brand new pass"})
    assert response.status_code == 302
    assert user_named("jipiao").check_password("brand new pass")
    assert not user_named("jipiao").check_password(PASSWORD)
    entry = audit_entries("user.password")[-1]
    assert (entry.actor, entry.detail) == ("zuzhibu", {"username": "jipiao"})
    short = admin.post(f"/organizer/users/{user.id}/password", {"password": "short", "confirm": "short"})
    assert short.status_code == 400 and "密码应为 8–256 位" in text(short)


def test_disabled_user_cannot_log_in_and_their_session_ends(admin, app):
    """A stopped account: no log-in (told so only with the right password), its open session
    ends at the next request, the row stays (the log's names keep their person)."""
    user = make_user("jipiao", COUNTER)
    other = app.test_client()
    AuthActions(other).login("jipiao", PASSWORD)
    assert other.get("/organizer/").status_code == 200

    assert admin.post(f"/organizer/users/{user.id}/disable").status_code == 302
    assert user_named("jipiao").role == "disabled"
    assert audit_entries("user.disable")[-1].detail == {"username": "jipiao", "previous": COUNTER}
    assert is_login_redirect(other.get("/organizer/"))

    again = app.test_client()
    refused = AuthActions(again).login("jipiao", PASSWORD)
    assert refused.status_code == 403 and "此账号已停用" in text(refused)
    assert is_login_redirect(again.get("/organizer/"))
    wrong = AuthActions(app.test_client()).login("jipiao", "wrong password")
    assert "此账号已停用" not in text(wrong) and "用户名或密码不正确" in text(wrong)

    # Giving it a role again re-enables it.
    assert admin.post(f"/organizer/users/{user.id}/role", {"role": OBSERVER}).status_code == 302
    assert AuthActions(app.test_client()).login("jipiao", PASSWORD).status_code == 302


NEW_PASSWORD = {"password": "brand new pass", "confirm": "brand new pass"}


def test_a_password_reset_ends_the_accounts_other_sessions(admin, app):
    """A reset password ends every session opened with the old one, at its next request (the
    session carries a fingerprint of the password hash); the new password logs in."""
    user = make_user("jipiao", COUNTER)
    other = app.test_client()
    AuthActions(other).login("jipiao", PASSWORD)
    assert other.get("/organizer/").status_code == 200

    assert admin.post(f"/organizer/users/{user.id}/password", NEW_PASSWORD).status_code == 302
    assert is_login_redirect(other.get("/organizer/"))
    assert audit_entries("user.password")[-1].detail == {"username": "jipiao"}
    again = app.test_client()
    assert AuthActions(again).login("jipiao", "brand new pass").status_code == 302
    assert again.get("/organizer/").status_code == 200


def test_resetting_someone_elses_password_keeps_the_admin_logged_in(admin):
    """Only the account whose password changed is logged out, never the admin who changed it."""
    user = make_user("jipiao", COUNTER)
    assert admin.post(f"/organizer/users/{user.id}/password", NEW_PASSWORD).status_code == 302
    page = admin.get("/organizer/users")
    assert page.status_code == 200 and "「jipiao」的密码已重置" in text(page)


def test_resetting_ones_own_password_keeps_this_session_and_ends_the_others(admin, app):
    """An admin who resets their own password stays logged in where they did it (logged in
    again under the new fingerprint); their session elsewhere ends."""
    elsewhere = app.test_client()
    AuthActions(elsewhere).login("zuzhibu", PASSWORD)
    assert elsewhere.get("/organizer/").status_code == 200
    me = user_named("zuzhibu")

    response = admin.post(f"/organizer/users/{me.id}/password", {"password": "my new password", "confirm": "my new password"})
    assert response.status_code == 302 and urlparse(response.headers["Location"]).path == "/organizer/users"
    page = admin.get("/organizer/users")
    assert page.status_code == 200 and "「zuzhibu」的密码已重置" in text(page)
    assert is_login_redirect(elsewhere.get("/organizer/"))
    entry = audit_entries("user.password")[-1]
    assert (entry.actor, entry.detail) == ("zuzhibu", {"username": "zuzhibu"})


def test_cli_password_reset_ends_open_sessions(app, runner):
    """``create-user``/``create-admin`` on an existing account set its password (services
    save_user): sessions opened with the old one end as well."""
    make_user("jipiao", COUNTER)
    other = app.test_client()
    AuthActions(other).login("jipiao", PASSWORD)
    assert other.get("/organizer/").status_code == 200
    result = runner.invoke(args=["create-user", "jipiao", "--role", "counter", "--password-stdin"], input="newpassword\n")
    assert result.exit_code == 0, result.output
    assert is_login_redirect(other.get("/organizer/"))
    assert audit_entries("user.password")[-1].actor == "cli"


def _session_user_id(client, value: str) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = value
        session["_fresh"] = True


def test_a_session_with_the_current_fingerprint_is_logged_in(app):
    """The control for the tests below: a session holding what ``get_id()`` makes logs in."""
    user = make_user("jipiao", COUNTER)
    browser = app.test_client()
    _session_user_id(browser, user.get_id())
    assert browser.get("/organizer/").status_code == 200


@pytest.mark.parametrize(
    "shape",
    [
        "{id}",  # the old format: a bare id, from before fingerprints
        "{id}:",
        ":{fp}",
        "{id}:{fp}0",
        "{id}:{fp_upper}",
        "{id}:{fp_short}é",
        "{id}:{fp} ",
        "abc",
        "",
        "99999999999999999999999:{fp}",
        "{id}:{fp}:{fp}",
    ],
)
def test_an_old_format_or_malformed_session_is_logged_out(app, shape):
    """A session whose user id is not ``<id>:<fingerprint>`` is simply not logged in: the
    login page, never an error."""
    user = make_user("jipiao", COUNTER)
    fp = user.session_fingerprint()
    browser = app.test_client()
    _session_user_id(browser, shape.format(id=user.id, fp=fp, fp_upper=fp.upper(), fp_short=fp[:-1]))
    assert is_login_redirect(browser.get("/organizer/"))


def test_a_tampered_fingerprint_is_logged_out(app):
    """The right id with a fingerprint of the right shape but not this password's: logged out."""
    user = make_user("jipiao", COUNTER)
    fp = user.session_fingerprint()
    for forged in ("0" * 16, fp[:-1] + ("0" if fp[-1] != "0" else "1")):
        browser = app.test_client()
        _session_user_id(browser, f"{user.id}:{forged}")
        assert is_login_redirect(browser.get("/organizer/")), forged


def test_a_remember_me_cookie_follows_the_same_rule(app, admin):
    """Flask-Login hands a remember-me cookie's id to the same user loader: one with the
    current fingerprint logs in, a bare id or one from before a reset does not."""
    from flask_login.utils import encode_cookie

    user = make_user("jipiao", COUNTER)
    before_reset = user.get_id()

    def with_cookie(value: str):
        browser = app.test_client()
        browser.set_cookie("remember_token", encode_cookie(value))
        return browser.get("/organizer/")

    assert with_cookie(before_reset).status_code == 200
    assert is_login_redirect(with_cookie(str(user.id)))
    assert admin.post(f"/organizer/users/{user.id}/password", NEW_PASSWORD).status_code == 302
    assert is_login_redirect(with_cookie(before_reset))
    assert with_cookie(user_named("jipiao").get_id()).status_code == 200


def test_the_last_admin_cannot_demote_or_disable_themself(admin):
    """At least one admin always remains: the refusal is explained and changes nothing."""
    me = user_named("zuzhibu")
    make_user("jipiao", COUNTER)
    before = db_state()
    for url, data in ((f"/organizer/users/{me.id}/role", {"role": COUNTER}), (f"/organizer/users/{me.id}/disable", {})):
        response = admin.post(url, data)
        assert response.status_code == 409
        assert "至少须保留一名管理员" in text(response)
        assert db_state() == before
    assert user_named("zuzhibu").role == ADMIN


def test_an_admin_may_step_down_when_another_admin_remains(admin):
    """With a second admin, the first may become a counter: they land on the console, and the
    user page is closed to them from then on."""
    make_user("kaohe2", ADMIN)
    me = user_named("zuzhibu")
    response = admin.post(f"/organizer/users/{me.id}/role", {"role": COUNTER})
    assert response.status_code == 302 and response.headers["Location"] == "/organizer/"
    assert_refused(admin.get("/organizer/users"), COUNTER)


def test_the_last_admin_guard_counts_only_admins(app):
    """Services: a disabled or counter account does not count as an admin."""
    from app.services import users

    only = make_user("zuzhibu", ADMIN)
    make_user("old_admin", "disabled")
    make_user("jipiao", COUNTER)
    with pytest.raises(users.UserError, match="至少须保留一名管理员"):
        users.set_role(only, OBSERVER, "test")
    with pytest.raises(users.UserError, match="至少须保留一名管理员"):
        users.disable(only, "test")
    with pytest.raises(users.UserError, match="已停用"):
        users.disable(user_named("old_admin"), "test")


def test_unknown_user_is_404(admin):
    assert admin.post("/organizer/users/999999/role", {"role": COUNTER}).status_code == 404


# ------------------------------------------------------------------------------------------
# Accounts from the shell
# ------------------------------------------------------------------------------------------


def test_cli_create_user_with_a_role(runner, client):
    """``create-user NAME --role counter --password-stdin`` creates a counter who can log in."""
    result = runner.invoke(args=["create-user", "jipiao", "--role", "counter", "--password-stdin"], input="longpassword\n")
    assert result.exit_code == 0, result.output
    assert "已创建用户 jipiao（计票员）" in result.output
    user = user_named("jipiao")
    assert user.role == COUNTER and user.check_password("longpassword")
    assert (audit_entries("user.create")[-1].actor, audit_entries("user.create")[-1].detail) == ("cli", {"username": "jipiao", "role": "counter"})
    assert AuthActions(client).login("jipiao", "longpassword").status_code == 302


def test_cli_create_user_updates_an_existing_account(runner):
    """On an existing name it resets the password and sets the role (a way back in)."""
    make_user("jipiao", "disabled")
    result = runner.invoke(args=["create-user", "jipiao", "--role", "observer", "--password-stdin"], input="newpassword\n")
    assert result.exit_code == 0, result.output
    assert "已更新用户 jipiao（监票员）" in result.output
    user = user_named("jipiao")
    assert user.role == OBSERVER and user.check_password("newpassword")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "root"], "longpassword\n", "Invalid value for '--role'"),
        (["--role", "counter"], "short\n", "密码至少 8 位"),
    ],
)
def test_cli_create_user_refusals(runner, args, stdin, message):
    result = runner.invoke(args=["create-user", "jipiao", *args, "--password-stdin"], input=stdin)
    assert result.exit_code != 0
    assert message in result.output
    assert user_named("jipiao") is None


def test_cli_keeps_the_last_admin(runner):
    make_user("zuzhibu", ADMIN)
    result = runner.invoke(args=["create-user", "zuzhibu", "--role", "counter", "--password-stdin"], input="longpassword\n")
    assert result.exit_code != 0 and "至少须保留一名管理员" in result.output
    assert user_named("zuzhibu").role == ADMIN


def test_cli_create_admin_makes_an_existing_account_admin_again(runner):
    """create-admin is the recovery command: whatever the account was, it is an admin after."""
    make_user("zuzhibu", "disabled")
    result = runner.invoke(args=["create-admin", "zuzhibu", "--password-stdin"], input="longpassword\n")
    assert result.exit_code == 0, result.output
    user = user_named("zuzhibu")
    assert user.role == ADMIN and user.check_password("longpassword")


# ------------------------------------------------------------------------------------------
# The audit log
# ------------------------------------------------------------------------------------------


def test_round_actions_are_logged_with_their_actor(login_as, make_meeting):
    """R25: open, close, publish by a counter — three entries naming the counter, shown on the
    meeting's log in Chinese, newest first."""
    meeting = make_meeting()
    round_id = meeting.rounds[0].id
    counter = login_as(COUNTER, "jipiao")
    for action in ("open", "close", "publish"):
        assert counter.post(f"/organizer/rounds/{round_id}/{action}").status_code == 302
    assert db.session.get(Round, round_id).state is RoundState.PUBLISHED
    entries = [e for e in audit_entries() if e.actor == "jipiao" and e.action != "organizer.login"]
    assert [e.action for e in entries] == ["round.open", "round.close", "round.publish"]
    assert entries[-1].detail["show_on_phones"] is False
    html = text(counter.get(f"/organizer/meetings/{meeting.id}/audit"))
    labels = [label for label in re.findall(r'<td title="([a-z._]+)">', html)]
    assert labels[:3] == ["round.publish", "round.close", "round.open"]
    assert "公布结果" in html and "结束投票" in html and "开始投票" in html


def test_ballots_are_never_logged(make_meeting, codes_of, client):
    """R23: casting (on a phone or through the API) adds nothing to the audit log."""
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    before = len(audit_entries())
    for code in codes_of(meeting)[:3]:
        voting.cast(voting.resolve(code), round_.id, {round_.targets[0].id: 0})
    assert len(audit_entries()) == before


def test_paper_ballot_entry_is_logged_without_code_or_contents(login_as, make_meeting, codes_of):
    """R25 and R23 together: who entered a paper ballot, and when, is logged — scrutineers must
    be able to see who put paper ballots into the count (a counter could otherwise fill unused
    slips unseen) — but never the slip's code or what the ballot says."""
    meeting = make_meeting(open=True)
    counter = login_as(COUNTER)
    before = len(audit_entries())
    code = codes_of(meeting)[0]
    response = counter.post(f"/organizer/rounds/{meeting.rounds[0].id}/paper", {"code": code, f"t{meeting.rounds[0].targets[0].id}": "0"})
    assert response.status_code == 302, text(response)[:300]
    entries = audit_entries()[before:]
    assert [e.action for e in entries] == ["ballot.paper_entry"]
    assert set(entries[0].detail) == {"round_id"} and code not in str(entries[0].detail)


def _entry(actor: str, action: str, meeting_id: int | None = None, created: datetime | None = None, **detail) -> AuditEntry:
    entry = audit.log(actor, action, meeting_id, **detail)
    if created is not None:
        entry.created_dt = created
    db.session.commit()
    return entry


def test_audit_page_local_times_labels_and_fallback(login_as, make_meeting, monkeypatch):
    """Times in the meeting's zone (UTC 01:02:03 → 北京时间 09:02:03); a code without a
    label is shown as it is."""
    monkeypatch.setenv("CEPING_TIMEZONE", "Asia/Shanghai")
    meeting = make_meeting()
    _entry("kaohe", "round.open", meeting.id, datetime(2026, 12, 1, 1, 2, 3), round_id=7, title="第一轮")
    _entry("kaohe", "something.new", None, datetime(2026, 12, 1, 1, 5, 0))
    html = text(login_as(OBSERVER).get("/organizer/audit"))
    assert "时间（Asia/Shanghai）" in html
    assert "2026-12-01 09:02:03" in html and "2026-12-01 09:05:00" in html
    assert "开始投票" in html and "轮次编号：7；名称：第一轮" in html
    assert re.search(r'<td title="something.new">something.new</td>', html)
    assert html.index("something.new") < html.index("第一轮")  # newest first
    assert meeting.title in html


def test_audit_page_per_meeting_and_pagination(login_as, make_meeting):
    """The meeting's log holds only its entries; 50 a page, with links between pages."""
    one, other = make_meeting(), make_meeting(title="另一场会议")
    for i in range(60):
        _entry("kaohe", "meeting.present", one.id, present=i)
    _entry("kaohe", "meeting.present", other.id, present=999)
    observer = login_as(OBSERVER)
    first = text(observer.get(f"/organizer/meetings/{one.id}/audit"))
    total = 60 + sum(1 for e in audit_entries() if e.meeting_id == one.id and e.action != "meeting.present")
    assert f"共 {total} 条" in first
    assert "实到人数：59" in first and "实到人数：999" not in first
    assert first.count("<tr><td class=\"num\">") == 50
    assert f"/organizer/meetings/{one.id}/audit?page=2" in first
    second = text(observer.get(f"/organizer/meetings/{one.id}/audit?page=2"))
    assert "实到人数：0" in second and "实到人数：59" not in second
    assert observer.get(f"/organizer/meetings/{one.id}/audit?page=99").status_code == 200
    assert observer.get("/organizer/meetings/999999/audit").status_code == 404
    everything = text(observer.get("/organizer/audit"))
    assert "另一场会议" in everything


HOSTILE = ["=HYPERLINK(\"http://evil\")", "+1+2", "-3+4", "@SUM(A1)"]


@pytest.fixture
def hostile_log(make_meeting):
    """Meetings whose titles Excel would run as formulas, each with a logged action."""
    ids = []
    for title in HOSTILE:
        meeting = make_meeting(title=title)
        ids.append(meeting.id)
        _entry("kaohe", "meeting.display_link", meeting.id)
    return ids


def test_audit_csv_has_a_bom_and_neutralized_formulas(login_as, hostile_log):
    """The CSV opens in Excel/WPS (UTF-8 with BOM); no cell starts with = + - @."""
    response = login_as(COUNTER).get("/organizer/audit.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][1:] == ["操作人", "操作", "操作代码", "会议编号", "会议", "详情"]
    titles = [row[5] for row in rows[1:] if row[3] == "meeting.display_link"]
    assert sorted(titles) == sorted("'" + t for t in HOSTILE)
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert any(row[2] == "更换大屏链接" and row[1] == "kaohe" for row in rows)


def test_audit_xlsx_content_and_neutralized_formulas(login_as, hostile_log):
    """The XLSX: a title, the header, one row per entry, newest first; no formula cell."""
    meeting_id = hostile_log[0]
    response = login_as(OBSERVER).get(f"/organizer/meetings/{meeting_id}/audit.xlsx")
    assert response.status_code == 200 and response.data.startswith(b"PK")
    ws = load_workbook(io.BytesIO(response.data)).active
    values = [list(row) for row in ws.iter_rows(values_only=True)]
    assert values[0][0] == "操作日志：" + HOSTILE[0]  # starts with 操, harmless
    assert values[1][1:] == ["操作人", "操作", "操作代码", "会议编号", "会议", "详情"]
    actions = [row[3] for row in values[2:]]
    assert actions[0] == "meeting.display_link" and actions[-1] == "meeting.import"
    assert all(row[4] == meeting_id and row[5] == "'" + HOSTILE[0] for row in values[2:])
    assert all(cell.data_type != "f" for row in ws.iter_rows() for cell in row)


def test_refused_attempts_show_in_the_meeting_log(login_as, make_meeting):
    """A refused action is an organizer action too (R25): it lands in the meeting's log."""
    meeting = make_meeting()
    observer = login_as(OBSERVER, "jianpiao")
    assert_refused(observer.post(f"/organizer/meetings/{meeting.id}/present", {"present": "3"}), OBSERVER)
    assert_refused(observer.post(f"/organizer/rounds/{meeting.rounds[0].id}/open"), OBSERVER)
    entries = audit_entries("permission.denied")
    assert [e.meeting_id for e in entries] == [meeting.id, meeting.id]
    html = text(observer.get(f"/organizer/meetings/{meeting.id}/audit"))
    assert html.count("越权操作被拒绝") == 2 and "角色：监票员" in html


def test_refusal_for_a_missing_meeting_is_logged_without_it(login_as):
    """An id that names no meeting still gets a 403 (not a database error) and a log entry."""
    observer = login_as(OBSERVER)
    assert_refused(observer.post("/organizer/meetings/424242/present", {"present": "3"}), OBSERVER)
    entry = audit_entries("permission.denied")[-1]
    assert entry.meeting_id is None and entry.detail["path"] == "/organizer/meetings/424242/present"
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == 0
