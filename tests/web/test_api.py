"""The JSON API: the same checks and messages as the phone pages, for machines."""

from __future__ import annotations

import re

import json

import pytest
from sqlalchemy import select

from app.core import codes
from app.extensions import db
from app.models import Ballot, BallotMark, SlipUse
from app.services import meetings, slips as slip_service

from .conftest import count


@pytest.fixture
def machine(cookieless):
    """No cookies, no CSRF token: a script or a kiosk."""
    return cookieless


def cast_url(code: str, round_id: int) -> str:
    return f"/api/v1/ballot/{code}/rounds/{round_id}"


def test_get_ballot_while_open(machine, opened):
    """R8: the open round's targets with their four levels; has_voted false before casting."""
    meeting, round_, code = opened
    response = machine.get(f"/api/v1/ballot/{code}")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["meeting"] == {"id": meeting.id, "title": meeting.title}
    assert body["category"] == "B 中层干部"
    [entry] = body["rounds"]
    assert (entry["id"], entry["state"], entry["has_voted"]) == (round_.id, "open", False)
    assert [t["id"] for t in entry["targets"]] == [t.id for t in round_.targets]
    by_name = {t["name"]: t for t in entry["targets"]}
    assert by_name["区发改局领导班子"]["levels"] == ["好", "较好", "一般", "差"]
    assert by_name["张三"]["levels"] == ["优秀", "称职", "基本称职", "不称职"]
    assert (by_name["张三"]["unit"], by_name["张三"]["title"], by_name["张三"]["kind"]) == ("区发改局", "局长", "person")


def test_get_ballot_of_a_draft_round_has_no_targets(machine, make_meeting, codes_of):
    """R24/§5: a round that has not opened shows no ballot yet."""
    meeting = make_meeting()
    body = machine.get(f"/api/v1/ballot/{codes_of(meeting)[0]}").get_json()
    assert body["rounds"][0]["state"] == "draft" and "targets" not in body["rounds"][0]


def test_cast_then_again(machine, opened):
    """R7: 201 once; then 409 already_voted (此码本轮已投票) and no second ballot; GET says has_voted."""
    _, round_, code = opened
    first, second = round_.targets[0].id, round_.targets[1].id
    response = machine.post(cast_url(code, round_.id), json={"marks": {str(first): 0, str(second): None}})
    assert response.status_code == 201
    body = response.get_json()
    assert {k: body[k] for k in ("status", "message")} == {"status": "cast", "message": "投票成功"}
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{8}", body["receipt"])
    assert {(m.target_id, m.level) for m in db.session.scalars(select(BallotMark))} == {(first, 0)}
    slip = slip_service.find_by_code(code)
    assert db.session.scalar(select(Ballot.category_id)) == slip.category_id

    again = machine.post(cast_url(code, round_.id), json={"marks": {str(first): 3}})
    assert again.status_code == 409
    assert again.get_json() == {"error": "此码本轮已投票", "reason": "already_voted"}
    assert count(Ballot) == 1 and count(SlipUse) == 1

    body = machine.get(f"/api/v1/ballot/{code}").get_json()
    assert body["rounds"][0]["has_voted"] is True


def test_cast_with_no_marks_is_an_all_abstain_ballot(machine, opened):
    """R13: a ballot with every target unmarked is still a valid ballot."""
    _, round_, code = opened
    assert machine.post(cast_url(code, round_.id), json={}).status_code == 201
    assert count(Ballot) == 1 and count(BallotMark) == 0


@pytest.mark.parametrize(
    ("marks", "message"),
    [
        ({"first": 4}, "评价等次不正确"),
        ({"first": "优秀"}, "评价等次不正确"),
        ({"first": True}, "评价等次不正确"),
        ({"999999": 0}, "选票上没有这个测评对象"),
    ],
)
def test_bad_marks_are_422_and_consume_nothing(machine, opened, marks, message):
    """R7/R8: a level off the scale or a target not on the ballot: 422, no slip used."""
    _, round_, code = opened
    marks = {str(round_.targets[0].id) if k == "first" else k: v for k, v in marks.items()}
    response = machine.post(cast_url(code, round_.id), json={"marks": marks})
    assert response.status_code == 422
    body = response.get_json()
    assert body["reason"] == "invalid_ballot" and message in body["error"]
    assert count(SlipUse) == 0 and count(Ballot) == 0
    assert machine.get(f"/api/v1/ballot/{code}").get_json()["rounds"][0]["has_voted"] is False


def test_unknown_code_is_404(machine, opened):
    """§7: an unknown or malformed code finds nothing, and nothing is consumed."""
    _, round_, _ = opened
    unknown = codes.derive_code(b"another server", b"0123456789abcdef")
    for response in (machine.get(f"/api/v1/ballot/{unknown}"), machine.post(cast_url(unknown, round_.id), json={"marks": {}})):
        assert response.status_code == 404
        assert response.get_json()["reason"] == "unknown_code"
        assert "测评码无效" in response.get_json()["error"]
    malformed = machine.get("/api/v1/ballot/ABC")
    assert malformed.status_code == 404 and malformed.get_json()["reason"] == "unknown_code"
    assert count(SlipUse) == 0


