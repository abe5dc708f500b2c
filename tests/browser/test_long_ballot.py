"""A long 测评 ballot on a phone (390×844, JavaScript on): 12 leaders × (overall grade + 5
dimensions + 逆向测评 + 使用意向), one section open at a time with 下一位, a running count, and
每票“优秀”不超过 3 个 enforced as you mark (issue 5; R9, R15, R18). The server-side refusal
of an over-cap ballot is tested in tests/web/test_items.py."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import BallotItemMark, BallotMark
from app.services import items as item_service, meetings

SHOTS = Path("/tmp/shots")
LEADERS = [{"kind": "person", "unit": f"区第{i + 1}局", "name": f"干部{i + 1:02d}", "title": "局长", "principal": False} for i in range(12)]


def test_phone_fills_a_long_ballot_within_the_cap(app, live_server, phone, make_meeting, codes_of):
    meeting = make_meeting(targets=LEADERS)
    round_ = meeting.rounds[0]
    _, preset = item_service.DIMENSION_PRESETS["dnqjl_weighted"]
    item_service.set_kind_items(
        round_,
        "person",
        dimensions=list(preset["person"]),
        reverse=list(item_service.DEFAULT_REVERSE["person"]),
        intent=list(item_service.DEFAULT_INTENT),
        top_cap=3,
        actor="test",
    )
    meetings.open_round(round_, "test")
    code = codes_of(meeting)[0]

    page = phone(java_script_enabled=True).new_page()
    page.goto(f"{live_server.url}/v/{code}")
    sections = page.locator("details.target")
    assert sections.count() == 12
    assert page.locator("#progress").inner_text() == "已评 0 / 12 · 优秀 0 / 3"
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "long-ballot-top.png"))

    for i in range(12):
        section = sections.nth(i)
        assert section.evaluate("el => el.open"), f"section {i + 1} should be open"
        level = "优秀" if i < 3 else "称职"
        section.locator(".levels label", has_text=level).first.click()
        if i == 0:
            # Dimensions: 德 优秀 … in the first section; a 逆向测评 tick; an intent.
            section.get_by_label("德优秀").check()
            section.get_by_label("勤称职").check()
            section.get_by_text("协作不好").click()
            section.get_by_text("提拔").click()
            page.screenshot(path=str(SHOTS / "long-ballot-first.png"), full_page=False)
        if i == 3:
            # The cap is reached: this leader's 优秀 is disabled, 称职 still free.
            top = section.locator('.levels input[value="0"]')
            assert top.is_disabled()
            assert page.locator("#progress").inner_text().endswith("优秀 3 / 3")
            page.screenshot(path=str(SHOTS / "long-ballot-capped.png"))
        assert section.locator("summary .state").inner_text() == level
        section.get_by_role("button", name="下一位" if i < 11 else "完成，去核对").click()
        assert not section.evaluate("el => el.open")

    assert page.locator("#progress").inner_text() == "已评 12 / 12 · 优秀 3 / 3"
    # Taking one 优秀 back frees the others again.
    sections.nth(0).locator("summary").click()
    sections.nth(0).locator(".levels label", has_text="称职").first.click()
    assert not sections.nth(5).locator('.levels input[value="0"]').is_disabled()
    sections.nth(0).locator(".levels label", has_text="优秀").first.click()
    assert sections.nth(5).locator('.levels input[value="0"]').is_disabled()

    page.get_by_role("button", name="下一步：核对").click()
    assert page.get_by_text("德：优秀").first.is_visible()
    page.screenshot(path=str(SHOTS / "long-ballot-review.png"), full_page=True)
    page.get_by_role("button", name="确认提交").click()
    assert page.get_by_role("heading", name="投票成功").is_visible()
    receipt = page.locator(".receipt-code").inner_text()
    assert len(receipt.replace(" ", "")) == 8
    page.screenshot(path=str(SHOTS / "long-ballot-receipt.png"))

    db.session.expire_all()
    levels = sorted(m.level for m in db.session.scalars(select(BallotMark)))
    assert levels == [0, 0, 0] + [1] * 9
    assert len(db.session.scalars(select(BallotItemMark)).all()) == 4  # 德, 勤, one tick, one intent
