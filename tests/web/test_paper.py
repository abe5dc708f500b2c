"""Paper ballots entered by staff (DOMAIN §6), and the 模拟测试 switch, over HTTP."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Ballot, BallotItemMark, Meeting, Organizer, Receipt, SlipUse
from app.services import items as item_service, meetings
from app.services.results import round_report

from .conftest import count


def text(response) -> str:
    return response.get_data(as_text=True)


def flashes(response) -> list[str]:
    return re.findall(r'<p class="flash [^"]*"[^>]*>(.*?)</p>', text(response), re.S)


@pytest.fixture
def capped(make_meeting, codes_of):
    """The default meeting, leaders asked 德 and at most one 优秀 per ballot; open."""
    meeting = make_meeting()
    round_ = meeting.rounds[0]
    item_service.set_kind_items(round_, "person", dimensions=[("德", None)], reverse=["协作不好"], intent=[], top_cap=1, actor="t")
    meetings.open_round(round_, "t")
    return meeting, round_, codes_of(meeting)


def test_paper_ballot_is_entered_through_the_phone_form_and_counted(org, capped):
    """§6: same fields, same checks; counted as 纸质录入; no receipt; audit says a paper ballot
    was entered, never its code or contents (R23)."""
    meeting, round_, codes = capped
    url = f"/organizer/rounds/{round_.id}/paper"
    page = org.get(url)
    assert page.status_code == 200
    html = text(page)
    assert 'name="code"' in html and html.count('<details class="target"') == 6 and html.count(" open>") == 6
    person = next(t for t in round_.targets if t.kind == "person")
    de = next(i.id for i in round_.items if i.label == "德")
    done = org.post(url, {"code": codes[0].lower(), f"t{person.id}": "0", f"d{person.id}_{de}": "1"}, follow_redirects=True)
    assert done.status_code == 200 and "已录入一张纸质选票。" in flashes(done)
    assert "其中纸质录入 1 张" in text(done)
    ballot = db.session.scalars(select(Ballot)).one()
    assert ballot.is_paper and ballot.is_valid
    assert [(m.item_id, m.level) for m in db.session.scalars(select(BallotItemMark))] == [(de, 1)]
    assert count(Receipt) == 0
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "ballot.paper_entry")).one()
    assert codes[0] not in str(entry.detail) and "level" not in str(entry.detail)
    report = round_report(round_)
    assert report.counts.paper == 1 and report.counts.valid == 1


def test_paper_ballot_for_a_used_code_is_refused_with_the_marks_kept(org, capped):
    """R7: one ballot per slip per round, whether from a phone or paper."""
    _, round_, codes = capped
    url = f"/organizer/rounds/{round_.id}/paper"
    person = next(t for t in round_.targets if t.kind == "person")
    assert org.post(url, {"code": codes[0]}).status_code == 302
    again = org.post(url, {"code": codes[0], f"t{person.id}": "2"})
    assert again.status_code == 409 and "此码本轮已投票" in text(again)
    assert re.search(rf'name="t{person.id}" value="2" checked', text(again))  # staff fix the code only
    assert count(Ballot) == 1 and count(SlipUse) == 1


@pytest.mark.parametrize("code, status, message", [("", 404, "测评码"), ("ZZZZ", 404, "测评码"), ("other", 404, "不属于本会议")])
def test_paper_ballot_with_a_wrong_code_changes_nothing(org, capped, make_meeting, codes_of, code, status, message):
    _, round_, _ = capped
    if code == "other":
        code = codes_of(make_meeting(title="另一个会议"))[0]
    refused = org.post(f"/organizer/rounds/{round_.id}/paper", {"code": code})
    assert refused.status_code in (status, 400) and message in text(refused)
    assert count(Ballot) == 0 and count(SlipUse) == 0


def test_paper_ballot_over_the_cap_is_recorded_as_invalid(org, capped):
    """A paper ballot with two 优秀 where one is allowed is 废票 (as counted by hand): in 收回
    and 无效, in no target's counts; staff are told."""
    _, round_, codes = capped
    people = [t for t in round_.targets if t.kind == "person"]
    done = org.post(
        f"/organizer/rounds/{round_.id}/paper", {"code": codes[0], f"t{people[0].id}": "0", f"t{people[1].id}": "0"}, follow_redirects=True
    )
    assert any("已按废票录入" in f for f in flashes(done))
    report = round_report(round_)
    assert (report.counts.returned, report.counts.invalid, report.counts.paper) == (1, 1, 1)
    assert all(r.result.marked == 0 for r in report.rows)


