"""Receipt list and anonymous ballots through the test client (issue 5; DOMAIN R23, R24, R25):
attendees reach them with their slip code, organizers in the console; both only after
publication, never on one page or in one file."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from app.services import meetings, voting

RECEIPT_ITEM = re.compile(r"<li(?: class=\"hit\")?>(?:<code>)?([2-9A-HJKMNP-Z]{4}) ([2-9A-HJKMNP-Z]{4})")


def text(response) -> str:
    return response.get_data(as_text=True)


def listed(response) -> list[str]:
    return [a + b for a, b in RECEIPT_ITEM.findall(text(response))]


@pytest.fixture
def cast_round(make_meeting, codes_of, client):
    """An open round with six ballots cast through the API (receipts kept) and one paper
    ballot; ``(meeting, round, receipts, codes)``."""
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    targets = [t.id for t in round_.targets]
    codes = codes_of(meeting)
    receipts = []
    for i, code in enumerate(codes[:6]):
        response = client.post(f"/api/v1/ballot/{code}/rounds/{round_.id}", json={"marks": {str(t): (i + j) % 4 for j, t in enumerate(targets)}})
        assert response.status_code == 201, text(response)
        receipts.append(response.get_json()["receipt"])
    voting.cast(voting.resolve(codes[6]), round_.id, {targets[0]: 1}, is_paper=True)
    return meeting, round_, receipts, codes


def test_receipts_and_ballots_only_after_publication(cast_round, client, org):
    """R24: open or closed, every way in answers 409 in Chinese and shows no receipt; once
    published the attendee's list is exactly the receipts the API returned, in code order."""
    meeting, round_, receipts, codes = cast_round
    urls = [
        f"/v/{codes[0]}/r/{round_.id}/receipts",
        f"/v/{codes[0]}/r/{round_.id}/ballots.json",
        f"/v/{codes[0]}/r/{round_.id}/ballots.csv",
        f"/organizer/rounds/{round_.id}/receipts",
        f"/organizer/rounds/{round_.id}/ballots.json",
        f"/organizer/rounds/{round_.id}/ballots.csv",
    ]
    for step in (None, meetings.close_round):
        if step:
            step(round_, "test")
        for url in urls:
            response = client.get(url)
            assert response.status_code == 409, url
            assert "本轮结果公布后才能查看" in text(response)
            assert not any(code in text(response) for code in receipts)
    meetings.publish_round(round_, "test")
    page = client.get(f"/v/{codes[9]}/r/{round_.id}/receipts")  # any slip of the meeting, voted or not
    assert page.status_code == 200
    assert listed(page) == sorted(receipts)
    assert "共 6 个回执码；纸质录入 1 张无回执码" in text(page)
    assert "称职" not in text(page)  # no ballot contents beside the receipts
    console = org.get(f"/organizer/rounds/{round_.id}/receipts")
    assert console.status_code == 200 and listed(console) == sorted(receipts)


def test_receipt_search_works_without_javascript(cast_round, client):
    """A GET form: typed in lower case with spaces, the receipt is found; another is not."""
    meeting, round_, receipts, codes = cast_round
    meetings.close_round(round_, "test")
    meetings.publish_round(round_, "test")
    page = text(client.get(f"/v/{codes[0]}/r/{round_.id}/receipts"))
    assert re.search(r'<form method="get" action="/v/[^"]+/receipts"', page) and 'name="q"' in page
    mine = receipts[2]
    found = client.get(f"/v/{codes[0]}/r/{round_.id}/receipts", query_string={"q": f" {mine[:4].lower()} {mine[4:].lower()}"})
    assert "已找到回执码" in text(found) and f"<b>{mine[:4]} {mine[4:]}</b>" in text(found)
    assert '<li class="hit">' in text(found)
    missing = client.get(f"/v/{codes[0]}/r/{round_.id}/receipts", query_string={"q": "<b>2222</b>"})
    assert "没有找到回执码" in text(missing)
    assert "&lt;B&gt;2222&lt;/B&gt;" in text(missing) and "<B>" not in text(missing)  # escaped, never markup


def test_only_rounds_of_the_slips_meeting(cast_round, make_meeting, codes_of, client):
    meeting, round_, _, codes = cast_round
    meetings.close_round(round_, "test")
    meetings.publish_round(round_, "test")
    other = make_meeting(title="另一个会议")
    stranger = codes_of(other)[0]
    assert client.get(f"/v/{stranger}/r/{round_.id}/receipts").status_code == 404
    assert client.get(f"/v/{stranger}/r/{round_.id}/ballots.json").status_code == 404
    assert client.get(f"/v/{codes[0]}/r/999999/receipts").status_code == 404
    assert client.get(f"/v/ABCD-EFGH-JKMN/r/{round_.id}/receipts").status_code == 404


def test_ballot_downloads_are_anonymous_and_complete(cast_round, client, org):
    """R23, R25: one entry per ballot, R19 counts agree, no receipt anywhere in the files;
    the attendee and the console get the same file."""
    meeting, round_, receipts, codes = cast_round
    meetings.close_round(round_, "test")
    meetings.publish_round(round_, "test")
    response = client.get(f"/v/{codes[0]}/r/{round_.id}/ballots.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    document = json.loads(response.get_data())
    counts = document["published"]["counts"]
    assert len(document["ballots"]) == counts["returned"] == 7
    assert sum(b["valid"] for b in document["ballots"]) == counts["valid"]
    assert sum(b["paper"] for b in document["ballots"]) == counts["paper"] == 1
    assert org.get(f"/organizer/rounds/{round_.id}/ballots.json").get_data() == response.get_data()
    csv_response = client.get(f"/v/{codes[0]}/r/{round_.id}/ballots.csv")
    assert csv_response.mimetype == "text/csv" and csv_response.get_data().startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(csv_response.get_data().decode("utf-8-sig"))))
    assert len(rows) == 1 + 7
    for raw in (response.get_data(as_text=True), csv_response.get_data(as_text=True)):
        assert not any(code in raw for code in receipts)


def test_downloaded_file_recounts(cast_round, client, runner, tmp_path):
    """The file an attendee downloads is enough for ``flask recount`` (R25)."""
    meeting, round_, _, codes = cast_round
    meetings.close_round(round_, "test")
    meetings.publish_round(round_, "test")
    path = tmp_path / "ballots.json"
    path.write_bytes(client.get(f"/v/{codes[0]}/r/{round_.id}/ballots.json").get_data())
    result = runner.invoke(args=["recount", str(path)])
    assert result.exit_code == 0, result.output
    assert "复核一致" in result.output and "收回 7 张" in result.output


def test_slip_page_and_console_link_the_published_round(cast_round, client, org):
    meeting, round_, _, codes = cast_round
    receipts_link = f'href="/v/{codes[0]}/r/{round_.id}/receipts"'
    meetings.close_round(round_, "test")
    assert receipts_link not in text(client.get(f"/v/{codes[0]}"))
    assert "/receipts" not in text(org.get(f"/organizer/rounds/{round_.id}/results"))
    meetings.publish_round(round_, "test")
    slip_page = text(client.get(f"/v/{codes[0]}"))
    assert receipts_link in slip_page and f'/v/{codes[0]}/r/{round_.id}/ballots.json"' in slip_page
    results = text(org.get(f"/organizer/rounds/{round_.id}/results"))
    assert f'/organizer/rounds/{round_.id}/receipts"' in results and f'/organizer/rounds/{round_.id}/ballots.csv"' in results