def test_voided_slip_is_403(machine, opened):
    """§7: a voided (lost) slip can neither read nor cast (R7 for its replacement)."""
    _, round_, code = opened
    slip_service.void(slip_service.find_by_code(code), "遗失", "test", replace=False)
    response = machine.post(cast_url(code, round_.id), json={"marks": {}})
    assert response.status_code == 403 and response.get_json()["reason"] == "void_slip"
    assert machine.get(f"/api/v1/ballot/{code}").status_code == 403
    assert count(SlipUse) == 0


@pytest.mark.parametrize(
    ("kwargs"),
    [
        {"data": "marks=1", "content_type": "text/plain"},
        {"data": "{not json", "content_type": "application/json"},
        {"data": json.dumps([1, 2]), "content_type": "application/json"},
        {"data": json.dumps({"marks": [1, 2]}), "content_type": "application/json"},
    ],
    ids=["text", "broken-json", "array", "marks-not-object"],
)
def test_non_json_body_is_400(machine, opened, kwargs):
    """A body that is not {"marks": {...}} is refused before any look-up; nothing consumed (R7)."""
    _, round_, code = opened
    response = machine.post(cast_url(code, round_.id), **kwargs)
    assert response.status_code == 400
    assert response.get_json()["reason"] == "bad_request"
    assert count(SlipUse) == 0


@pytest.mark.parametrize("state", ["draft", "closed"])
def test_round_not_open_is_409(machine, make_meeting, codes_of, state):
    """R24/§5: casting only while the round is open (draft or closed: round_not_open)."""
    meeting = make_meeting(open=state == "closed")
    round_ = meeting.rounds[0]
    if state == "closed":
        meetings.close_round(round_, "test")
    response = machine.post(cast_url(codes_of(meeting)[0], round_.id), json={"marks": {str(round_.targets[0].id): 0}})
    assert response.status_code == 409
    assert response.get_json()["reason"] == "round_not_open"
    assert count(SlipUse) == 0 and count(Ballot) == 0


def test_unknown_round_is_404(machine, opened):
    """A round id that is not one of the slip's meeting's rounds is unknown (R7: per round of its meeting)."""
    _, round_, code = opened
    response = machine.post(cast_url(code, round_.id + 1000), json={"marks": {}})
    assert response.status_code == 404 and response.get_json()["reason"] == "unknown_round"


@pytest.mark.parametrize("round_id", [2**31, 10**25])
def test_round_id_out_of_range_is_404(machine, opened, round_id):
    """An id no column can hold is an unknown round (404 JSON), not a database error."""
    _, _, code = opened
    response = machine.post(cast_url(code, round_id), json={"marks": {}})
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert count(SlipUse) == 0


@pytest.mark.parametrize("where", ["level", "target"])
def test_superscript_digit_is_refused(machine, opened, where):
    """R8: a level or target that is not a plain number is an invalid ballot (422), not a server error."""
    _, round_, code = opened
    marks = {str(round_.targets[0].id): "²"} if where == "level" else {"²": 0}
    response = machine.post(cast_url(code, round_.id), json={"marks": marks})
    assert response.status_code == 422


def test_api_needs_no_csrf_token_and_sets_no_cookie(machine, opened):
    """Machines have no session: no token, no cookie, and the answers are not cached."""
    _, round_, code = opened
    get = machine.get(f"/api/v1/ballot/{code}")
    post = machine.post(cast_url(code, round_.id), json={"marks": {str(round_.targets[0].id): 1}})
    assert post.status_code == 201
    for response in (get, post):
        assert "Set-Cookie" not in response.headers
        assert response.headers["Cache-Control"] == "no-store"


def test_api_errors_are_json_even_for_unrouted_paths(machine):
    """Machines always get JSON errors under /api/."""
    response = machine.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert response.get_json()["error"]
    assert machine.get("/api/v1/ballot/X/rounds/1").status_code == 405


def test_openapi_document(machine):
    """The API is described by an OpenAPI 3.1 document covering both paths and every error reason."""
    response = machine.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = json.loads(response.data)
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {"/api/v1/ballot/{code}", "/api/v1/ballot/{code}/rounds/{round_id}"}
    assert "get" in document["paths"]["/api/v1/ballot/{code}"]
    assert "post" in document["paths"]["/api/v1/ballot/{code}/rounds/{round_id}"]
    reasons = set(document["components"]["schemas"]["Error"]["properties"]["reason"]["enum"])
    assert {"already_voted", "round_not_open", "invalid_ballot", "unknown_code", "void_slip", "bad_request", "unknown_round"} == reasons
