"""The attendee's phone pages: enter, ballot, review, submit — no session, no cookie, no JS."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.core import codes
from app.extensions import db
from app.models import Ballot, BallotMark, SlipUse
from app.services import meetings, slips as slip_service
from tests.conftest import meeting_definition

from .conftest import EXTERNAL_URL, count

TEAM_LEVELS = ("好", "较好", "一般", "差")
PERSON_LEVELS = ("优秀", "称职", "基本称职", "不称职")


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def phone(cookieless):
    """A phone whose browser keeps no cookies (WeChat with cookies off)."""
    return cookieless


def submit_url(code: str, round_id: int) -> str:
    return f"/v/{code}/r/{round_id}"


def no_cookie(response) -> None:
    assert "Set-Cookie" not in response.headers, response.headers.get("Set-Cookie")


# ------------------------------------------------------------------------------------------
# Entering a code
# ------------------------------------------------------------------------------------------


def test_entry_form(phone):
    """§1: attendees who cannot scan type the code at /v; the page sets no cookie."""
    response = phone.get("/v")
    assert response.status_code == 200
    html = text(response)
    assert "输入测评码" in html
    assert re.search(r'<form method="post" action="/v"', html) and 'name="code"' in html
    no_cookie(response)


def test_typed_code_in_lowercase_with_spaces_redirects_to_the_canonical_url(phone, opened):
    """§7: codes are read case-insensitively, spaces and hyphens ignored."""
    _, _, code = opened
    typed = " ".join(codes.pretty(code).lower().split("-"))  # "7k3m9q xw2zrt h4d8pb"
    assert typed != code
    response = phone.post("/v", data={"code": typed})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/v/{code}"
    no_cookie(response)


def test_code_typed_with_o_and_l_for_zero_and_one_is_read(phone, make_meeting, codes_of):
    """§7: O is read as 0 and L as 1, as people copy them from paper."""
    meeting = make_meeting(open=True)
    code = next((c for c in codes_of(meeting) if "0" in c or "1" in c), None)
    if code is None:
        pytest.skip("no code with 0 or 1 among the 30")
    typed = code.replace("0", "o").replace("1", "l")
    response = phone.post("/v", data={"code": typed})
    assert response.status_code == 302 and response.headers["Location"] == f"/v/{code}"


def test_mistyped_code_shows_the_check_symbol_message(phone, opened):
    """§7: a mistyped symbol is caught by the check symbol and the typed text kept."""
    _, _, code = opened
    wrong = code[:5] + ("Y" if code[5] != "Y" else "Z") + code[6:]
    response = phone.post("/v", data={"code": wrong})
    assert response.status_code == 400
    html = text(response)
    assert "测评码校验不通过，请核对是否有输错的字符" in html
    assert f'value="{wrong}"' in html  # the typed code stays in the box to be corrected
    no_cookie(response)


@pytest.mark.parametrize(("typed", "message"), [("", "请输入测评码"), ("ABC", "测评码应为 18 位，您输入了 3 位"), ("ABC!DEF", "测评码中不应有字符：!")])
def test_malformed_code_messages(phone, typed, message):
    """§7: empty, short or foreign-character codes each get a message that helps fix them."""
    response = phone.post("/v", data={"code": typed})
    assert response.status_code == 400 and message in text(response)


def test_unknown_code_is_404(phone, opened):
    """§7: a well-formed code that was never issued is 测评码无效."""
    unknown = codes.derive_code(b"another server", b"0123456789abcdef")
    response = phone.get(f"/v/{unknown}")
    assert response.status_code == 404
    assert "测评码无效" in text(response)
    no_cookie(response)


def test_voided_slip_is_403(phone, opened):
    """§7: a voided slip says 已作废 and where to get a new one."""
    meeting, _, code = opened
    slip_service.void(slip_service.find_by_code(code), "遗失", "test", replace=False)
    response = phone.get(f"/v/{code}")
    assert response.status_code == 403
    assert "已作废" in text(response)


def test_no_open_round_says_wait(phone, make_meeting, codes_of):
    """R24: before the chair opens a round the slip's page says 等待投票开始 and refreshes itself."""
    meeting = make_meeting()
    response = phone.get(f"/v/{codes_of(meeting)[0]}")
    assert response.status_code == 200
    html = text(response)
    assert "等待投票开始" in html
    assert '<meta http-equiv="refresh"' in html  # the page looks again by itself, without JS
    assert 'name="action"' not in html


