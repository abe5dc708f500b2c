"""Ballot items over HTTP: the organizer's 选票内容 page, the phone's long ballot (with and
without JavaScript, i.e. plain form posts) and the JSON API (R9, R15, R18, the top-level cap)."""

from __future__ import annotations

import gzip
import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import BallotItem, BallotItemMark, SlipUse
from app.services import items as item_service, meetings
from tests.conftest import csrf_token

from .conftest import count


def text(response) -> str:
    return response.get_data(as_text=True)


def _ids(round_, item_type, kind="person") -> dict[str, int]:
    return {i.label: i.id for i in round_.items if i.item_type == item_type and i.kind == kind}


def _set_default_items(round_, *, top_cap=None):
    for kind in ("team", "person"):
        _, preset = item_service.DIMENSION_PRESETS["dnqjl_weighted"]
        item_service.set_kind_items(
            round_,
            kind,
            dimensions=list(preset[kind]),
            reverse=list(item_service.DEFAULT_REVERSE[kind]),
            intent=list(item_service.DEFAULT_INTENT) if kind == "person" else [],
            top_cap=top_cap if kind == "person" else None,
            actor="test",
        )


@pytest.fixture
def long_ballot(make_meeting, codes_of):
    """The default meeting (2 teams, 4 leaders) with 德能勤绩廉, reverse and intent items and
    at most one 优秀 per ballot; open; with one unused code."""
    meeting = make_meeting()
    round_ = meeting.rounds[0]
    _set_default_items(round_, top_cap=1)
    meetings.open_round(round_, "test")
    return meeting, round_, codes_of(meeting, "B")[0]


# ------------------------------------------------------------------------------------------
# The organizer's 选票内容 page
# ------------------------------------------------------------------------------------------


def test_items_page_fills_presets_then_saves(client, auth, make_meeting):
    """套用常用项 fills the form without saving; 保存 saves every kind at once."""
    meeting = make_meeting()
    round_ = meeting.rounds[0]
    url = f"/organizer/rounds/{round_.id}/items"
    page = client.get(url)
    assert page.status_code == 200 and "领导班子" in text(page) and "领导干部" in text(page)
    token = csrf_token(text(page))
    filled = client.post(url, data={"csrf_token": token, "team-preset": "dnqjl_weighted", "person-preset": "dnqjl_weighted", "action": "preset"})
    assert filled.status_code == 200
    html = text(filled)
    assert "德 15\n能 10\n勤 30\n绩 30\n廉 15" in html and "政策理论水平低" in html and "提拔" in html
    assert count(BallotItem) == 0  # not saved yet
    saved = client.post(
        url,
        data={
            "csrf_token": token,
            "team-dimensions": "",
            "team-reverse": "团结协作不好\n选人用人不公",
            "person-dimensions": "德 15\n能 10\n勤 30\n绩 30\n廉 15",
            "person-reverse": "协作不好",
            "person-intent": "提拔、继任、改非、降职",
            "person-top_cap": "2",
            "action": "save",
        },
    )
    assert saved.status_code == 302
    db.session.expire_all()
    spec = item_service.ballot_spec(round_)
    assert [d.label for d in spec.items_for("person").dimensions] == ["德", "能", "勤", "绩", "廉"]
    assert spec.items_for("person").top_cap == 2 and spec.items_for("team").top_cap is None
    assert [r.label for r in spec.items_for("team").reverse] == ["团结协作不好", "选人用人不公"]
    assert "含测评维度" in text(client.get(f"/organizer/meetings/{meeting.id}"))


def test_items_page_refuses_bad_input_and_saves_nothing(client, auth, make_meeting):
    meeting = make_meeting()
    round_ = meeting.rounds[0]
    url = f"/organizer/rounds/{round_.id}/items"
    token = csrf_token(text(client.get(url)))
    refused = client.post(
        url,
        data={
            "csrf_token": token,
            "team-reverse": "团结协作不好",
            "person-dimensions": "德 15\n能",
            "person-top_cap": "4",
            "action": "save",
        },
    )
    assert refused.status_code == 400
    html = text(refused)
    assert "要么都填权重" in html and "应小于本轮领导干部数 4" in html
    assert count(BallotItem) == 0
    assert client.post(url, data={"action": "save"}).status_code == 400  # no CSRF token
    assert count(BallotItem) == 0


def test_items_page_is_closed_once_the_round_opens(client, auth, long_ballot):
    _, round_, _ = long_ballot
    url = f"/organizer/rounds/{round_.id}/items"
    token = csrf_token(text(client.get(url)))
    before = count(BallotItem)
    refused = client.post(url, data={"csrf_token": token, "person-dimensions": "德", "action": "save"})
    assert refused.status_code == 400 and "选票内容已不能修改" in text(refused)
    assert count(BallotItem) == before


# ------------------------------------------------------------------------------------------
# The phone: a long ballot as plain form posts (no JavaScript, no cookies)
# ------------------------------------------------------------------------------------------


def test_long_ballot_page_has_a_section_per_target(cookieless, long_ballot):
    """One collapsible section per target (its summary is the jump list), the first open;
    dimensions, 逆向测评 and 使用意向 only where the kind is asked them; the cap is stated."""
    _, round_, code = long_ballot
    html = text(cookieless.get(f"/v/{code}"))
    assert html.count('<details class="target"') == len(round_.targets) == 6
    assert html.count(" open>") == 1
    assert "每票“优秀”不超过 1 个" in html and 'data-cap="1"' in html
    person = next(t for t in round_.targets if t.kind == "person")
    section = re.search(rf'<details class="target" id="t{person.id}".*?</details>', html, re.S).group(0)
    for label in ("德", "能", "勤", "绩", "廉", "政策理论水平低", "提拔", "降职", "按权重计分"):
        assert label in section
    team = next(t for t in round_.targets if t.kind == "team")
    team_section = re.search(rf'<details class="target" id="t{team.id}".*?</details>', html, re.S).group(0)
    assert "选人用人不公" in team_section and "使用意向" not in team_section


