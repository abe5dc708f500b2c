"""A whole vote as a person in the hall does it: print the slip sheet, scan a QR code from the
printed page, vote on a phone (with and without JavaScript), and find the ballot in the
organizer's results.

Screenshots are written to /tmp/shots/ for a person to look at; they are not compared to references.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from ..conftest import csrf_token, follow_slip_job

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")

#: Ballot position (0-based) → level position clicked; the other targets are left 弃权.
#: The default meeting's targets: 0 发改局班子, 1 张三, 2 李四, 3 财政局班子, 4 王五, 5 赵六.
CHOICES = {0: 0, 1: 0, 2: 2, 4: 3}


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _qr_urls_on_first_page(pdf: bytes, tmp_path: Path) -> list[str]:
    import zxingcpp
    from PIL import Image

    pdf_path = tmp_path / "slips.pdf"
    pdf_path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(pdf_path), str(tmp_path / "page")], check=True)
    (png,) = sorted(tmp_path.glob("page*.png"))
    with Image.open(png) as image:
        return [barcode.text for barcode in zxingcpp.read_barcodes(image)]


def _login(page, base_url: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("用户名").fill("kaohe")
    page.get_by_label("密码").fill("correct horse")
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, "organizer login failed"


@pytest.mark.parametrize("js", [True, False], ids=["js-on", "js-off"])
def test_scan_vote_and_count(js, app, live_server, phone, desktop, organizer, make_meeting, codes_of, tmp_path):
    suffix = "on" if js else "off"
    meeting = make_meeting(slips={"A": 10, "B": 14, "C": 10}, open=True)
    meeting_id, round_id = meeting.id, meeting.rounds[0].id
    base = live_server.url

    # The organizer prints category B's slips; page 1 holds 12 QR codes pointing to this server.
    organizer_client = app.test_client()
    login_page = organizer_client.get("/login")
    organizer_client.post(
        "/login",
        data={"username": "kaohe", "password": "correct horse", "csrf_token": csrf_token(login_page.get_data(as_text=True))},
    )
    # The sheet is made by a background job (B2): wait for it as its page does, then download.
    response, _page, _seen = follow_slip_job(organizer_client, f"/organizer/meetings/{meeting_id}/slips.pdf?category=B")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    urls = _qr_urls_on_first_page(response.data, tmp_path)
    assert len(urls) == 12, urls
    assert len(set(urls)) == 12
    assert all(u.startswith(base + "/v/") for u in urls), urls
    assert set(urls) == {f"{base}/v/{code}" for code in codes_of(meeting, "B")[:12]}

    context = phone(java_script_enabled=js)
    page = context.new_page()

    # Typing a code is the fallback for phones that cannot scan.
    page.goto(f"{base}/v")
    assert page.get_by_role("heading", name="输入测评码").is_visible()
    _shot(page, f"enter-js{suffix}.png")

    # Scan: open the URL decoded from the printed page.
    response = page.goto(urls[0])
    assert response is not None and response.status == 200
    fieldsets = page.locator("fieldset.target")
    assert fieldsets.count() == 6
    assert page.get_by_role("button", name="下一步：核对").is_visible()
    _shot(page, f"ballot-js{suffix}.png")

    target_ids = [int(fieldsets.nth(i).get_attribute("id")[1:]) for i in range(fieldsets.count())]
    clicked: dict[int, str] = {}
    for position, level in CHOICES.items():
        fieldset = fieldsets.nth(position)
        label = fieldset.locator("label.level").nth(level)
        text = label.inner_text().strip()
        fieldset.get_by_text(text, exact=True).click()  # the radio itself is visually hidden
        assert label.locator("input").is_checked()
        clicked[target_ids[position]] = text
    for position in set(range(6)) - set(CHOICES):
        assert fieldsets.nth(position).locator("label.abstain input").is_checked()
    if js:
        assert page.locator("#progress").inner_text() == f"已评 {len(CHOICES)} / 6"
    _shot(page, f"ballot-marked-js{suffix}.png")

    # Scrolled to the end, the fixed bottom bar hides nothing of the last target.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    last = fieldsets.last.bounding_box()
    bar = page.locator(".bar").bounding_box()
    assert last["y"] + last["height"] <= bar["y"], (last, bar)
    page.screenshot(path=str(SHOTS / f"ballot-bottom-js{suffix}.png"))
    # A narrower phone (360 px, common on Android) still fits five choices in a row.
    page.set_viewport_size({"width": 360, "height": 740})
    row = [box["y"] for box in (lab.bounding_box() for lab in fieldsets.nth(2).locator("label.level").all())]
    assert max(row) - min(row) < 1, row
    _shot(page, f"ballot-360-js{suffix}.png")
    page.set_viewport_size({"width": 390, "height": 844})

    page.get_by_role("button", name="下一步：核对").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name=re.compile("核对选票")).is_visible()
    assert page.get_by_text(f"已评 {len(CHOICES)} 个，弃权 {6 - len(CHOICES)} 个").is_visible()
    choices_shown = page.locator(".review li .choice").all_inner_texts()
    assert [c.strip() for c in choices_shown] == [clicked.get(t, "弃权") for t in target_ids]
    _shot(page, f"review-js{suffix}.png")

    page.get_by_role("button", name="确认提交").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="投票成功").is_visible()
    _shot(page, f"success-js{suffix}.png")

    # The same code cannot vote twice in this round.
    page.goto(urls[0])
    assert page.get_by_role("heading", name="已投票").is_visible()

    # The organizer closes the round and reads the results.
    meeting_page = organizer_client.get(f"/organizer/meetings/{meeting_id}")
    token = csrf_token(meeting_page.get_data(as_text=True))
    response = organizer_client.post(f"/organizer/rounds/{round_id}/close", data={"csrf_token": token})
    assert response.status_code == 302
    response = organizer_client.get(f"/organizer/rounds/{round_id}/results.json")
    assert response.status_code == 200
    report = json.loads(response.data)
    assert report["round"]["state"] == "closed"
    assert report["counts"]["returned"] == 1
    assert report["counts"]["valid"] == 1
    by_id = {t["id"]: t for t in report["targets"]}
    assert set(by_id) == set(target_ids)
    for target_id in target_ids:
        row = by_id[target_id]
        expected = [0, 0, 0, 0]
        if target_id in clicked:
            expected[row["levels"].index(clicked[target_id])] = 1
        assert row["counts"] == expected, row
        assert row["abstained"] == (0 if target_id in clicked else 1), row

    # What the organizer sees, at a desktop size.
    desk = desktop().new_page()
    _login(desk, base)
    desk.goto(f"{base}/organizer/meetings/{meeting_id}")
    assert desk.locator(f"#round-{round_id}").get_by_text("查看结果").is_visible()
    _shot(desk, f"organizer-meeting-js{suffix}.png")
    desk.goto(f"{base}/organizer/rounds/{round_id}/results")
    assert desk.get_by_role("heading", name=re.compile("测评结果汇总")).is_visible()
    _shot(desk, f"organizer-results-js{suffix}.png")