# ------------------------------------------------------------------------------------------
# The ballot, review, edit and submit
# ------------------------------------------------------------------------------------------


def test_ballot_lists_every_target_with_its_levels_and_abstain(phone, opened):
    """R8: teams 好/较好/一般/差, persons 优秀/称职/基本称职/不称职; R13: 弃权 for each."""
    _, round_, code = opened
    response = phone.get(f"/v/{code}")
    assert response.status_code == 200
    html = text(response)
    assert f'action="{submit_url(code, round_.id)}"' in html
    for target in round_.targets:
        fieldset = re.search(rf'<fieldset class="target" id="t{target.id}" data-kind="{target.kind}">(.*?)</fieldset>', html, re.S)
        assert fieldset, target.display_name
        body = fieldset.group(1)
        assert target.display_name in body
        labels = re.findall(r"<span>([^<]+)</span></label>", body)
        expected = TEAM_LEVELS if target.kind == "team" else PERSON_LEVELS
        assert labels == [*expected, "弃权"]
        values = re.findall(rf'name="t{target.id}" value="([^"]*)"', body)
        assert values == ["0", "1", "2", "3", ""]
        assert re.search(rf'name="t{target.id}" value=""\s+checked', body)  # 弃权 preselected
    assert "共 6 个对象" in html
    no_cookie(response)


def _choices(round_):
    """区发改局领导班子 较好, 张三 优秀; the other four abstain."""
    team, zhang = round_.targets[0], round_.targets[1]
    assert (team.display_name, zhang.display_name) == ("区发改局领导班子", "张三")
    form = {f"t{t.id}": "" for t in round_.targets}
    form.update({f"t{team.id}": "1", f"t{zhang.id}": "0"})
    return team, zhang, form


def test_review_shows_the_choices_and_carries_them_in_hidden_fields(phone, opened):
    """R13: the review lists every choice (unmarked = 弃权) and carries them without a session."""
    _, round_, code = opened
    team, zhang, form = _choices(round_)
    response = phone.post(submit_url(code, round_.id), data={**form, "action": "review"})
    assert response.status_code == 200
    html = text(response)
    assert "核对选票" in html and "已评 2 个，弃权 4 个" in html
    items = re.findall(r'<li><span class="who">(.*?)</span>\s*<span class="choice[^"]*">([^<]+)</span>', html, re.S)
    shown = {re.sub(r"<small>.*?</small>", "", who): choice for who, choice in items}
    assert shown == {"区发改局领导班子": "较好", "张三": "优秀", "李四": "弃权", "区财政局领导班子": "弃权", "王五": "弃权", "赵六": "弃权"}
    hidden = dict(re.findall(r'<input type="hidden" name="(t\d+)" value="(\d)">', html))
    assert hidden == {f"t{team.id}": "1", f"t{zhang.id}": "0"}
    assert 'name="action" value="submit"' in html and 'name="action" value="edit"' in html
    assert count(SlipUse) == 0 and count(Ballot) == 0  # reviewing casts nothing


def test_edit_returns_the_ballot_with_the_choices_checked(phone, opened):
    """R13: 返回修改 brings back the ballot with the choices (and 弃权) checked."""
    _, round_, code = opened
    team, zhang, _ = _choices(round_)
    response = phone.post(submit_url(code, round_.id), data={f"t{team.id}": "1", f"t{zhang.id}": "0", "action": "edit"})
    assert response.status_code == 200
    html = text(response)
    checked = dict(re.findall(r'name="(t\d+)" value="(\d?)"\s*checked', html))
    expected = {f"t{t.id}": "" for t in round_.targets}
    expected.update({f"t{team.id}": "1", f"t{zhang.id}": "0"})
    assert checked == expected
    assert count(SlipUse) == 0


