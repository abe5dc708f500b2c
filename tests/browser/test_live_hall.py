"""The live hall as the room sees it (DOMAIN R19, R24): the projector page and two phones are
opened once and never reloaded by the test; the chair opens the round, the phones show the
ballot by themselves, the projector counts the ballots as they arrive, shows no result
before publication (hidden mode) and the result table when the chair publishes.

Screenshots are written to /tmp/shots/ for a person to look at; they are not compared to references.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ..conftest import csrf_token

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")
HALL = {"viewport": {"width": 1280, "height": 720}, "locale": "zh-CN"}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
#: What must not reach the projector before publication in hidden mode (the default meeting's targets).
RESULT_WORDS = ("区发改局领导班子", "区财政局领导班子", "张三", "李四", "王五", "赵六", "折合分")
#: slip.js polls every 2.5–4 s; the display's event stream reconnects every ~2.5 s in tests.
FOLLOW_MS = 12_000


def _organizer_client(app):
    client = app.test_client()
    login_page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": "kaohe", "password": "correct horse", "csrf_token": csrf_token(login_page.get_data(as_text=True))},
    )
    assert response.status_code == 302, "organizer login failed"
    return client


def _transition(client, meeting_id: int, round_id: int, action: str) -> None:
    token = csrf_token(client.get(f"/organizer/meetings/{meeting_id}").get_data(as_text=True))
    response = client.post(f"/organizer/rounds/{round_id}/{action}", data={"csrf_token": token})
    assert response.status_code == 302, (action, response.status_code)
    flashed = client.get(f"/organizer/meetings/{meeting_id}").get_data(as_text=True)
    assert "未达到法定人数" not in flashed, flashed


def _shot(page, name: str, *, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=full_page)


def _no_overflow(page) -> None:
    """At 1280×720 the board of this small meeting fits the screen: no scrolling either way."""
    size = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert size[0] <= 1280 and size[1] <= 720, size


def test_hall_display_and_phones_follow_the_chair(app, live_server, browser, organizer, make_meeting, codes_of):
    from playwright.sync_api import expect

    meeting = make_meeting()  # round still a draft; 30 slips, 应到 30: quorum met
    meeting_id, round_id, token = meeting.id, meeting.rounds[0].id, meeting.display_token
    codes = codes_of(meeting)[:2]
    base = live_server.url
    chair = _organizer_client(app)

    contexts = []

    def context(**options):
        ctx = browser.new_context(**options)
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        return ctx

    navigations: dict[str, list[str]] = {}

    def watch(page, name: str):
        navigations[name] = []
        page.on("framenavigated", lambda frame: frame == page.main_frame and navigations[name].append(frame.url))
        return page

    try:
        hall = watch(context(**HALL).new_page(), "hall")
        phones = [watch(context(**PHONE).new_page(), f"phone{i}") for i in range(2)]

        # Before the round opens: the projector waits, each phone says 等待投票开始.
        hall.goto(f"{base}/display/{token}")
        expect(hall.get_by_text("等待主持人宣布开始投票")).to_be_visible()
        for phone, code in zip(phones, codes):
            phone.goto(f"{base}/v/{code}")
            expect(phone.get_by_role("heading", name="等待投票开始")).to_be_visible()
        _shot(hall, "display-waiting.png")
        _no_overflow(hall)
        _shot(phones[0], "phone-waiting.png", full_page=True)

        # The chair opens the round: the phones show the ballot without anyone reloading.
        _transition(chair, meeting_id, round_id, "open")
        for phone in phones:
            expect(phone.get_by_role("button", name="下一步：核对")).to_be_visible(timeout=FOLLOW_MS)
        _shot(phones[0], "phone-ballot-appeared.png")
        cast = hall.locator(f".turnout b[data-cast-round='{round_id}']")
        expect(cast).to_have_text("0", timeout=FOLLOW_MS)

        # Each phone marks the first target and submits.
        for phone in phones:
            first = phone.locator("fieldset.target").first
            level = first.locator("label.level").first
            first.get_by_text(level.inner_text().strip(), exact=True).click()
            assert level.locator("input").is_checked()
            phone.get_by_role("button", name="下一步：核对").click()
            expect(phone.get_by_role("heading", name="核对选票")).to_be_visible()
            phone.get_by_role("button", name="确认提交").click()
            expect(phone.get_by_role("heading", name="投票成功")).to_be_visible()

        # Each phone: the page the test opened, slip.js's own switch to the ballot, then the
        # two forms posted; the test reloaded nothing.
        for i, code in enumerate(codes):
            seen = navigations[f"phone{i}"]
            assert seen[:2] == [f"{base}/v/{code}"] * 2 and len(seen) == 4, seen

        # The projector counts them; in hidden mode it shows no name, no score.
        expect(cast).to_have_text("2", timeout=FOLLOW_MS)
        expect(hall.locator("[data-present]")).to_have_text("30")
        html = hall.content()
        leaked = [word for word in RESULT_WORDS if word in html]
        assert leaked == [], leaked
        _shot(hall, "display-open.png")
        _no_overflow(hall)

        # Closed: still nothing shown; published: the result table appears by itself.
        _transition(chair, meeting_id, round_id, "close")
        expect(hall.get_by_text("等待主持人公布结果")).to_be_visible(timeout=FOLLOW_MS)
        html = hall.content()
        leaked = [word for word in RESULT_WORDS if word in html]
        assert leaked == [], leaked
        _transition(chair, meeting_id, round_id, "publish")
        expect(hall.get_by_role("columnheader", name="折合分").first).to_be_visible(timeout=FOLLOW_MS)
        expect(hall.get_by_role("cell", name="区发改局领导班子", exact=True)).to_be_visible()
        expect(hall.locator(".results td.who", has_text="张三")).to_be_visible()
        expect(hall.locator(".results .caption")).to_contain_text("收回 2")
        _shot(hall, "display-published.png")
        _no_overflow(hall)

        # The projector was loaded once, by the test: everything since came by itself.
        assert navigations["hall"] == [f"{base}/display/{token}"], navigations["hall"]
    finally:
        for ctx in contexts:
            ctx.close()
        # An event stream still running in a server thread ends after LIVE_STREAM_SECONDS:
        # let it finish before the app and its database are torn down.
        time.sleep(app.config["LIVE_STREAM_SECONDS"] + 0.5)