def test_paper_over_selection_in_a_selection_round_is_invalid(org, make_selection, codes_of):
    """R11: more than K on paper → 废票."""
    meeting, round_ = make_selection(list("甲乙丙丁"), seats=2)
    meetings.open_round(round_, "t")
    ids = [str(rt.target_id) for rt in round_.round_targets]
    page = org.get(f"/organizer/rounds/{round_.id}/paper")
    assert text(page).count('name="c"') == 4
    org.post(f"/organizer/rounds/{round_.id}/paper", {"code": codes_of(meeting)[0], "c": ids[:3]})
    ballot = db.session.scalars(select(Ballot)).one()
    assert ballot.is_paper and not ballot.is_valid


def test_paper_entry_only_while_the_round_is_open(org, make_meeting, codes_of):
    meeting = make_meeting()
    refused = org.post(f"/organizer/rounds/{meeting.rounds[0].id}/paper", {"code": codes_of(meeting)[0]})
    assert refused.status_code == 409 and "不能录入" in text(refused)
    assert count(Ballot) == 0


def test_counter_enters_paper_ballots_and_observer_may_not(client, capped):
    """Roles: 计票员 enter paper ballots; 监票员 only read."""
    from tests.conftest import AuthActions

    _, round_, codes = capped
    for name, role in (("jipiao", "counter"), ("jianpiao", "observer")):
        user = Organizer(username=name, role=role)
        user.set_password("a long password")
        db.session.add(user)
    db.session.commit()
    url = f"/organizer/rounds/{round_.id}/paper"
    AuthActions(client).login("jianpiao", "a long password")
    from tests.conftest import csrf_token

    token = csrf_token(text(client.get("/organizer/")))
    assert client.post(url, data={"code": codes[0], "csrf_token": token}).status_code == 403
    assert count(Ballot) == 0
    client.post("/logout", data={"csrf_token": token})
    AuthActions(client).login("jipiao", "a long password")
    token = csrf_token(text(client.get("/organizer/")))
    assert client.post(url, data={"code": codes[0], "csrf_token": token}).status_code == 302
    assert count(Ballot) == 1


def test_rehearsal_buttons_on_the_meeting_page(org, make_meeting, codes_of):
    """模拟测试 from the console: start, banner on the console and the display, purge."""
    meeting = make_meeting()
    page = text(org.get(f"/organizer/meetings/{meeting.id}"))
    assert "进入模拟测试" in page
    org.post(f"/organizer/meetings/{meeting.id}/rehearsal")
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).rehearsal
    page = text(org.get(f"/organizer/meetings/{meeting.id}"))
    assert "模拟测试中" in page and "清除演练数据，转入正式投票" in page
    board = text(org.client.get(f"/display/{meeting.display_token}"))
    assert "模拟测试" in board
    meetings.open_round(meeting.rounds[0], "t")
    org.client.application.test_client(use_cookies=False).post(
        f"/v/{codes_of(meeting)[0]}/r/{meeting.rounds[0].id}", data={"action": "submit"}
    )
    assert count(Ballot) == 1
    refused = org.post(f"/organizer/meetings/{meeting.id}/rehearsal/purge", follow_redirects=True)
    assert any("请先结束正在进行的投票" in f for f in flashes(refused)) and count(Ballot) == 1
    meetings.close_round(db.session.get(Meeting, meeting.id).rounds[0], "t")
    done = org.post(f"/organizer/meetings/{meeting.id}/rehearsal/purge", follow_redirects=True)
    assert any("演练数据已清除：删除选票 1 张" in f for f in flashes(done))
    assert count(Ballot) == 0 and count(SlipUse) == 0