def test_submit_casts_one_ballot_with_the_marks(phone, opened):
    """R7/R13/R23: one anonymous ballot in the slip's category, marks as chosen, 投票成功."""
    _, round_, code = opened
    team, zhang, form = _choices(round_)
    response = phone.post(submit_url(code, round_.id), data={f"t{team.id}": "1", f"t{zhang.id}": "0", "action": "submit"})
    assert response.status_code == 200
    assert "投票成功" in text(response)
    no_cookie(response)
    ballots = db.session.scalars(select(Ballot)).all()
    assert len(ballots) == 1
    slip = slip_service.find_by_code(code)
    assert ballots[0].round_id == round_.id and ballots[0].category_id == slip.category_id and ballots[0].is_valid
    marks = {(m.target_id, m.level) for m in db.session.scalars(select(BallotMark))}
    assert marks == {(team.id, 1), (zhang.id, 0)}
    assert count(SlipUse) == 1

    # the slip's page now says it has voted, and no ballot is offered again
    again = phone.get(f"/v/{code}")
    assert again.status_code == 200 and "已投票" in text(again) and 'name="action"' not in text(again)


def test_done_page_does_not_contain_the_ballot_id(phone, opened):
    """R23: nothing on the page or in the headers varies with the ballot."""
    _, round_, code = opened
    team, _, _ = _choices(round_)
    response = phone.post(submit_url(code, round_.id), data={f"t{team.id}": "2", "action": "submit"})
    assert response.status_code == 200
    ballot_id = db.session.scalar(select(Ballot.id))
    assert ballot_id and ballot_id not in text(response)
    assert all(ballot_id not in value for _, value in response.headers.items())


def test_the_done_page_is_the_same_for_every_voter(phone, make_meeting, codes_of):
    """R23: two voters with different marks get byte-identical pages apart from their own code
    and their random receipt."""
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    first, second = codes_of(meeting, "A")[:2]
    one = phone.post(submit_url(first, round_.id), data={f"t{round_.targets[0].id}": "0", "action": "submit"})
    two = phone.post(submit_url(second, round_.id), data={f"t{round_.targets[1].id}": "3", "action": "submit"})

    def masked(page, code):
        html = text(page).replace(code, "CODE")
        return re.sub(r'receipt-code">[0-9A-Z]{4} [0-9A-Z]{4}<', 'receipt-code">RECEIPT<', html)

    assert "receipt-code" in text(one)
    assert masked(one, first) == masked(two, second)
    assert dict(one.headers) == dict(two.headers)


def test_done_page_refreshes_to_the_slip_page(phone, opened):
    """After 投票成功 the page looks again at the slip's own page (next round), never at the
    POST-only submit URL (a GET there is 405)."""
    _, round_, code = opened
    done = phone.post(submit_url(code, round_.id), data={f"t{round_.targets[0].id}": "0", "action": "submit"})
    refresh = re.search(r'<meta http-equiv="refresh" content="(\d+); url=([^"]+)">', text(done))
    assert refresh and refresh.group(2) == f"/v/{code}"
    after = phone.get(refresh.group(2))
    assert after.status_code == 200 and "已投票，等待下一轮" in text(after)
    assert phone.get(submit_url(code, round_.id)).status_code == 405


def test_markup_in_names_is_escaped_on_the_ballot_and_review(phone, make_meeting, codes_of):
    """Names on the ballot and review are escaped text, never markup."""
    markup = '<script>alert(1)</script>&"'
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#34;"
    targets = [{"kind": "person", "unit": "单位" + markup, "name": markup, "title": markup, "principal": True}]
    meeting = make_meeting(title="会议" + markup, targets=targets, open=True)
    round_ = meeting.rounds[0]
    code = codes_of(meeting)[0]
    pages = {
        "ballot": phone.get(f"/v/{code}"),
        "review": phone.post(submit_url(code, round_.id), data={f"t{round_.targets[0].id}": "0", "action": "review"}),
    }
    for name, response in pages.items():
        html = text(response)
        assert response.status_code == 200, name
        assert "<script>alert(1)" not in html, name
        assert html.count(escaped) >= 3, name  # meeting title, name, unit