def test_long_ballot_review_edit_and_submit_without_javascript(cookieless, long_ballot):
    """The answers travel through review and edit unchanged, and the cast stores them."""
    _, round_, code = long_ballot
    person = next(t for t in round_.targets if t.kind == "person")
    dims, rev, intent = _ids(round_, "dimension"), _ids(round_, "reverse"), _ids(round_, "intent")
    url = f"/v/{code}/r/{round_.id}"
    form = {
        f"t{person.id}": "0",
        f"d{person.id}_{dims['德']}": "0",
        f"d{person.id}_{dims['勤']}": "2",
        f"r{person.id}": [str(rev["协作不好"]), str(rev["创新能力弱"])],
        f"i{person.id}": str(intent["继任"]),
    }
    review = cookieless.post(url, data={**form, "action": "review"})
    assert review.status_code == 200
    html = text(review)
    assert "德：优秀" in html and "勤：基本称职" in html and "能：弃权" in html
    assert "逆向：协作不好、创新能力弱" in html and "使用意向：继任" in html
    hidden = dict(re.findall(r'<input type="hidden" name="([dri]\d+(?:_\d+)?)" value="(\d+)">', html))
    assert hidden[f"d{person.id}_{dims['勤']}"] == "2" and hidden[f"i{person.id}"] == str(intent["继任"])
    edit = cookieless.post(url, data={**form, "action": "edit"})
    edit_html = text(edit)
    assert re.search(rf'name="d{person.id}_{dims["勤"]}" value="2" aria-label="[^"]+" checked', edit_html)
    assert re.search(rf'name="r{person.id}" value="{rev["协作不好"]}" checked', edit_html)
    assert re.search(rf'name="i{person.id}" value="{intent["继任"]}" checked', edit_html)
    done = cookieless.post(url, data={**form, "action": "submit"})
    assert done.status_code == 200 and "回执码" in text(done)
    stored = {(m.item_id, m.level) for m in db.session.scalars(select(BallotItemMark))}
    assert stored == {(dims["德"], 0), (dims["勤"], 2), (rev["协作不好"], 0), (rev["创新能力弱"], 0), (intent["继任"], 0)}


def test_phone_over_the_cap_is_refused_with_the_marks_kept(cookieless, long_ballot):
    """每票“优秀”不超过 1 个: a second 优秀 is refused at review, nothing is consumed."""
    _, round_, code = long_ballot
    people = [t for t in round_.targets if t.kind == "person"]
    url = f"/v/{code}/r/{round_.id}"
    for action in ("review", "submit"):
        refused = cookieless.post(url, data={f"t{people[0].id}": "0", f"t{people[1].id}": "0", "action": action})
        assert refused.status_code == 422 and "每票“优秀”不超过 1 个，您选了 2 个" in text(refused)
    assert count(SlipUse) == 0


def test_long_ballot_page_size(cookieless, make_meeting, codes_of):
    """30 leaders × (overall + 5 dimensions + 6 逆向测评 + 4 使用意向): the page stays small on
    the wire (issue 5 asks to state the size; measured in docs/performance.md)."""
    targets = [{"kind": "person", "unit": f"单位{i:02d}", "name": f"干部{i:02d}", "title": "局长", "principal": False} for i in range(30)]
    meeting = make_meeting(targets=targets)
    round_ = meeting.rounds[0]
    _set_default_items(round_, top_cap=10)
    meetings.open_round(round_, "test")
    html = cookieless.get(f"/v/{codes_of(meeting)[0]}").get_data()
    assert html.decode().count('<details class="target"') == 30
    assert len(gzip.compress(html)) < 20_000, len(gzip.compress(html))


# ------------------------------------------------------------------------------------------
# The JSON API
# ------------------------------------------------------------------------------------------


def test_api_describes_and_takes_items(cookieless, long_ballot):
    _, round_, code = long_ballot
    data = cookieless.get(f"/api/v1/ballot/{code}").get_json()
    entry = data["rounds"][0]
    assert [d["label"] for d in entry["items"]["person"]["dimensions"]] == ["德", "能", "勤", "绩", "廉"]
    assert entry["items"]["person"]["dimensions"][0]["weight"] == "15"
    assert entry["items"]["person"]["top_cap"] == 1 and entry["items"]["team"]["intent"] == []
    person = next(t for t in round_.targets if t.kind == "person")
    dims, intent = _ids(round_, "dimension"), _ids(round_, "intent")
    url = f"/api/v1/ballot/{code}/rounds/{round_.id}"
    over = [t.id for t in round_.targets if t.kind == "person"][:2]
    refused = cookieless.post(url, json={"marks": {str(t): 0 for t in over}})
    assert refused.status_code == 422 and refused.get_json()["reason"] == "invalid_ballot"
    assert cookieless.post(url, json={"marks": {}, "items": "德"}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(SlipUse)) == 0
    cast = cookieless.post(
        url, json={"marks": {str(person.id): 1}, "items": {str(person.id): {"dimensions": {str(dims["廉"]): 3}, "intent": intent["改非"]}}}
    )
    assert cast.status_code == 201 and cast.get_json()["receipt"]
    assert {(m.item_id, m.level) for m in db.session.scalars(select(BallotItemMark))} == {(dims["廉"], 3), (intent["改非"], 0)}
