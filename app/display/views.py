"""The hall display (大屏 / projector): turnout live, results when the chair publishes them.

Reached by an unguessable link per meeting (``/display/<token>``) rather than an organizer
session: the projector PC in a hall is often a shared machine that must not carry organizer
powers, and a link can be opened there without typing a password in front of the hall. The
link is read-only, shows nothing before publication in hidden mode (R24), and the organizer
can replace it.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import select

from ..extensions import db
from ..models import Meeting
from ..services import live
from ..services.slips import public_base_url
from ..web import live_stream_response

bp = Blueprint("display", __name__, url_prefix="/display")


def _meeting(token: str) -> Meeting:
    meeting = db.session.scalar(select(Meeting).where(Meeting.display_token == token))
    if meeting is None:
        from flask import abort

        abort(404)
    return meeting


@bp.get("/<token>")
def board(token: str):
    """The projector page; JavaScript keeps it current, without it it reloads every 5 s."""
    meeting = _meeting(token)
    return render_template("display/board.html", state=live.hall_state(meeting), token=token, join_url=f"{public_base_url()}/v")


@bp.get("/<token>/board")
def board_fragment(token: str):
    """The board's changing part as HTML, fetched by the page when the state changes."""
    return render_template("display/_board.html", state=live.hall_state(_meeting(token)))


@bp.get("/<token>/state.json")
def state(token: str):
    """Polling fallback for browsers without EventSource: the same data as an event."""
    return jsonify(live.hall_state(_meeting(token)).event())


@bp.get("/<token>/events")
def events(token: str):
    """Server-Sent Events of the hall state (turnout; never a result before it may show)."""
    return live_stream_response(_meeting(token).id)
