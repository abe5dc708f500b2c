"""The live hall through the test client: display link, hidden/live modes, event stream,
phones following the meeting, console controls (DOMAIN R19, R20, R24)."""

from __future__ import annotations

import json
import re

import pytest

from app.extensions import db
from app.models import AuditEntry, Round, StateError
from app.services import live, meetings, voting

TARGET_NAMES = ("区发改局领导班子", "张三", "李四", "王五", "赵六")
RESULT_WORDS = ("折合分", "排名", "等次") + TARGET_NAMES


def sse_events(response) -> list[dict]:
    """Parse a finished event stream (tests end streams after LIVE_STREAM_SECONDS)."""
    body = b"".join(response.response).decode()
    return [json.loads(m) for m in re.findall(r"^event: state\ndata: (.*)$", body, re.M)]


def everything_the_display_sends(client, token: str) -> str:
    parts = [
        client.get(f"/display/{token}").get_data(as_text=True),
        client.get(f"/display/{token}/board").get_data(as_text=True),
        client.get(f"/display/{token}/state.json").get_data(as_text=True),
        b"".join(client.get(f"/display/{token}/events").response).decode(),
    ]
    return "\n".join(parts)


def cast_some(meeting, codes_of, n=3, level=0):
    round_ = next(r for r in meeting.rounds if r.is_open)
    for code in codes_of(meeting)[:n]:
        voting.cast(voting.resolve(code), round_.id, {t.id: level for t in round_.targets})


def test_display_needs_its_unguessable_link(client, make_meeting):
    meeting = make_meeting()
    assert len(meeting.display_token) >= 24
    assert client.get("/display/not-the-token").status_code == 404
    page = client.get(f"/display/{meeting.display_token}")
    assert page.status_code == 200 and meeting.title in page.get_data(as_text=True)
    assert "等待主持人宣布开始投票" in page.get_data(as_text=True)


def test_hidden_mode_leaks_no_result_before_publication(client, make_meeting, codes_of):
    """R24 (default hidden): neither the page, its fragment, its JSON nor its event stream
    carries a target name, a score or a rank until the chair publishes."""
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    assert round_.result_mode == "hidden"
    cast_some(meeting, codes_of, 5)
    for stage in ("open", "closed"):
        sent = everything_the_display_sends(client, meeting.display_token)
        assert "已投" in sent and '"cast": 5' in sent
        leaked = [w for w in RESULT_WORDS if w in sent]
        assert leaked == [], (stage, leaked)
        if stage == "open":
            meetings.close_round(round_, "test")
    meetings.publish_round(round_, "test")
    sent = everything_the_display_sends(client, meeting.display_token)
    assert all(name in sent for name in TARGET_NAMES) and "折合分" in sent


def test_live_mode_shows_counts_while_voting(client, make_meeting, codes_of):
    """R24 随投随显示: the board carries the counts as ballots arrive."""
    meeting = make_meeting()
    round_ = meeting.rounds[0]
    meetings.set_result_mode(round_, "live", "test")
    meetings.open_round(round_, "test")
    cast_some(meeting, codes_of, 2)
    board = client.get(f"/display/{meeting.display_token}/board").get_data(as_text=True)
    assert "张三" in board and "实时计票" in board
    assert client.get(f"/display/{meeting.display_token}/state.json").get_json()["has_result"] is True


def test_result_mode_is_fixed_once_the_round_closed(make_meeting):
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    meetings.set_result_mode(round_, "live", "test")
    with pytest.raises(StateError, match="显示方式"):
        meetings.set_result_mode(round_, "loud", "test")
    meetings.close_round(round_, "test")
    with pytest.raises(StateError, match="不能再更改显示方式"):
        meetings.set_result_mode(round_, "hidden", "test")
    assert db.session.query(AuditEntry).filter_by(action="round.result_mode").count() == 1


def test_event_stream_sends_state_and_a_count_never_goes_backwards(client, make_meeting, codes_of):
    """R19: the stream announces the turnout; counts per round only grow."""
    meeting = make_meeting(open=True)
    cast_some(meeting, codes_of, 4)
    response = client.get(f"/display/{meeting.display_token}/events")
    assert response.mimetype == "text/event-stream" and response.headers["Cache-Control"] == "no-store"
    events = sse_events(response)
    assert events, "the stream sent no state"
    current = events[0]["current"]
    assert current["cast"] == 4 and current["present"] == 30 and current["state"] == "open"
    assert "retry:" in b"".join(client.get(f"/display/{meeting.display_token}/events").response).decode()


