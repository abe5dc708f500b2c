"""The attendee's view of a published round (R24, R25, issue 5): the receipt list, to find
the code the phone showed after casting, and — on its own, never beside the receipts — the
anonymous ballots to recount. The slip code in the URL is the credential, as for voting."""

from __future__ import annotations

from flask import Response, render_template, request

from ..services import publication, voting
from .views import _message, _resolve, _retry_header, bp

BALLOT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def _published(code: str, round_id: int):
    return publication.published_round_of(_resolve(code), round_id)


def _refusal(error: voting.VotingError, code: str):
    body, status = _message("暂不能查看", str(error), error.status, code=code)
    return body, status, _retry_header(error)


@bp.get("/v/<code>/r/<int:round_id>/receipts")
def receipts(code: str, round_id: int):
    """回执码公示: is my receipt on the list? A GET form searches it without JavaScript."""
    try:
        round_ = _published(code, round_id)
    except voting.VotingError as error:
        return _refusal(error, code)
    listing = publication.receipt_list(round_, request.args.get("q", ""))
    return render_template("voting/receipts.html", code=code, listing=listing)


@bp.get("/v/<code>/r/<int:round_id>/ballots.<any(csv, json):fmt>")
def ballots_file(code: str, round_id: int, fmt: str):
    """The round's anonymous ballots as CSV or JSON (``flask recount`` reads the JSON)."""
    try:
        round_ = _published(code, round_id)
    except voting.VotingError as error:
        return _refusal(error, code)
    data = publication.ballots_csv(round_) if fmt == "csv" else publication.ballots_json(round_)
    response = Response(data, mimetype=BALLOT_TYPES[fmt])
    from urllib.parse import quote

    name = publication.ballots_filename(round_, fmt)
    response.headers["Content-Disposition"] = f"attachment; filename=\"ballots.{fmt}\"; filename*=UTF-8''{quote(name)}"
    return response
