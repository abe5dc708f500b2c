"""The attendee's phone pages: enter a code, fill the ballot, review, submit.

No session and no cookie is used (cookies may be off in WeChat's browser): the slip code in
the URL is the credential, and the ballot's marks travel in the form between the fill and the
review steps. Every step is a plain form post, so the pages work without JavaScript.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from ..core import codes
from ..services import voting
from ..services.ballots import SlipStatus, ballot_view, slip_status
from ..services.publication import published_rounds
from ..services.ratelimit import client_address
from ..web import ballot_from_form
from ..services.results import round_report

bp = Blueprint("voting", __name__)



def _message(
    title: str,
    message: str,
    status: int,
    *,
    code: str | None = None,
    follow: SlipStatus | None = None,
    receipt: str | None = None,
    published: list | None = None,
):
    """A message page; with ``follow`` it keeps up with the meeting by itself (a script polls
    the slip's state, or without JavaScript the page reloads). ``receipt``: the code shown
    once after a cast, to be checked against the published list (never stored with the slip).
    ``published``: the meeting's published rounds, linked to their receipt lists and ballots."""
    report = round_report(follow.shown_round) if follow and follow.shown_round else None
    return (
        render_template(
            "voting/message.html", title=title, message=message, code=code, follow=follow, report=report, receipt=receipt, published=published
        ),
        status,
    )


def _refusal(error: voting.VotingError, code: str | None = None):
    body, status = _message("无法投票", str(error), error.status, code=code)
    return body, status, _retry_header(error)


def _retry_header(error: voting.VotingError) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after)} if isinstance(error, voting.TooManyAttempts) else {}


def _resolve(code: str):
    """The slip for a code, rate-limited per client address (H5)."""
    return voting.resolve(code, address=client_address())


def _ballot_page(code: str, view, checked: voting.CheckedBallot | None = None, error: str | None = None, status: int = 200):
    marks = checked.marks if checked else {}
    answers = checked.item_marks if checked else {}
    return render_template("voting/ballot.html", code=code, ballot=view, marks=marks, answers=answers, error=error), status


@bp.route("/v", methods=["GET", "POST"])
def enter():
    """Type the code printed on the slip (for phones that cannot scan)."""
    error = None
    if request.method == "POST":
        try:
            canonical = codes.normalize(request.form.get("code", ""))
        except codes.CodeError as exc:
            error = str(exc)
        else:
            return redirect(url_for(".slip", code=canonical))
    return render_template("voting/enter.html", error=error, typed=request.form.get("code", "")), (400 if error else 200)


@bp.get("/v/<code>")
def slip(code: str):
    """The slip's page: the ballot of the open round, or what to wait for."""
    try:
        s = _resolve(code)
    except voting.VotingError as error:
        return _refusal(error)
    status = slip_status(s)
    if status.ballot_round is None:
        return _message(status.title, status.message, 200, code=code, follow=status, published=published_rounds(s))
    return _ballot_page(code, ballot_view(status.ballot_round))


@bp.post("/v/<code>/r/<int:round_id>")
def submit(code: str, round_id: int):
    """One post for three steps: ``review`` (check and show the choices), ``edit`` (back to
    the ballot with the choices kept) and ``submit`` (cast)."""
    try:
        s = _resolve(code)
        round_ = voting.open_round_for(s, round_id)
    except voting.VotingError as error:
        return _refusal(error, code)
    marks, items = ballot_from_form(request.form)
    view = ballot_view(round_)
    action = request.form.get("action", "review")
    try:
        checked = voting.check_ballot(round_, marks, items)
    except voting.InvalidBallot as error:
        return _ballot_page(code, view, error=str(error), status=error.status)
    if action == "edit":
        return _ballot_page(code, view, checked)
    if action != "submit":
        return render_template("voting/review.html", code=code, ballot=view, marks=checked.marks, answers=checked.item_marks)
    try:
        receipt = voting.cast(s, round_id, marks, items)
    except voting.InvalidBallot as error:
        return _ballot_page(code, view, checked, error=str(error), status=error.status)
    except voting.VotingError as error:
        return _refusal(error, code)
    after = slip_status(s)
    if after.ballot_round is not None:
        return _message("投票成功", "您的选票已提交。下一轮投票已开始，请点“刷新”继续。", 200, code=code, receipt=receipt)
    return _message("投票成功", f"您的选票已提交。{after.message}", 200, code=code, follow=after, receipt=receipt)


@bp.get("/v/<code>/state.json")
def slip_state(code: str):
    """What the slip's page shows, as a key that changes when the page should: phones poll it."""
    try:
        s = _resolve(code)
    except voting.VotingError as error:
        return jsonify(error=str(error), reason=error.reason), error.status, _retry_header(error)
    return jsonify(key=slip_status(s).key)


# Pages of published rounds (receipts, anonymous ballots) join this blueprint from their module.
from . import publication  # noqa: E402,F401