def test_second_submit_is_refused(phone, opened):
    """R7: 此码本轮已投票, and no second ballot."""
    _, round_, code = opened
    data = {f"t{round_.targets[0].id}": "0", "action": "submit"}
    assert phone.post(submit_url(code, round_.id), data=data).status_code == 200
    response = phone.post(submit_url(code, round_.id), data={f"t{round_.targets[0].id}": "3", "action": "submit"})
    assert response.status_code == 409
    assert "此码本轮已投票" in text(response)
    assert count(Ballot) == 1 and count(SlipUse) == 1
    assert db.session.scalar(select(BallotMark.level)) == 0


@pytest.mark.parametrize("action", ["review", "submit"])
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("t999999", "0", "选票上没有这个测评对象"),
        ("first", "7", "评价等次不正确"),
        ("first", "-1", "评价等次不正确"),
        ("first", "优秀", "评价等次不正确"),
    ],
)
def test_bad_marks_are_refused_and_consume_nothing(phone, opened, action, field, value, message):
    """A target not on the ballot or a level off the scale: 422, a Chinese message, no slip used."""
    _, round_, code = opened
    name = f"t{round_.targets[0].id}" if field == "first" else field
    response = phone.post(submit_url(code, round_.id), data={name: value, "action": action})
    assert response.status_code == 422
    html = text(response)
    assert message in html and 'role="alert"' in html
    assert count(SlipUse) == 0 and count(Ballot) == 0 and count(BallotMark) == 0
    # the slip still votes normally afterwards
    ok = phone.post(submit_url(code, round_.id), data={f"t{round_.targets[0].id}": "0", "action": "submit"})
    assert ok.status_code == 200 and count(SlipUse) == 1


def test_superscript_digit_as_level_is_refused(phone, opened):
    """R8: a level that is not one of 0–3 is an invalid ballot (422), not a server error."""
    _, round_, code = opened
    response = phone.post(submit_url(code, round_.id), data={f"t{round_.targets[0].id}": "²", "action": "review"})
    assert response.status_code == 422


@pytest.mark.parametrize("round_id", [2**31, 10**25])
def test_round_id_out_of_range_is_404(phone, opened, round_id):
    """An id no column can hold is simply unknown (not a database error)."""
    _, _, code = opened
    response = phone.post(f"/v/{code}/r/{round_id}", data={"action": "review"})
    assert response.status_code == 404
    assert count(SlipUse) == 0


def test_round_closed_between_review_and_submit(phone, opened):
    """The close wins: 409 投票已结束, nothing consumed."""
    _, round_, code = opened
    data = {f"t{round_.targets[0].id}": "0"}
    assert phone.post(submit_url(code, round_.id), data={**data, "action": "review"}).status_code == 200
    meetings.close_round(round_, "test")
    response = phone.post(submit_url(code, round_.id), data={**data, "action": "submit"})
    assert response.status_code == 409
    assert "投票已结束" in text(response)
    assert count(SlipUse) == 0 and count(Ballot) == 0


def test_submit_to_a_round_of_another_meeting_is_refused(phone, make_meeting, codes_of):
    """R7: a slip votes only in the rounds of its own meeting."""
    one, other = make_meeting(open=True), make_meeting(open=True, title="另一场")
    code = codes_of(one)[0]
    response = phone.post(submit_url(code, other.rounds[0].id), data={f"t{other.rounds[0].targets[0].id}": "0", "action": "submit"})
    assert response.status_code == 404 and "没有这个投票轮次" in text(response)
    assert count(SlipUse) == 0


def test_voided_slip_cannot_submit(phone, opened):
    """§7: a voided slip cannot cast, even with a ballot page still open."""
    _, round_, code = opened
    slip_service.void(slip_service.find_by_code(code), "遗失", "test", replace=False)
    response = phone.post(submit_url(code, round_.id), data={f"t{round_.targets[0].id}": "0", "action": "submit"})
    assert response.status_code == 403 and "已作废" in text(response)
    assert count(SlipUse) == 0


# ------------------------------------------------------------------------------------------
# Cookies off, no other hosts, small pages, no caching
# ------------------------------------------------------------------------------------------


