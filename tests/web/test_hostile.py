"""Hostile requests (issue "Proof under load and attack"): guessing codes (H5), malformed
casts (H4), web security (H7). Every refusal leaves the database as it was."""

from __future__ import annotations

import json
import secrets

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core import codes
from app.models import Ballot, BallotMark, SlipUse
from app.services import slips as slip_service

from .conftest import count


def random_code() -> str:
    payload = "".join(secrets.choice(codes.ALPHABET) for _ in range(codes.RANDOM_SYMBOLS))
    return payload + codes.check_symbol(payload)


def test_ten_thousand_random_codes_find_no_slip(make_meeting):
    """H5: 10,000 well-formed random codes (valid check symbol) against 30 issued slips →
    none accepted. The chance of a hit is 30 × 10,000 / 2⁸⁵ ≈ 10⁻²⁰."""
    make_meeting()
    hits = [c for c in (random_code() for _ in range(10_000)) if slip_service.find_by_code(c) is not None]
    assert hits == []


def test_guessing_is_rate_limited_per_address_with_retry_after(client, make_meeting, codes_of):
    """H5: 60 unknown codes a minute per address, then 429 with Retry-After, for valid codes
    too (else the 429 would itself tell a guesser which codes exist); another address (another
    hall) is not affected; typos (bad check symbol) do not count."""
    meeting = make_meeting(open=True)
    good = codes_of(meeting)[0]
    attacker = {"REMOTE_ADDR": "10.9.9.9"}
    for _ in range(30):  # typos are free
        assert client.get("/api/v1/ballot/ABCDEF-GHJKMN-PQRSTV", environ_base=attacker).status_code == 404
    statuses = [client.get(f"/api/v1/ballot/{random_code()}", environ_base=attacker).status_code for _ in range(60)]
    assert statuses == [404] * 60
    blocked = client.get(f"/api/v1/ballot/{random_code()}", environ_base=attacker)
    assert blocked.status_code == 429 and 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert blocked.get_json()["reason"] == "too_many_attempts"
    assert client.get(f"/api/v1/ballot/{good}", environ_base=attacker).status_code == 429
    page = client.get(f"/v/{random_code()}", environ_base=attacker)
    assert page.status_code == 429 and "输错次数过多" in page.get_data(as_text=True) and "Retry-After" in page.headers
    assert client.get(f"/api/v1/ballot/{good}", environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code == 200


def test_login_is_rate_limited(client, organizer):
    """H5: 10 wrong passwords for one user from one address in 15 minutes, then 429 with
    Retry-After — even for the right password, until the window passes."""
    from tests.conftest import csrf_token

    token = csrf_token(client.get("/login").get_data(as_text=True))
    for _ in range(10):
        response = client.post("/login", data={"username": "kaohe", "password": "wrong", "csrf_token": token})
        assert response.status_code == 200 and "用户名或密码不正确" in response.get_data(as_text=True)
    blocked = client.post("/login", data={"username": "kaohe", "password": "correct horse", "csrf_token": token})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in blocked.get_data(as_text=True)


# --- H4: malformed casts ---------------------------------------------------------------------

ODD_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(["²", "٣", "１", "-1", "1e3", "0x1", " 1 ", "null", "\x00", "𝟙", "9" * 30])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False) | ODD_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ODD_TEXT, inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture
def fuzz_target(app, make_meeting, codes_of):
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    return {
        "round": round_.id,
        "targets": [t.id for t in round_.targets],
        "code": codes_of(meeting)[0],
        "client": app.test_client(use_cookies=False),
    }


def _bodies(targets):
    target = st.sampled_from([str(t) for t in targets]) | ODD_TEXT
    marks = st.dictionaries(target, JSON_VALUES, max_size=8)
    return st.one_of(
        st.fixed_dictionaries({"marks": marks}),
        st.fixed_dictionaries({"choices": st.lists(JSON_VALUES, max_size=6)}),
        st.fixed_dictionaries({"marks": JSON_VALUES}),
        JSON_VALUES,
    )


def _refused_or_counted(response, before):
    """No 5xx; anything but a success (201 from the API, 投票成功 from the form) left the
    slip unused and wrote no ballot."""
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    succeeded = response.status_code == 201 or "投票成功" in response.get_data(as_text=True)
    if not succeeded:
        assert (count(SlipUse), count(Ballot), count(BallotMark)) == before


