"""The 差额票决 ballot on a phone (390×844, JavaScript on): 已选 x / K, and no (K+1)-th mark
(DOMAIN R10, R11); the server still refuses an over-selection (tests/web/test_selection.py)."""

from __future__ import annotations

from pathlib import Path

from app.services import meetings, selection

SHOTS = Path("/tmp/shots")


def test_phone_will_not_take_a_k_plus_first_mark(app, live_server, phone, make_selection, codes_of):
    meeting, round_ = make_selection(["城关街道", "河东镇", "河西镇", "南山镇"], seats=2, group="乡镇组")
    meetings.open_round(round_, "test")
    code = codes_of(meeting)[0]

    page = phone(java_script_enabled=True).new_page()
    page.goto(f"{live_server.url}/v/{code}")
    boxes = page.locator('input[type="checkbox"][name="c"]')
    assert boxes.count() == 4
    assert page.locator("#progress").inner_text() == "已选 0 / 2"
    page.get_by_text("城关街道").click()
    page.get_by_text("河西镇").click()
    assert page.locator("#progress").inner_text() == "已选 2 / 2"
    assert boxes.nth(1).is_disabled() and boxes.nth(3).is_disabled()
    page.get_by_text("南山镇").click(force=True)  # a tap on a full ballot changes nothing
    assert not boxes.nth(3).is_checked()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "selection-ballot.png"), full_page=True)
    page.get_by_role("button", name="下一步：核对").click()
    assert page.get_by_text("您同意 2 名（应选 2 名）").is_visible()
    page.get_by_role("button", name="确认提交").click()
    assert page.get_by_role("heading", name="投票成功").is_visible()
    votes = {c.key: c.votes for c in selection.outcome_of(round_).candidates}
    ids = [rt.target_id for rt in round_.round_targets]
    assert [votes[i] for i in ids] == [1, 0, 1, 0]
