"""After publication (R24, R25, issue 5): the round's receipt list and, apart from it, the
anonymous ballots as CSV or JSON — for every role, they are read-only."""

from __future__ import annotations

from flask import Response, abort, render_template, request

from ..models import Round
from ..services import publication
from .views import _download, _round, bp

BALLOT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def _published_round(round_id: int) -> Round:
    round_ = _round(round_id)
    try:
        publication.require_published(round_)
    except publication.NotPublished as error:
        abort(Response(render_template("error.html", code=error.status, message=str(error)), status=error.status))
    return round_


@bp.get("/rounds/<int:round_id>/receipts")
def receipts(round_id: int):
    """回执码公示: every receipt code of the round in code order, with a search box."""
    round_ = _published_round(round_id)
    listing = publication.receipt_list(round_, request.args.get("q", ""))
    return render_template("organizer/receipts.html", listing=listing, round=round_)


@bp.get("/rounds/<int:round_id>/ballots.<any(csv, json):fmt>")
def ballots_file(round_id: int, fmt: str):
    """The anonymous ballots, for the archive and for anyone to recount (never with receipts)."""
    round_ = _published_round(round_id)
    data = publication.ballots_csv(round_) if fmt == "csv" else publication.ballots_json(round_)
    return _download(data, publication.ballots_filename(round_, fmt), BALLOT_TYPES[fmt])