@settings(max_examples=4000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_json_casts_never_fail_the_server_nor_consume_a_slip(fuzz_target, data):
    """H4 (JSON): malformed bodies — wrong types, odd Unicode, huge numbers, unknown ids,
    nested junk — get a 4xx (never ≥ 500) and consume no slip."""
    client = fuzz_target["client"]
    body = data.draw(_bodies(fuzz_target["targets"]))
    round_id = data.draw(st.sampled_from([fuzz_target["round"], 0, 999999, 2**31]))
    code = data.draw(st.sampled_from([random_code(), "X" * 3, fuzz_target["code"].lower()]))
    before = (count(SlipUse), count(Ballot), count(BallotMark))
    response = client.post(f"/api/v1/ballot/{code}/rounds/{round_id}", data=json.dumps(body), content_type="application/json")
    _refused_or_counted(response, before)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_form_casts_never_fail_the_server_nor_consume_a_slip(fuzz_target, data):
    """H4 (form): junk field names and values through review, edit and submit."""
    client = fuzz_target["client"]
    names = st.sampled_from([f"t{t}" for t in fuzz_target["targets"]] + ["c", "t0", "t99999999999", "action", "x"]) | ODD_TEXT
    fields = data.draw(st.lists(st.tuples(names, ODD_TEXT | st.sampled_from(["0", "1", "3", "4", "", "-1"])), max_size=10))
    action = data.draw(st.sampled_from(["review", "edit", "submit", "", "drop"]))
    before = (count(SlipUse), count(Ballot), count(BallotMark))
    from werkzeug.datastructures import MultiDict

    response = client.post(f"/v/{fuzz_target['code']}/r/{fuzz_target['round']}", data=MultiDict([*fields, ("action", action)]))
    _refused_or_counted(response, before)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_fuzzed_raw_bodies(fuzz_target, raw):
    """H4: bodies that are not JSON at all, with a JSON content type."""
    before = (count(SlipUse), count(Ballot), count(BallotMark))
    response = fuzz_target["client"].post(f"/api/v1/ballot/{fuzz_target['code']}/rounds/{fuzz_target['round']}", data=raw, content_type="application/json")
    _refused_or_counted(response, before)


def test_huge_bodies_are_refused(fuzz_target):
    """H4: a body over the limit is refused with 413, nothing consumed."""
    before = (count(SlipUse), count(Ballot), count(BallotMark))
    huge = b'{"marks": {"1": "' + b"9" * (9 * 1024 * 1024) + b'"}}'
    response = fuzz_target["client"].post(f"/api/v1/ballot/{fuzz_target['code']}/rounds/{fuzz_target['round']}", data=huge, content_type="application/json")
    assert response.status_code == 413
    assert (count(SlipUse), count(Ballot), count(BallotMark)) == before


# --- H7: web security ------------------------------------------------------------------------


def test_security_headers_and_cookie_flags(client, organizer):
    """H7: a CSP without inline scripts on every page; the session cookie HttpOnly and
    SameSite=Lax (Secure when SESSION_COOKIE_SECURE=1 behind HTTPS)."""
    from tests.conftest import csrf_token

    for url in ("/v", "/login", "/api/v1/openapi.json"):
        csp = client.get(url).headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "kaohe", "password": "correct horse", "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_request_without_cookies_costs_no_session_work_and_one_with_them_is_read(app, client, organizer, monkeypatch):
    """web.CookieSessions: a phone's cast (no Cookie header: cookies may be off in WeChat)
    builds no cookie signer, which was a tenth of the framework's share of a cast (B1); a
    request that brings the session cookie still has it read, so the organizer stays logged in."""
    from flask.sessions import SecureCookieSessionInterface

    from tests.conftest import csrf_token

    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "kaohe", "password": "correct horse", "csrf_token": token})
    signers = []
    real = SecureCookieSessionInterface.get_signing_serializer
    monkeypatch.setattr(SecureCookieSessionInterface, "get_signing_serializer", lambda self, a: signers.append(1) or real(self, a))
    phone = app.test_client(use_cookies=False)
    assert phone.get("/v").status_code == 200
    assert signers == []
    assert client.get("/organizer/").status_code == 200  # logged in: the cookie was read
    assert signers


def test_no_inline_script_in_any_template():
    """H7: the CSP forbids inline scripts, so no template may contain one."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2] / "templates"
    offenders = []
    for path in root.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.name}: inline <script>" for m in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>", text)]
        offenders += [f"{path.name}: on* handler" for m in re.finditer(r"\son[a-z]+\s*=", text)]
        offenders += [f"{path.name}: style attribute" for m in re.finditer(r'\sstyle="', text)]
    assert offenders == []


def test_markup_in_names_is_escaped_on_pages_pdf_and_sheet(org, make_meeting, codes_of, tmp_path):
    """H7: a unit and a name with <script>, & and quotes print literally everywhere; a name
    starting with = is neutralised in the .xlsx."""
    import io
    import shutil
    import subprocess

    from openpyxl import load_workbook

    from app.services import meetings, voting

    nasty = '<script>alert("x")</script>&\''
    targets = [
        {"kind": "person", "unit": nasty, "name": "=HYPERLINK(\"x\")", "title": "局长", "principal": True},
        {"kind": "team", "unit": nasty, "name": "", "title": "", "principal": True},
    ]
    meeting = make_meeting(targets=targets, title=nasty)
    round_ = meeting.rounds[0]
    meetings.open_round(round_, "test")
    voting.cast(voting.resolve(codes_of(meeting)[0]), round_.id, {t.id: 0 for t in round_.targets})
    meetings.close_round(round_, "test")
    for url in (f"/organizer/meetings/{meeting.id}", f"/organizer/rounds/{round_.id}/results", f"/display/{meeting.display_token}"):
        html = org.get(url).get_data(as_text=True)
        assert "<script>alert" not in html and "&lt;script&gt;alert" in html, url
    sheet = load_workbook(io.BytesIO(org.get(f"/organizer/rounds/{round_.id}/results.xlsx").data))
    cells = [c.value for ws in sheet for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert not any(v.startswith("=") for v in cells) and any(v.startswith("'=HYPERLINK") for v in cells)
    if shutil.which("pdftotext"):
        path = tmp_path / "r.pdf"
        path.write_bytes(org.get(f"/organizer/rounds/{round_.id}/results.pdf").data)
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        # Unescaped, WeasyPrint would take <script> for an element and print nothing of it.
        assert '<script>alert("x")</script>' in "".join(text.split())
