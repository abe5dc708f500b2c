"""JSON API for machines: the same checks and messages as the phone form."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..core.scales import plain_number
from ..services import voting
from ..services.ballots import ballot_view
from ..services.ratelimit import client_address
from .openapi import OPENAPI

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _error(error: voting.VotingError):
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, voting.TooManyAttempts) else {}
    return jsonify(error=str(error), reason=error.reason), error.status, headers


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(OPENAPI)


@bp.get("/ballot/<code>")
def ballot(code: str):
    """The slip's rounds: for each, its state, whether this slip has voted, and — while it
    is open — its targets and levels."""
    try:
        slip = voting.resolve(code, address=client_address())
    except voting.VotingError as error:
        return _error(error)
    rounds = []
    for item in voting.rounds_for(slip):
        entry = {
            "id": item.round.id,
            "title": item.round.title,
            "kind": item.round.kind,
            "state": item.round.state.value,
            "has_voted": item.has_voted,
        }
        if item.round.is_open:
            view = ballot_view(item.round)
            if view.is_selection:
                entry["seats"] = view.seats
            entry["targets"] = [
                {"id": t.id, "kind": t.kind, "name": t.name, "unit": t.unit, "title": t.title, "levels": list(t.levels)}
                for t in view.targets
            ]
            if view.has_items or view.caps:
                entry["items"] = {t.kind: _items_json(t.asked) for t in view.targets if t.asked is not None}
        rounds.append(entry)
    return jsonify(meeting={"id": slip.meeting_id, "title": slip.category.meeting.title}, category=slip.category.label, rounds=rounds)


def _items_json(asked) -> dict:
    return {
        "dimensions": [{"id": d.id, "label": d.label, "weight": None if d.weight is None else plain_number(d.weight)} for d in asked.dimensions],
        "reverse": [{"id": r.id, "label": r.label} for r in asked.reverse],
        "intent": [{"id": i.id, "label": i.label} for i in asked.intent],
        "top_cap": asked.top_cap,
    }


@bp.post("/ballot/<code>/rounds/<int:round_id>")
def cast(code: str, round_id: int):
    """Cast a ballot: ``{"marks": {"<target id>": 0-3 or null}, "items": {"<target id>":
    {"dimensions": {"<item id>": 0-3}, "reverse": [item ids], "intent": item id}}}`` for 测评
    (``items`` only where the round asks them), ``{"choices": [target ids]}`` for 差额票决
    (at most K); 201 with the receipt code, 409 already voted, 422 invalid."""
    body = request.get_json(silent=True)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("marks", {}), dict)
        or not isinstance(body.get("choices", []), list)
        or not isinstance(body.get("items", {}), dict)
    ):
        return jsonify(error="请求体应为 JSON 对象：{\"marks\": {\"对象编号\": 等次}} 或 {\"choices\": [候选编号]}", reason="bad_request"), 400
    marks = dict(body.get("marks", {}))
    for chosen in body.get("choices", []):  # 差额票决: each chosen candidate is a 同意 mark
        if isinstance(chosen, bool) or not isinstance(chosen, (int, str)):
            return jsonify(error="choices 应为候选编号的列表", reason="bad_request"), 400
        if str(chosen) in {str(k) for k in marks}:
            return jsonify(error="同一候选不能重复选择", reason="invalid_ballot"), 422
        marks[str(chosen)] = 0
    try:
        receipt = voting.cast_code(code, round_id, marks, body.get("items") or None, address=client_address())
    except voting.VotingError as error:
        return _error(error)
    return jsonify(status="cast", message="投票成功", receipt=receipt), 201