def _whole_flow(phone, code, round_):
    """Every voting page in order: entry, ballot, review, edit, done, and the messages."""
    target = round_.targets[0].id
    responses = {
        "enter": phone.get("/v"),
        "enter-post": phone.post("/v", data={"code": code.lower()}),
        "enter-error": phone.post("/v", data={"code": "ABC"}),
        "ballot": phone.get(f"/v/{code}"),
        "review": phone.post(submit_url(code, round_.id), data={f"t{target}": "1", "action": "review"}),
        "edit": phone.post(submit_url(code, round_.id), data={f"t{target}": "1", "action": "edit"}),
        "invalid": phone.post(submit_url(code, round_.id), data={f"t{target}": "9", "action": "submit"}),
        "done": phone.post(submit_url(code, round_.id), data={f"t{target}": "1", "action": "submit"}),
        "voted": phone.get(f"/v/{code}"),
        "again": phone.post(submit_url(code, round_.id), data={f"t{target}": "1", "action": "submit"}),
        "unknown": phone.get(f"/v/{codes.derive_code(b'x', b'0123456789abcdef')}"),
    }
    return responses


def test_whole_flow_without_cookies(phone, opened):
    """WeChat may run with cookies off: every step works and none sets a cookie."""
    _, round_, code = opened
    responses = _whole_flow(phone, code, round_)
    statuses = {name: r.status_code for name, r in responses.items()}
    assert statuses == {
        "enter": 200, "enter-post": 302, "enter-error": 400, "ballot": 200, "review": 200, "edit": 200,
        "invalid": 422, "done": 200, "voted": 200, "again": 409, "unknown": 404,
    }
    for name, response in responses.items():
        assert "Set-Cookie" not in response.headers, name
    assert "投票成功" in text(responses["done"])
    assert count(Ballot) == 1 and count(SlipUse) == 1


def test_voting_pages_load_nothing_from_other_hosts(phone, opened, make_meeting, codes_of):
    """§1: the hall may have no internet; every asset is served by us."""
    _, round_, code = opened
    responses = _whole_flow(phone, code, round_)
    waiting = make_meeting(title="未开始的会议")
    responses["waiting"] = phone.get(f"/v/{codes_of(waiting)[0]}")
    for name, response in responses.items():
        html = text(response)
        assert not EXTERNAL_URL.search(html), (name, EXTERNAL_URL.search(html))
        assert "@import" not in html and "url(http" not in html.replace(" ", ""), name
    # the stylesheet and script they link are ours, and import nothing either
    ballot = text(responses["ballot"])
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', ballot)
    assert any(a.endswith(".css") for a in assets) and any(a.endswith(".js") for a in assets)
    for asset in assets:
        body = phone.get(asset)
        assert body.status_code == 200, asset
        content = body.get_data(as_text=True)
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", content, re.I), asset
        body.close()


def _thirty_person_definition():
    surnames = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹"
    return meeting_definition(
        targets=[
            {"kind": "person", "unit": f"区第{i + 1}直属机关工作委员会", "name": f"{surnames[i]}建国", "title": "党组书记、局长", "principal": i % 2 == 0}
            for i in range(30)
        ]
    )


def test_ballot_page_size(phone, make_meeting, codes_of):
    """Old phones on a crowded hall Wi-Fi: the ballot page stays small (6 targets < 20 KB,
    30 targets < 60 KB)."""
    small = make_meeting(open=True)
    size_6 = len(phone.get(f"/v/{codes_of(small)[0]}").data)
    big = meetings.import_definition(_thirty_person_definition(), "test")
    for category in big.categories:
        slip_service.issue(big, category, 10, "test")
    meetings.open_round(big.rounds[0], "test")
    page = phone.get(f"/v/{codes_of(big)[0]}")
    assert text(page).count('<fieldset class="target"') == 30
    size_30 = len(page.data)
    print(f"\nballot page size: 6 targets {size_6} bytes, 30 targets {size_30} bytes")
    assert size_6 < 20 * 1024
    assert size_30 < 60 * 1024


def test_voting_responses_are_not_cached(phone, opened):
    """A shared phone or a proxy must not keep a ballot page or the code in its cache."""
    _, round_, code = opened
    for name, response in _whole_flow(phone, code, round_).items():
        assert response.headers.get("Cache-Control") == "no-store", name
