"""差额票决 through the test client: the organizer's assessment page and round, the phone's
同意 ballot (without JavaScript), the results page, the runoff button, the display
(DOMAIN R3, R4, R10, R11, R21, R24)."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.models import Round, SlipUse
from app.services import meetings, selection, units, voting

UNITS = [{"name": n, "group": "部门组", "target_score": s, "vetoed": False, "staff": 20} for n, s in (("甲局", 98), ("乙局", 96), ("丙局", 96), ("丁局", 96), ("戊局", 91), ("己局", 85))]


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def meeting(make_meeting):
    m = make_meeting()
    units.import_units(m, [dict(u) for u in UNITS], "test")
    units.set_group(m, "部门组", places=3, seats=1, actor="test")
    return m


def test_assessment_page_shows_the_tie_and_creates_the_round(org, meeting):
    """R3: 乙、丙、丁 tie for the last two of three places; the organizer ticks two."""
    page = text(org.get(f"/organizer/meetings/{meeting.id}/assessment"))
    assert "并列" in page and "争 2 个候选名额" in page and "己局" in page and "基本达标" in page
    refused = org.post(f"/organizer/meetings/{meeting.id}/groups/部门组/selection", {"unit": ["甲局", "乙局"], "order": "score"})
    assert refused.status_code == 409 and "请选定 2 个" in text(refused)
    created = org.post(f"/organizer/meetings/{meeting.id}/groups/部门组/selection", {"unit": ["甲局", "乙局", "丁局"], "order": "score"})
    assert created.status_code == 302
    round_ = db.session.query(Round).filter_by(kind="selection").one()
    assert round_.seats == 1 and [rt.target.unit for rt in round_.round_targets] == ["甲局", "乙局", "丁局"]


def test_phone_ballot_without_javascript_refuses_over_selection(cookieless, meeting, codes_of):
    """R10/R11: checkboxes with 同意; more than K is refused at the review step (nothing
    consumed); K or fewer go through review and submit."""
    round_ = selection.create_selection_round(meeting, "部门组", ["甲局", "乙局", "丙局"], "test")
    meetings.open_round(round_, "test")
    code = codes_of(meeting)[0]
    page = text(cookieless.get(f"/v/{code}"))
    assert 'type="checkbox" name="c"' in page and "应选 <b>1</b> 名" in page and page.count("同意") >= 3
    ids = [str(rt.target_id) for rt in round_.round_targets]
    over = cookieless.post(f"/v/{code}/r/{round_.id}", data={"c": ids[:2], "action": "review"})
    assert over.status_code == 422 and "最多可选 1 名" in text(over)
    over = cookieless.post(f"/v/{code}/r/{round_.id}", data={"c": ids[:2], "action": "submit"})
    assert over.status_code == 422 and db.session.query(SlipUse).count() == 0
    review = cookieless.post(f"/v/{code}/r/{round_.id}", data={"c": [ids[1]], "action": "review"})
    assert "您同意 1 名" in text(review) and re.search(rf'name="c" value="{ids[1]}"', text(review))
    done = cookieless.post(f"/v/{code}/r/{round_.id}", data={"c": [ids[1]], "action": "submit"})
    assert "投票成功" in text(done)
    assert selection.outcome_of(round_).candidates[1].votes == 1


def test_results_page_runoff_button_and_display(org, client, meeting, codes_of):
    """R21: a tie across the seat shows 待再次投票 and the runoff button; the display shows
    the ranking with 特优 highlighted once published (R24)."""
    round_ = selection.create_selection_round(meeting, "部门组", ["甲局", "乙局", "丙局"], "test")
    ids = [rt.target_id for rt in round_.round_targets]
    meetings.open_round(round_, "test")
    for i, code in enumerate(codes_of(meeting)[:4]):
        voting.cast(voting.resolve(code), round_.id, {ids[i % 2]: 0})  # 甲 2, 乙 2
    meetings.close_round(round_, "test")
    page = text(org.get(f"/organizer/rounds/{round_.id}/results"))
    assert "待再次投票" in page and "发起再次投票" in page and "50.00%" in page
    assert org.get(f"/organizer/rounds/{round_.id}/results.pdf").mimetype == "application/pdf"
    assert org.get(f"/organizer/rounds/{round_.id}/results.json").get_json()["rounds"][0]["open_seats"] == 1
    assert org.post(f"/organizer/rounds/{round_.id}/runoff").status_code == 302
    runoff = db.session.query(Round).filter_by(runoff_of_id=round_.id).one()
    assert runoff.seats == 1 and len(runoff.round_targets) == 2
    meetings.open_round(runoff, "test")
    voting.cast(voting.resolve(codes_of(meeting)[0]), runoff.id, {ids[0]: 0})
    meetings.close_round(runoff, "test")
    hidden = text(client.get(f"/display/{meeting.display_token}/board"))
    assert "甲局" not in hidden
    meetings.publish_round(runoff, "test")
    board = text(client.get(f"/display/{meeting.display_token}/board"))
    assert '<tr class="elected">' in board and "特优" in board and "甲局" in board
    final = org.get(f"/organizer/rounds/{runoff.id}/results.json").get_json()["final"]
    assert final == [{"unit": "甲局", "result": "特优"}, {"unit": "乙局", "result": "优秀"}, {"unit": "丙局", "result": "优秀"}]


def test_units_import_page_reports_rows(org, make_meeting):
    """Bad unit rows are reported by number and nothing is imported."""
    import io
    import json

    m = make_meeting()
    bad = [{"name": "甲", "group": "部门组", "target_score": 120, "vetoed": False, "staff": 1}]
    response = org.post(f"/organizer/meetings/{m.id}/units/import", {"file": (io.BytesIO(json.dumps(bad).encode()), "units.json")})
    assert response.status_code == 400 and "第 1 项：综合目标考核得分" in text(response)
    assert units.units_of(m) == []
    assert org.get("/organizer/units-template.xlsx").status_code == 200


def test_a_unit_by_form_is_checked_like_an_import(org, make_meeting):
    """A unit entered by form: the same checks; a same-named unit is updated."""
    m = make_meeting()
    ok = org.post(f"/organizer/meetings/{m.id}/units", {"name": "区审计局", "group": "部门组", "target_score": "93.5", "staff": "12"})
    assert ok.status_code == 302
    refused = org.post(f"/organizer/meetings/{m.id}/units", {"name": "区审计局", "group": "部门组", "target_score": "93.5", "vetoed": "y"})
    assert refused.status_code == 400 and "一票否决须写明原因" in text(refused)
    org.post(f"/organizer/meetings/{m.id}/units", {"name": "区审计局", "group": "部门组", "target_score": "88", "vetoed": "y", "veto_reason": "安全生产"})
    (unit,) = units.units_of(m)
    assert str(unit.target_score) == "88.00" and unit.is_vetoed and unit.veto_reason == "安全生产"
