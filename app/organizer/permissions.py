"""Who may do what in the organizer's console: one table, endpoint → roles.

The table is the whole policy. ``protect(bp)`` enforces it before every request of a
blueprint whose pages need a log-in, and templates ask ``can('organizer.round_transition')``
to hide what the current role may not use, so a page never offers a button that answers 403.

Rules that the table does not have to repeat:
- an endpoint missing from the table is for admins only (routes are being added all the time;
  forgetting one must not open it to everybody);
- read-only roles (监票员) are refused every request that is not a GET, whatever the table says
  (an endpoint that shows a form on GET and takes it on POST stays closed to them);
- an unknown or stopped role (``disabled``) is allowed nothing.

A refusal answers 403 with the reason in Chinese, changes nothing, and is written to the audit
log (R25: a refused attempt is an organizer action too).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request
from flask_login import current_user

from ..models.organizer import ROLE_ADMIN, ROLE_COUNTER, ROLE_LABELS, ROLE_OBSERVER
from ..services import audit

ADMINS = frozenset({ROLE_ADMIN})
#: Those who run the meeting in the hall.
RUNNERS = frozenset({ROLE_ADMIN, ROLE_COUNTER})
EVERYONE = frozenset({ROLE_ADMIN, ROLE_COUNTER, ROLE_OBSERVER})
#: Roles that may only read, whatever an endpoint's entry says.
READ_ONLY_ROLES = frozenset({ROLE_OBSERVER})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

PERMISSIONS: dict[str, frozenset[str]] = {
    # --- Reading: turnout, results, downloads of results, the audit log ---------------------
    "organizer.index": EVERYONE,
    "organizer.meeting": EVERYONE,
    "organizer.live_state": EVERYONE,
    "organizer.live_events": EVERYONE,
    "organizer.results": EVERYONE,
    "organizer.results_file": EVERYONE,
    "organizer.assessment": EVERYONE,  # the composite table is a result (R1–R4)
    "organizer.assessment_file": EVERYONE,
    "organizer.audit_log": EVERYONE,
    "organizer.audit_file": EVERYONE,
    # After publication: the receipt list and the anonymous ballots (R24, R25; read-only).
    "organizer.receipts": EVERYONE,
    "organizer.ballots_file": EVERYONE,
    # --- Running the meeting: rounds, check-in, paper ballots -------------------------------
    "organizer.round_transition": RUNNERS,  # open / close / publish
    "organizer.round_mode": RUNNERS,  # hidden or 随投随显示 before publication (R24)
    "organizer.set_present": RUNNERS,  # check-in: 实到 (R19, R20)
    # A runoff is fixed by the count itself (the tied candidates, the open seats: R21), and
    # the counter who closes a tied round in the hall must be able to start it at once.
    "organizer.runoff": RUNNERS,
    "organizer.paper_ballot": RUNNERS,  # paper ballot entry (§6)
    # --- Set-up: admins only ----------------------------------------------------------------
    "organizer.new_meeting": ADMINS,
    "organizer.import_meeting": ADMINS,
    "organizer.import_template": ADMINS,
    "organizer.add_category": ADMINS,
    "organizer.add_target": ADMINS,
    "organizer.add_round": ADMINS,
    "organizer.round_items": ADMINS,  # the ballot's content: dimensions, 逆向测评, 使用意向 (R9, R15, R18)
    # Slips are the voters' credentials: only admins issue, print or void them.
    "organizer.issue_slips": ADMINS,
    "organizer.slips_pdf": ADMINS,
    "organizer.slip_pdf": ADMINS,
    "organizer.slip_job": ADMINS,  # the slip sheet as a background job (app/organizer/jobs.py)
    "organizer.slip_job_state": ADMINS,
    "organizer.slip_job_file": ADMINS,
    "organizer.void_slip": ADMINS,
    "organizer.new_display_link": ADMINS,
    # The archive holds slip states and ballots: the whole record, for admins (R25).
    "organizer.meeting_archive": ADMINS,
    # 模拟测试: starting and purging a rehearsal deletes ballots — set-up, not running.
    "organizer.rehearsal_start": ADMINS,
    "organizer.rehearsal_purge": ADMINS,
    "organizer.import_units": ADMINS,
    "organizer.save_unit": ADMINS,
    "organizer.units_template": ADMINS,
    "organizer.assessment_settings": ADMINS,
    "organizer.group_settings": ADMINS,
    "organizer.create_selection": ADMINS,
    "organizer.archive_history": ADMINS,
    # --- Accounts -----------------------------------------------------------------------------
    "organizer.users": ADMINS,
    "organizer.create_user": ADMINS,
    "organizer.user_role": ADMINS,
    "organizer.user_password": ADMINS,
    "organizer.user_disable": ADMINS,
}


def allowed_roles(endpoint: str | None) -> frozenset[str]:
    """The roles the table gives ``endpoint``; admins only for an endpoint it does not list."""
    return PERMISSIONS.get(endpoint or "", ADMINS)


def is_allowed(role: str | None, endpoint: str | None, method: str) -> bool:
    """:return: whether ``role`` may send ``method`` to ``endpoint``."""
    if role not in allowed_roles(endpoint):
        return False
    return method.upper() in SAFE_METHODS or role not in READ_ONLY_ROLES


def can(endpoint: str) -> bool:
    """For templates: may the current organizer use ``endpoint``? For an endpoint that takes
    a POST (a button, a form) that means may they POST to it."""
    if not current_user.is_authenticated:
        return False
    try:
        methods = {m for rule in current_app.url_map.iter_rules(endpoint) for m in rule.methods or ()}
    except KeyError:  # not routed (yet): judge it as a write, the stricter reading
        methods = {"POST"}
    writes = bool(methods - SAFE_METHODS)
    return is_allowed(current_user.role, endpoint, "POST" if writes else "GET")


def refusal_message(role: str | None) -> str:
    return f"您的角色（{ROLE_LABELS.get(role or '', role or '未知')}）无权执行此操作"


def enforce() -> Response | None:
    """Before each request of a protected blueprint: log in first, then the table decides."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if is_allowed(current_user.role, request.endpoint, request.method):
        return None
    audit.log_refusal(current_user.username, current_user.role, request.endpoint, request.method, request.path, request.view_args or {})
    message = refusal_message(current_user.role)
    return Response(render_template("error.html", code=403, message=message), status=403)


def protect(bp: Blueprint) -> None:
    """Every endpoint of ``bp`` needs a log-in and a role the table allows."""
    bp.before_request(enforce)
