"""The organizer's console through HTTP: log-in, CSRF, set-up, slips, rounds, results, import."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.core import codes
from app.extensions import db
from app.models import Meeting, Round, RoundState, Slip, Target, VoterCategory
from app.services import meetings, voting
from app.services.spreadsheets import meeting_template_xlsx
from tests.conftest import AuthActions, csrf_token, follow_slip_job

from .conftest import count, db_state

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_JSON = ROOT / "docs" / "examples" / "meeting.json"
MARKUP = '<script>alert(1)</script>&"'
MARKUP_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#34;"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"



def text(response) -> str:
    return response.get_data(as_text=True)


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and urlparse(response.headers["Location"]).path == "/login"


def pdf_pages(data: bytes, tmp_path) -> int | None:
    """Page count by pdfinfo (poppler-utils), or None where it is not installed."""
    if not shutil.which("pdfinfo"):
        return None
    path = tmp_path / "out.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def flash_messages(html: str) -> list[str]:
    return re.findall(r'<p class="flash [^"]*"[^>]*>(.*?)</p>', html, re.S)


def button_action(html: str, label: str) -> str:
    """The action URL of the POST-button form labelled ``label`` (开始投票 …)."""
    match = re.search(r'<form method="post" action="([^"]+)" class="inline">(?:(?!</form>).)*?>' + label + "</button>", html, re.S)
    assert match, f"no {label} button on the page"
    return match.group(1)


# ------------------------------------------------------------------------------------------
# Every organizer URL needs a log-in, every organizer POST a CSRF token
# ------------------------------------------------------------------------------------------

GET_URLS = [
    "/organizer/",
    "/organizer/meetings/new",
    "/organizer/import-template.xlsx",
    "/organizer/meetings/{m}",
    "/organizer/meetings/{m}/slips.pdf",
    "/organizer/meetings/{m}/slips/{s}.pdf",
    # A slip sheet job (B2); the id need not exist: the log-in comes first.
    "/organizer/meetings/{m}/slips/jobs/" + "J" * 22,
    "/organizer/meetings/{m}/slips/jobs/" + "J" * 22 + "/state",
    "/organizer/meetings/{m}/slips/jobs/" + "J" * 22 + "/download",
    "/organizer/rounds/{rc}/results",
    "/organizer/rounds/{rc}/results.pdf",
    "/organizer/rounds/{rc}/results.xlsx",
    "/organizer/rounds/{rc}/results.json",
    "/organizer/rounds/{r}/items",
    "/organizer/meetings/{m}/archive.json",
    "/organizer/rounds/{ro}/paper",
    "/organizer/meetings/{m}/live/state.json",
    "/organizer/meetings/{m}/live/events",
    "/organizer/meetings/{x}/assessment",
    "/organizer/meetings/{x}/assessment.pdf",
    "/organizer/meetings/{x}/assessment.xlsx",
    "/organizer/meetings/{x}/assessment.json",
    "/organizer/units-template.xlsx",
    "/organizer/users",
    "/organizer/audit",
    "/organizer/meetings/{m}/audit",
    "/organizer/audit.csv",
    "/organizer/meetings/{m}/audit.xlsx",
    "/organizer/rounds/{rs}/receipts",
    "/organizer/rounds/{rs}/ballots.json",
    "/organizer/rounds/{rs}/ballots.csv",
]


def _import_file():
    return {"file": (io.BytesIO(EXAMPLE_JSON.read_bytes()), "meeting.json")}


#: POST URL → form data that the view would accept (with a token).
POST_CASES = {
    "/organizer/meetings/new": lambda w: {"title": "新建的会议", "expected_count": "10"},
    "/organizer/meetings/import": lambda w: _import_file(),
    "/organizer/meetings/{m}/categories": lambda w: {"code": "D", "name": "服务对象", "weight": "10"},
    "/organizer/meetings/{m}/targets": lambda w: {"kind": "team", "unit": "区审计局"},
    "/organizer/meetings/{m}/rounds": lambda w: {"title": "补充测评", "scope": "all"},
    "/organizer/meetings/{m}/present": lambda w: {"present": "25"},
    "/organizer/meetings/{m}/slips": lambda w: {"category_id": str(w["category"]), "count": "3"},
    "/organizer/meetings/{m}/slips/void": lambda w: {"code": w["code"], "reason": "遗失", "replace": "y"},
    "/organizer/rounds/{r}/open": lambda w: {},
    "/organizer/rounds/{ro}/close": lambda w: {},
    "/organizer/rounds/{rc}/publish": lambda w: {},
    "/organizer/rounds/{r}/mode": lambda w: {"mode": "live"},
    "/organizer/rounds/{ro}/paper": lambda w: {"code": w["ro_code"]},
    "/organizer/meetings/{m}/rehearsal": lambda w: {},
    "/organizer/meetings/{h}/rehearsal/purge": lambda w: {},
    "/organizer/rounds/{r}/items": lambda w: {"person-dimensions": "德 15\n能 10", "person-top_cap": "1", "action": "save"},
    "/organizer/meetings/{m}/display-link": lambda w: {},
    "/organizer/meetings/{m}/units/import": lambda w: {"file": (io.BytesIO(json.dumps(UNITS).encode()), "units.json")},
    "/organizer/meetings/{x}/assessment/settings": lambda w: {
        "year": "2026", "principal_target_pct": "60", "member_target_pct": "40", "grade_basic": "80",
        "grade_qualified": "90", "reward_basic_pct": "80", "reward_per_point": "10",
    },
    "/organizer/meetings/{x}/groups/部门组": lambda w: {"candidate_places": "3", "seats": "1"},
    "/organizer/meetings/{x}/groups/部门组/selection": lambda w: {"unit": ["甲局", "乙局", "丙局", "丁局"], "order": "score"},
    "/organizer/rounds/{rs}/runoff": lambda w: {},
    "/organizer/meetings/{x}/history/archive": lambda w: {},
    "/organizer/meetings/{m}/units": lambda w: {"name": "区审计局", "group": "部门组", "target_score": "93.5", "staff": "12"},
    "/organizer/users": lambda w: {"username": "jianpiao2", "role": "observer", "password": "longpassword", "confirm": "longpassword"},
    "/organizer/users/{u}/role": lambda w: {"role": "observer"},
    "/organizer/users/{u}/password": lambda w: {"password": "anotherpassword", "confirm": "anotherpassword"},
    "/organizer/users/{u}/disable": lambda w: {},
}

#: Units of the 票决 meeting: 部门组 for creating a round, 乡镇组 with a round already counted.
UNITS = [
    {"name": n, "group": "部门组", "target_score": s, "vetoed": False, "staff": 20}
    for n, s in (("甲局", 98), ("乙局", 96), ("丙局", 94), ("丁局", 92))
] + [{"name": n, "group": "乡镇组", "target_score": s, "vetoed": False, "staff": 30} for n, s in (("东镇", 97), ("西镇", 95), ("南镇", 93), ("北镇", 91))]


@pytest.fixture
def world(staged, codes_of, make_meeting):
    draft = staged["draft"]
    slip = db.session.scalars(select(Slip).where(Slip.meeting_id == draft.id).order_by(Slip.id)).first()
    return {
        "m": draft.id,
        "s": slip.id,
        "r": draft.rounds[0].id,  # a draft in a meeting with no round open (rounds run in sequence)
        "ro": staged["r_open"],
        "rc": staged["r_closed"],
        "category": draft.categories[0].id,
        "code": codes_of(draft)[0],
        "ro_code": codes_of(staged["rounds"])[0],
        "h": _rehearsal_meeting(make_meeting),
        "u": _counter_account().id,  # an account to manage (not the one logged in)
        **_selection_world(make_meeting),
    }


def _rehearsal_meeting(make_meeting) -> int:
    """A meeting in 模拟测试 with nothing cast yet (its purge still changes the database)."""
    from app.services import rehearsal

    meeting = make_meeting(title="演练会议")
    rehearsal.start(meeting, "test")
    return meeting.id


def _counter_account():
    from app.models import Organizer

    user = Organizer(username="jipiao", role="counter")
    user.set_password("counter password")
    db.session.add(user)
    db.session.commit()
    return user


def _selection_world(make_meeting) -> dict:
    """A meeting with units, and a counted and published 票决 round of 乡镇组 that calls for a
    runoff (no ballots: all four tie at 0 for 2 seats, R21)."""
    from app.services import selection, units

    meeting = make_meeting(title="年度考核会议")
    units.import_units(meeting, [dict(u) for u in UNITS], "test")
    round_ = selection.create_selection_round(meeting, "乡镇组", ["东镇", "西镇", "南镇", "北镇"], "test")
    meetings.open_round(round_, "test")
    meetings.close_round(round_, "test")
    meetings.publish_round(round_, "test")  # its receipts and ballots can be read (issue 5)
    return {"x": meeting.id, "rs": round_.id}


def _url(template: str, world: dict) -> str:
    return template.format(**{k: v for k, v in world.items() if k in ("m", "s", "r", "ro", "rc", "x", "rs", "u", "h")})


def test_the_lists_cover_every_organizer_route(app):
    """Guard for the two tests below: a new organizer route must be added to their lists."""
    adapter = app.url_map.bind("localhost")
    world = {"m": 1, "s": 1, "r": 1, "ro": 2, "rc": 3, "x": 4, "rs": 5, "u": 6, "h": 7}
    covered = {(adapter.match(_url(u, world), method="GET")[0], "GET") for u in GET_URLS}
    covered |= {(adapter.match(_url(u, world), method="POST")[0], "POST") for u in POST_CASES}
    routes = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("organizer.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == covered


@pytest.mark.parametrize("template", GET_URLS)
def test_organizer_get_redirects_to_login_when_logged_out(client, world, template):
    """Only logged-in organizers see the console (R25: every action has a named actor)."""
    response = client.get(_url(template, world))
    assert is_login_redirect(response), (response.status_code, response.headers.get("Location"))


@pytest.mark.parametrize("template", list(POST_CASES))
def test_organizer_post_redirects_to_login_when_logged_out(client, world, template):
    """A logged-out POST, even with a valid CSRF token, is sent to the log-in and changes nothing."""
    token = csrf_token(text(client.get("/login")))
    before = db_state()
    response = client.post(_url(template, world), data={**POST_CASES[template](world), "csrf_token": token})
    assert is_login_redirect(response), (response.status_code, response.headers.get("Location"))
    assert db_state() == before


@pytest.mark.parametrize("template", list(POST_CASES))
def test_organizer_post_without_csrf_token_is_refused_and_changes_nothing(org, world, template):
    """Without the token: 400 and no change; the same post with the token does change the
    database (so the refusal is the token's doing)."""
    url = _url(template, world)
    before = db_state()
    response = org.post(url, POST_CASES[template](world), csrf=False)
    assert response.status_code == 400
    assert "安全令牌" in text(response)
    assert db_state() == before

    accepted = org.post(url, POST_CASES[template](world))
    assert accepted.status_code == 302, text(accepted)
    assert db_state() != before


# ------------------------------------------------------------------------------------------
# Log-in, log-out, headers
# ------------------------------------------------------------------------------------------


def test_login_with_wrong_password_is_refused(client, organizer):
    """R25: only named organizers act; a wrong password says 用户名或密码不正确."""
    page = client.get("/login")
    response = client.post("/login", data={"username": "kaohe", "password": "wrong horse", "csrf_token": csrf_token(text(page))})
    assert response.status_code == 200
    assert "用户名或密码不正确" in text(response)
    assert is_login_redirect(client.get("/organizer/"))


def test_login_with_right_password_opens_the_console(client, organizer):
    """R25: the right password logs in and opens the console."""
    page = client.get("/login")
    response = client.post("/login", data={"username": "kaohe", "password": "correct horse", "csrf_token": csrf_token(text(page))})
    assert response.status_code == 302 and response.headers["Location"] == "/organizer/"
    console = client.get("/organizer/")
    assert console.status_code == 200 and "测评会议" in text(console)


def test_login_does_not_redirect_off_site(client, organizer):
    """An off-site ?next= is ignored (no open redirect from the log-in page)."""
    page = client.get("/login")
    response = client.post(
        "/login?next=//evil.example/x",
        data={"username": "kaohe", "password": "correct horse", "csrf_token": csrf_token(text(page))},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/organizer/"


def test_logout_is_post_only(org):
    """Log-out is a POST with a CSRF token, so a link elsewhere cannot log an organizer out."""
    assert org.get("/logout").status_code == 405
    assert org.get("/organizer/").status_code == 200  # the GET did not log out
    response = org.post("/logout")
    assert is_login_redirect(response)
    assert is_login_redirect(org.get("/organizer/"))


def test_session_cookie_is_httponly_and_samesite_lax(client, organizer):
    """The organizer's session cookie is out of reach of scripts and of cross-site posts."""
    page = client.get("/login")
    response = client.post("/login", data={"username": "kaohe", "password": "correct horse", "csrf_token": csrf_token(text(page))})
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "log-in must set the session cookie"
    for cookie in cookies:
        attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
        assert "httponly" in attributes
        assert attributes.get("samesite", "").lower() == "samesite=lax"


@pytest.mark.parametrize("url", ["/login", "/organizer/", "/v"])
def test_security_headers(client, organizer, url):
    """No inline script may run (CSP script-src without 'unsafe-inline'); no framing; no sniffing."""
    if url.startswith("/organizer"):
        AuthActions(client).login()
    response = client.get(url)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    directives = {d.strip().split()[0]: d.strip().split()[1:] for d in csp.split(";") if d.strip()}
    script = directives.get("script-src", directives.get("default-src"))
    assert script == ["'self'"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_organizer_pages_have_no_inline_script(org, make_meeting):
    """The CSP forbids inline scripts, so a page that had one would break silently."""
    meeting = make_meeting()
    for url in ("/organizer/", f"/organizer/meetings/{meeting.id}", "/login"):
        html = text(org.get(url))
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert not re.search(r"\son[a-z]+\s*=", html), url


# ------------------------------------------------------------------------------------------
# Set-up by form
# ------------------------------------------------------------------------------------------


def test_create_meeting_by_form(org):
    """R19: a meeting created by form with its 应到 count; the audit actor is the organizer."""
    response = org.post(
        "/organizer/meetings/new", {"title": "2027年度民主测评", "held_on": "2027-01-15", "place": "第二会议室", "expected_count": "40"}
    )
    assert response.status_code == 302
    meeting = db.session.scalar(select(Meeting))
    assert response.headers["Location"] == f"/organizer/meetings/{meeting.id}"
    assert (meeting.title, meeting.held_on.isoformat(), meeting.place, meeting.expected_count) == ("2027年度民主测评", "2027-01-15", "第二会议室", 40)
    page = text(org.get(response.headers["Location"]))
    assert "会议已创建" in page and "2027年度民主测评" in page and "应到 40 人" in page


def test_create_meeting_form_errors_are_in_chinese(org):
    """Form errors are shown in Chinese and nothing is created."""
    response = org.post("/organizer/meetings/new", {"title": "", "expected_count": "-3"})
    assert response.status_code == 400
    html = text(response)
    assert "请填写会议名称" in html and "应到人数应为正整数" in html
    response = org.post("/organizer/meetings/new", {"title": "会议", "expected_count": ""})
    assert response.status_code == 400 and "请填写应到人数" in text(response)
    assert count(Meeting) == 0


def test_malformed_date_and_number_errors_are_in_chinese(org):
    """WTForms' own messages (bad date, bad number) are in Chinese too."""
    response = org.post("/organizer/meetings/new", {"title": "会议", "held_on": "2026-13-45", "expected_count": "三十"})
    assert response.status_code == 400
    errors = re.findall(r'<em class="err">(.*?)</em>', text(response))
    assert len(errors) == 2
    assert all(re.search(r"[\u4e00-\u9fff]", e) and "Not a valid" not in e for e in errors), errors


def test_add_category(org, make_meeting):
    """R14: a category with a weight; the page warns that the weights no longer sum to 100."""
    meeting = make_meeting(slips={})
    response = org.post(f"/organizer/meetings/{meeting.id}/categories", {"code": "d", "name": "服务对象", "weight": "10"})
    assert response.status_code == 302
    category = db.session.scalar(select(VoterCategory).where(VoterCategory.meeting_id == meeting.id, VoterCategory.code == "D"))
    assert category is not None and category.name == "服务对象" and float(category.weight) == 10
    page = text(org.get(f"/organizer/meetings/{meeting.id}"))
    assert "类别已添加" in page and "D 服务对象" in page
    assert "各类别权重合计为 110%，不是 100%" in page


def test_add_category_with_a_taken_code_is_refused(org, make_meeting):
    """R14: category codes are unique per meeting; the refusal is explained, nothing changes."""
    meeting = make_meeting(slips={})
    before = db_state()
    response = org.post(f"/organizer/meetings/{meeting.id}/categories", {"code": "A", "name": "重复", "weight": "10"})
    assert response.status_code == 409
    assert "类别代码「A」已存在" in text(response)
    assert db_state() == before


def test_add_target(org, make_meeting):
    """§2: a 个人 target with unit, 职务 and 主要负责人 (R1) is added and listed."""
    meeting = make_meeting(slips={})
    response = org.post(
        f"/organizer/meetings/{meeting.id}/targets",
        {"kind": "person", "unit": "区审计局", "name": "钱七", "title": "局长", "is_principal": "y"},
    )
    assert response.status_code == 302
    target = db.session.scalar(select(Target).where(Target.meeting_id == meeting.id, Target.name == "钱七"))
    assert (target.kind, target.unit, target.title, target.is_principal) == ("person", "区审计局", "局长", True)
    page = text(org.get(f"/organizer/meetings/{meeting.id}"))
    assert "测评对象已添加" in page and "测评对象（7）" in page and "钱七" in page


def test_add_person_target_without_name_shows_the_error(org, make_meeting):
    """R8: a 个人 target needs a name (it is what voters see on the ballot)."""
    meeting = make_meeting(slips={})
    before = db_state()
    response = org.post(f"/organizer/meetings/{meeting.id}/targets", {"kind": "person", "unit": "区审计局"})
    assert response.status_code == 400
    assert "个人测评对象须填写姓名" in text(response)
    assert db_state() == before


def test_add_target_after_a_round_opened_is_refused(org, make_meeting):
    """A ballot must not change under the voters."""
    meeting = make_meeting(open=True)
    before = db_state()
    response = org.post(f"/organizer/meetings/{meeting.id}/targets", {"kind": "team", "unit": "区审计局"})
    assert response.status_code == 409
    assert "已有轮次开始投票，不能再增加测评对象" in text(response)
    assert db_state() == before


def test_add_round(org, make_meeting):
    """§3: a draft round over the targets of one kind (班子)."""
    meeting = make_meeting(slips={})
    response = org.post(f"/organizer/meetings/{meeting.id}/rounds", {"title": "班子补充测评", "scope": "team"})
    assert response.status_code == 302
    round_ = db.session.scalar(select(Round).where(Round.meeting_id == meeting.id, Round.title == "班子补充测评"))
    assert round_.state is RoundState.DRAFT
    assert [t.kind for t in round_.targets] == ["team", "team"]
    page = text(org.get(f"/organizer/meetings/{meeting.id}"))
    assert "轮次已添加" in page and "班子补充测评" in page


def test_set_present(org, make_meeting):
    """R19/R20: 实到 entered at check-in replaces the count of slips handed out."""
    meeting = make_meeting()
    page = text(org.get(f"/organizer/meetings/{meeting.id}"))
    assert "实到 30 人（按已发出测评码计）" in page
    response = org.post(f"/organizer/meetings/{meeting.id}/present", {"present": "25"})
    assert response.status_code == 302
    assert db.session.get(Meeting, meeting.id).present_count == 25
    page = text(org.get(f"/organizer/meetings/{meeting.id}"))
    assert "实到人数已保存" in page and "实到 25 人 ·" in page
    org.post(f"/organizer/meetings/{meeting.id}/present", {"present": ""})
    assert db.session.get(Meeting, meeting.id).present_count is None


# ------------------------------------------------------------------------------------------
# Slips
# ------------------------------------------------------------------------------------------


def test_issue_slips_shows_the_count(org, make_meeting):
    """§7/R19: issued slips are counted per category and as 发出."""
    meeting = make_meeting(slips={})
    category = meeting.categories[1]
    response = org.post(f"/organizer/meetings/{meeting.id}/slips", {"category_id": str(category.id), "count": "7"}, follow_redirects=True)
    assert response.status_code == 200
    html = text(response)
    assert "已为「B 中层干部」生成 7 张测评码" in html
    assert re.search(r"<td>B 中层干部</td><td>40%</td><td>7</td>", html)
    assert "已发出测评码 7 张" in html
    assert count(Slip) == 7


def test_issue_slips_count_out_of_range_is_refused(org, make_meeting):
    """§7: 1–5000 slips at a time; a larger count is refused, nothing issued."""
    meeting = make_meeting(slips={})
    response = org.post(f"/organizer/meetings/{meeting.id}/slips", {"category_id": str(meeting.categories[0].id), "count": "5001"})
    assert response.status_code == 400 and "一次可生成 1–5000 张" in text(response)
    assert count(Slip) == 0


def test_small_category_warning(org, make_meeting):
    """R23: a category of 1–2 slips could be attributed to a person; the page says so."""
    meeting = make_meeting(slips={})
    url = f"/organizer/meetings/{meeting.id}/slips"
    a = str(meeting.categories[0].id)
    warning = "类别「A 领导班子成员」只有"
    assert warning not in text(org.get(f"/organizer/meetings/{meeting.id}"))
    html = text(org.post(url, {"category_id": a, "count": "1"}, follow_redirects=True))
    assert "类别「A 领导班子成员」只有 1 张测评码" in html
    html = text(org.post(url, {"category_id": a, "count": "1"}, follow_redirects=True))
    assert "类别「A 领导班子成员」只有 2 张测评码" in html
    html = text(org.post(url, {"category_id": a, "count": "1"}, follow_redirects=True))
    assert warning not in html


def test_download_slips_pdf(org, make_meeting, tmp_path):
    """§7: the A4 slip sheet, 12 slips a page: all 30 slips on 3 pages, category A's 10 on one.
    The sheet is made by a background job (B2) whose page offers the download."""
    meeting = make_meeting()
    response, _page, _seen = follow_slip_job(org.client, f"/organizer/meetings/{meeting.id}/slips.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    assert "attachment" in response.headers["Content-Disposition"]
    assert f"filename*=UTF-8''%E6%B5%8B%E8%AF%84%E7%A0%81-{meeting.id}.pdf" in response.headers["Content-Disposition"]
    pages = pdf_pages(response.data, tmp_path)
    assert pages in (None, 3)

    only_a, _page, _seen = follow_slip_job(org.client, f"/organizer/meetings/{meeting.id}/slips.pdf?category=a")
    assert only_a.status_code == 200
    assert only_a.mimetype == "application/pdf" and only_a.data.startswith(b"%PDF")
    assert pdf_pages(only_a.data, tmp_path) in (None, 1)
    assert len(only_a.data) < len(response.data)

    assert org.get(f"/organizer/meetings/{meeting.id}/slips.pdf?category=Z").status_code == 404


def test_slips_pdf_without_slips_sends_back_to_the_meeting(org, make_meeting):
    """§7: no slips, no sheet: the organizer is told to issue some first."""
    meeting = make_meeting(slips={})
    response = org.get(f"/organizer/meetings/{meeting.id}/slips.pdf", follow_redirects=True)
    assert response.status_code == 200 and "还没有可打印的测评码" in text(response)


def test_void_slip_with_replacement(org, make_meeting, codes_of, tmp_path):
    """A lost slip is voided by its typed code and a replacement printed (§7)."""
    meeting = make_meeting()
    code = codes_of(meeting, "B")[3]
    typed = codes.pretty(code).lower()
    response = org.post(f"/organizer/meetings/{meeting.id}/slips/void", {"code": typed, "reason": "遗失", "replace": "y"})
    assert response.status_code == 302
    voided = db.session.scalar(select(Slip).where(Slip.voided_dt.isnot(None)))
    assert voided is not None and voided.void_reason == "遗失"
    replacement = db.session.scalar(select(Slip).where(Slip.replaces_id == voided.id))
    assert replacement is not None and replacement.category_id == voided.category_id and not replacement.is_void
    assert f"replacement={replacement.id}" in response.headers["Location"]
    assert count(Slip) == 31
    assert code not in codes_of(meeting)

    page = text(org.get(response.headers["Location"]))
    assert "测评码已作废，并已补发新码" in page
    link = f"/organizer/meetings/{meeting.id}/slips/{replacement.id}.pdf"
    assert f'href="{link}"' in page
    pdf = org.get(link)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert pdf_pages(pdf.data, tmp_path) in (None, 1)
    # the voided slip has no PDF any more
    assert org.get(f"/organizer/meetings/{meeting.id}/slips/{voided.id}.pdf").status_code == 404


def test_void_slip_without_replacement(org, make_meeting, codes_of):
    """§7: a slip can be voided without a replacement; 发出 drops by one (R19)."""
    meeting = make_meeting()
    code = codes_of(meeting, "A")[0]
    response = org.post(f"/organizer/meetings/{meeting.id}/slips/void", {"code": code, "reason": "损坏"})
    assert response.status_code == 302 and "replacement" not in response.headers["Location"]
    assert count(Slip) == 30
    assert len(codes_of(meeting)) == 29


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("unknown", "没有这个测评码"),
        ("mistyped", "测评码校验不通过"),
        ("short", "测评码应为 18 位"),
    ],
)
def test_void_unknown_code_shows_the_error_and_changes_nothing(org, make_meeting, codes_of, typed, message):
    """§7: an unknown or mistyped code is explained on the page and nothing is voided."""
    meeting = make_meeting()
    real = codes_of(meeting)[0]
    code = {
        "unknown": codes.derive_code(b"another server", b"0123456789abcdef"),
        "mistyped": real[:-1] + ("0" if real[-1] != "0" else "1"),
        "short": real[:10],
    }[typed]
    before = db_state()
    response = org.post(f"/organizer/meetings/{meeting.id}/slips/void", {"code": code, "replace": "y"})
    assert response.status_code == 400
    assert message in text(response)
    assert db_state() == before


def test_void_code_of_another_meeting_is_refused(org, make_meeting, codes_of):
    """§7: a slip of another meeting cannot be voided from this one."""
    one, other = make_meeting(), make_meeting(title="另一场会议")
    before = db_state()
    response = org.post(f"/organizer/meetings/{one.id}/slips/void", {"code": codes_of(other)[0], "replace": "y"})
    assert response.status_code == 400 and "此测评码不属于本次会议" in text(response)
    assert db_state() == before


# ------------------------------------------------------------------------------------------
# Rounds and results
# ------------------------------------------------------------------------------------------


def test_open_below_quorum_is_refused(org, make_meeting):
    """R20: 实到 5 of 应到 30 does not exceed 2/3: the round stays a draft."""
    meeting = make_meeting(slips={"A": 5})
    page = text(org.get(f"/organizer/meetings/{meeting.id}"))
    assert "达到法定人数前不能开始投票" in page
    response = org.post(button_action(page, "开始投票"), follow_redirects=True)
    assert response.status_code == 200
    assert any("未达到法定人数" in m for m in flash_messages(text(response)))
    assert db.session.get(Round, meeting.rounds[0].id).state is RoundState.DRAFT


def test_open_exactly_at_two_thirds_is_refused(org, make_meeting):
    """R20: 实到 must *exceed* the share: 20 of 30 is not enough, 21 is."""
    meeting = make_meeting()
    org.post(f"/organizer/meetings/{meeting.id}/present", {"present": "20"})
    org.post(f"/organizer/rounds/{meeting.rounds[0].id}/open")
    assert db.session.get(Round, meeting.rounds[0].id).state is RoundState.DRAFT
    org.post(f"/organizer/meetings/{meeting.id}/present", {"present": "21"})
    org.post(f"/organizer/rounds/{meeting.rounds[0].id}/open")
    assert db.session.get(Round, meeting.rounds[0].id).state is RoundState.OPEN


def test_open_close_publish_through_the_buttons(org, make_meeting):
    """R24: open → close → publish, each by its button; the results link appears after the close."""
    meeting = make_meeting()
    round_id = meeting.rounds[0].id
    page_url = f"/organizer/meetings/{meeting.id}"
    results = f"/organizer/rounds/{round_id}/results"

    for label, flash, state, link_before in [
        ("开始投票", "已开始投票", RoundState.OPEN, False),
        ("结束投票", "已结束投票，可查看结果", RoundState.CLOSED, False),
        ("公布结果", "结果已公布", RoundState.PUBLISHED, True),
    ]:
        page = text(org.get(page_url))
        assert (f'href="{results}"' in page) is link_before
        response = org.post(button_action(page, label))
        assert response.status_code == 302 and response.headers["Location"] == f"{page_url}#round-{round_id}"
        assert db.session.get(Round, round_id).state is state
        assert flash in text(org.get(page_url))
    page = text(org.get(page_url))
    assert "已公布" in page and f'href="{results}"' in page
    for label in ("开始投票", "结束投票", "公布结果"):
        assert f">{label}</button>" not in page


@pytest.mark.parametrize(
    "url", ["/organizer/meetings/2147483648", "/organizer/rounds/99999999999999999999999/results", "/organizer/meetings/1/slips/2147483648.pdf"]
)
def test_ids_out_of_range_are_404(org, make_meeting, url):
    """An id no column can hold is an unknown id, not a database error."""
    make_meeting()
    assert org.get(url).status_code == 404


def test_transition_in_the_wrong_state_is_explained(org, make_meeting):
    """R24: publishing before the close is refused with the reason."""
    meeting = make_meeting()
    response = org.post(f"/organizer/rounds/{meeting.rounds[0].id}/publish", follow_redirects=True)
    assert "投票结束后才能公布结果" in text(response)
    assert db.session.get(Round, meeting.rounds[0].id).state is RoundState.DRAFT


def _cast(meeting, codes_of, category: str, index: int, marks: dict[str, int]):
    round_ = meeting.rounds[0]
    by_name = {t.display_name: t.id for t in round_.targets}
    slip = voting.resolve(codes_of(meeting, category)[index])
    voting.cast(slip, round_.id, {by_name[name]: level for name, level in marks.items()})


@pytest.fixture
def counted(make_meeting, codes_of):
    """A closed round: 张三 gets 优秀 from A, 称职 from B, 基本称职 from C →
    0.3×100 + 0.4×80 + 0.3×60 = 80.00 (R13, R14); 区发改局领导班子 好 from A and B → 100.00."""
    meeting = make_meeting(open=True)
    _cast(meeting, codes_of, "A", 0, {"张三": 0, "区发改局领导班子": 0})
    _cast(meeting, codes_of, "B", 0, {"张三": 1, "区发改局领导班子": 0})
    _cast(meeting, codes_of, "C", 0, {"张三": 2})
    return meeting


def _row(html: str, name: str) -> str:
    match = re.search(r"<tr><td>\d+</td><td>[^<]*</td><td>" + re.escape(name) + r"</td>.*?</tr>", html, re.S)
    assert match, f"no row for {name}"
    return match.group(0)


def test_results_before_close_are_refused(org, counted):
    """R24: no figures while the round is open (nor before it opened)."""
    round_id = counted.rounds[0].id
    for url in (f"/organizer/rounds/{round_id}/results", *(f"/organizer/rounds/{round_id}/results.{f}" for f in ("pdf", "xlsx", "json"))):
        response = org.get(url)
        assert response.status_code == 409, url
        assert "投票结束后才能查看结果" in text(response)


def test_results_page_after_close(org, counted):
    """R13/R14/R16/R19: every target listed, the weighted score, the band and the counts."""
    round_ = counted.rounds[0]
    meetings.close_round(round_, "test")
    response = org.get(f"/organizer/rounds/{round_.id}/results")
    assert response.status_code == 200
    html = text(response)
    for target in round_.targets:
        assert target.display_name in html
    zhang = _row(html, "张三")
    assert ">80.00<" in zhang and "称职" in zhang
    team = _row(html, "区发改局领导班子")
    assert ">100.00<" in team and "<td>好</td>" in team
    counts = re.search(r"<table class=\"grid counts\">.*?</table>", html, re.S).group(0)
    assert re.findall(r"<td>(\d+)</td>", counts) == ["30", "30", "30", "3", "3", "0", "0"]
    assert "计分规则" in html


def test_results_downloads(org, counted, tmp_path):
    """One report, three formats: the JSON score equals the page's (R16: 2 decimals)."""
    round_ = counted.rounds[0]
    meetings.close_round(round_, "test")
    html = text(org.get(f"/organizer/rounds/{round_.id}/results"))
    page_score = re.search(r'<td class="num strong">([^<]+)</td>', _row(html, "张三")).group(1)

    pdf = org.get(f"/organizer/rounds/{round_.id}/results.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert "attachment" in pdf.headers["Content-Disposition"]

    xlsx = org.get(f"/organizer/rounds/{round_.id}/results.xlsx")
    assert xlsx.status_code == 200 and xlsx.mimetype == XLSX_MIME and xlsx.data.startswith(b"PK")
    workbook = load_workbook(io.BytesIO(xlsx.data))
    cells = [c for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for c in row]
    assert "张三" in cells

    data = org.get(f"/organizer/rounds/{round_.id}/results.json")
    assert data.status_code == 200 and data.mimetype == "application/json"
    report = json.loads(data.data)
    zhang = next(t for t in report["targets"] if t["name"] == "张三")
    assert zhang["score"] == page_score == "80.00"
    assert report["counts"]["returned"] == 3


def test_results_of_a_published_round_stay_available(org, counted):
    """R24/R25: after publication the results stay readable."""
    round_ = counted.rounds[0]
    meetings.close_round(round_, "test")
    meetings.publish_round(round_, "test")
    response = org.get(f"/organizer/rounds/{round_.id}/results")
    assert response.status_code == 200 and "已公布" in text(response)


# ------------------------------------------------------------------------------------------
# Import by upload
# ------------------------------------------------------------------------------------------


def _upload(org, data: bytes, filename: str):
    return org.post("/organizer/meetings/import", {"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def test_import_good_xlsx(org):
    """docs/import.md: the downloadable template imports as a whole meeting."""
    response = _upload(org, meeting_template_xlsx(), "会议.xlsx")
    assert response.status_code == 302
    meeting = db.session.scalar(select(Meeting))
    assert response.headers["Location"] == f"/organizer/meetings/{meeting.id}"
    assert [c.code for c in meeting.categories] == ["A", "B", "C"]
    assert len(meeting.targets) == 12 and len(meeting.rounds) == 2
    assert "已导入会议" in text(org.get(response.headers["Location"]))


def test_import_good_json(org):
    """docs/import.md: docs/examples/meeting.json imports with its targets and rounds in order."""
    response = _upload(org, EXAMPLE_JSON.read_bytes(), "meeting.json")
    assert response.status_code == 302
    meeting = db.session.scalar(select(Meeting))
    example = json.loads(EXAMPLE_JSON.read_text(encoding="utf-8"))
    assert meeting.title == example["title"] and meeting.expected_count == example["expected"]
    assert [t.name for t in meeting.targets] == [t["name"] for t in example["targets"]]
    assert [r.title for r in meeting.rounds] == [r["title"] for r in example["rounds"]]


def test_import_bad_xlsx_lists_every_bad_row_and_imports_nothing(org, make_meeting):
    """docs/import.md: all or nothing; each bad row named by sheet and Excel row number."""
    make_meeting()
    workbook = load_workbook(io.BytesIO(meeting_template_xlsx()))
    ws = workbook["测评对象"]
    assert ws["A1"].value == "类型" and ws["B1"].value == "单位"
    ws["A3"] = "部门"
    ws["B5"] = None
    out = io.BytesIO()
    workbook.save(out)
    before = count(Meeting)
    response = _upload(org, out.getvalue(), "会议.xlsx")
    assert response.status_code == 400
    errors = re.findall(r"<li>(.*?)</li>", text(response))
    assert errors == ["工作表「测评对象」第 3 行：类型「部门」应为 班子 或 个人", "工作表「测评对象」第 5 行：缺少单位"]
    assert "未导入任何内容" in text(response)
    assert count(Meeting) == before


def test_import_bad_json_lists_every_error(org):
    """docs/import.md: JSON errors are named by list item; nothing is imported."""
    data = json.loads(EXAMPLE_JSON.read_text(encoding="utf-8"))
    data["categories"][1]["weight"] = "四十"
    data["targets"][2]["name"] = ""
    response = _upload(org, json.dumps(data, ensure_ascii=False).encode(), "meeting.json")
    assert response.status_code == 400
    errors = re.findall(r"<li>(.*?)</li>", text(response))
    assert errors == ["「测评人员类别」第 2 项：权重「四十」应为 0–100 之间的数", "「测评对象」第 3 项：个人测评对象缺少姓名"]
    assert count(Meeting) == 0


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"hello, this is not a workbook", "会议.xlsx", "文件不是 Excel 工作簿（.xlsx）"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "会议.xlsx", "旧版 Excel（.xls）"),
        (b"PK\x03\x04 broken zip", "会议.xlsx", "无法作为 Excel 工作簿（.xlsx）读取"),
        (b"\xff\xfe{not json", "meeting.json", "不是有效的 JSON 文件"),
        (b"title,expected\n", "meeting.csv", "只接受 .xlsx 或 .json 文件"),
    ],
)
def test_import_unreadable_file_gives_a_clear_error(org, data, filename, message):
    """docs/import.md: a file that is not what its name says gets one clear Chinese message."""
    response = _upload(org, data, filename)
    assert response.status_code == 400
    assert message in text(response)
    assert count(Meeting) == 0


def test_import_without_file(org):
    """The import form without a file says 请选择文件."""
    response = org.post("/organizer/meetings/import", {}, content_type="multipart/form-data")
    assert response.status_code == 400 and "请选择文件" in text(response)


def test_template_download(org):
    """docs/import.md: the .xlsx template downloads with the four required sheets."""
    response = org.get("/organizer/import-template.xlsx")
    assert response.status_code == 200
    assert response.mimetype == XLSX_MIME and response.data.startswith(b"PK")
    assert "attachment" in response.headers["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.data))
    assert {"会议", "测评人员类别", "测评对象", "轮次"} <= set(workbook.sheetnames)


# ------------------------------------------------------------------------------------------
# Escaping
# ------------------------------------------------------------------------------------------


def test_markup_in_names_is_escaped_on_the_meeting_page(org, make_meeting):
    """Names are text: markup in a title, unit or name is escaped, never run."""
    meeting = make_meeting(title="会议" + MARKUP)
    org.post(f"/organizer/meetings/{meeting.id}/targets", {"kind": "person", "unit": "单位" + MARKUP, "name": MARKUP, "title": MARKUP})
    assert db.session.scalar(select(Target).where(Target.name == MARKUP)) is not None
    for url in (f"/organizer/meetings/{meeting.id}", "/organizer/"):
        html = text(org.get(url))
        assert "<script>alert(1)" not in html, url
        assert MARKUP_ESCAPED in html, url


def test_markup_in_names_is_escaped_on_the_results_page(org, make_meeting, codes_of):
    """R24: the results page escapes markup in every name it prints."""
    targets = [
        {"kind": "team", "unit": "单位" + MARKUP, "name": "", "title": "", "principal": True},
        {"kind": "person", "unit": "单位" + MARKUP, "name": MARKUP, "title": MARKUP, "principal": True},
    ]
    meeting = make_meeting(title="会议" + MARKUP, targets=targets, open=True)
    round_ = meeting.rounds[0]
    slip = voting.resolve(codes_of(meeting)[0])
    voting.cast(slip, round_.id, {round_.targets[1].id: 0})
    meetings.close_round(round_, "test")
    html = text(org.get(f"/organizer/rounds/{round_.id}/results"))
    assert "<script>alert(1)" not in html
    assert html.count(MARKUP_ESCAPED) >= 4  # title, unit, name, 职务