def test_version_changes_with_everything_shown(make_meeting, codes_of):
    meeting = make_meeting()
    seen = {live.version(meeting.id)}
    meetings.open_round(meeting.rounds[0], "test")
    seen.add(live.version(meeting.id))
    cast_some(meeting, codes_of, 1)
    seen.add(live.version(meeting.id))
    meetings.set_present(meeting, 29, "test")
    seen.add(live.version(meeting.id))
    assert len(seen) == 4


def test_phone_waits_then_follows_the_meeting(cookieless, make_meeting, codes_of):
    """A slip's page says 等待投票开始, then (its state key changing) shows the ballot, then
    已投票，等待下一轮; without cookies."""
    meeting = make_meeting(rounds=[{"title": "第一轮", "targets": "team"}, {"title": "第二轮", "targets": "person"}])
    code = codes_of(meeting)[0]
    page = cookieless.get(f"/v/{code}").get_data(as_text=True)
    assert "等待投票开始" in page and "data-slip-state" in page and "<noscript><meta http-equiv=\"refresh\"" in page
    key = cookieless.get(f"/v/{code}/state.json").get_json()["key"]
    meetings.open_round(meeting.rounds[0], "test")
    assert cookieless.get(f"/v/{code}/state.json").get_json()["key"] != key
    assert "下一步：核对" in cookieless.get(f"/v/{code}").get_data(as_text=True)
    voting.cast(voting.resolve(code), meeting.rounds[0].id, {})
    assert "已投票，等待下一轮" in cookieless.get(f"/v/{code}").get_data(as_text=True)
    assert cookieless.get("/v/" + "0" * 18 + "/state.json").status_code == 404


@pytest.mark.parametrize("allowed", [True, False])
def test_phone_shows_the_published_result_only_when_the_chair_allows(cookieless, make_meeting, codes_of, allowed):
    meeting = make_meeting(open=True)
    code = codes_of(meeting)[0]
    cast_some(meeting, codes_of, 3)
    meetings.close_round(meeting.rounds[0], "test")
    assert "等待主持人公布结果" in cookieless.get(f"/v/{code}").get_data(as_text=True)
    key = cookieless.get(f"/v/{code}/state.json").get_json()["key"]
    meetings.publish_round(meeting.rounds[0], "test", show_on_phones=allowed)
    # A waiting phone learns of the publication either way (its receipt list opens, issue 5).
    assert cookieless.get(f"/v/{code}/state.json").get_json()["key"] != key
    page = cookieless.get(f"/v/{code}").get_data(as_text=True)
    assert ("结果已公布" in page) is allowed and ("张三" in page) is allowed


def test_console_buttons_and_live_endpoints(org, make_meeting, codes_of):
    """The console: mode select and publish-with-phones are CSRF-protected POSTs; its live
    endpoints give every round's turnout."""
    meeting = make_meeting()
    round_id = meeting.rounds[0].id
    page = org.get(f"/organizer/meetings/{meeting.id}").get_data(as_text=True)
    assert f"/display/{meeting.display_token}" in page and 'data-live="' in page
    assert org.post(f"/organizer/rounds/{round_id}/mode", {"mode": "live"}, csrf=False).status_code == 400
    org.post(f"/organizer/rounds/{round_id}/mode", {"mode": "live"})
    assert db.session.get(Round, round_id).result_mode == "live"
    org.post(f"/organizer/rounds/{round_id}/open")
    cast_some(meeting, codes_of, 2)
    state = org.get(f"/organizer/meetings/{meeting.id}/live/state.json").get_json()
    assert state["rounds"][0]["cast"] == 2
    events = sse_events(org.get(f"/organizer/meetings/{meeting.id}/live/events"))
    assert events[0]["rounds"][0]["cast"] == 2
    org.post(f"/organizer/rounds/{round_id}/close")
    org.post(f"/organizer/rounds/{round_id}/publish", {"show_on_phones": "y"})
    db.session.expire_all()
    assert db.session.get(Round, round_id).show_on_phones is True


def test_replacing_the_display_link(org, client, make_meeting):
    meeting = make_meeting()
    old = meeting.display_token
    org.post(f"/organizer/meetings/{meeting.id}/display-link")
    db.session.expire_all()
    assert meeting.display_token != old
    assert client.get(f"/display/{old}").status_code == 404
    assert client.get(f"/display/{meeting.display_token}").status_code == 200
