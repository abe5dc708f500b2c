"""The one results function, fed through real ballots (R12–R19)."""

from __future__ import annotations

from decimal import Decimal

from app.services import meetings, voting
from app.services.exports import report_bytes
from app.services.results import report_as_dict, round_report

ONE_PERSON = [{"kind": "person", "unit": "区发改局", "name": "张三", "title": "局长", "principal": False}]


def cast_many(meeting, category, levels, codes_of, start=0):
    """Cast one ballot per level (None = 弃权) with the category's slips from ``start``."""
    round_ = meeting.rounds[0]
    target = round_.targets[0].id
    codes = codes_of(meeting, category)[start:]
    for code, level in zip(codes, levels):
        voting.cast(voting.resolve(code), round_.id, {target: level})


def test_worked_example_through_the_database(make_meeting, codes_of):
    """DOMAIN §4: 张三 87.70 称职, 46.00% / 86.00%, R19 counts."""
    meeting = make_meeting(targets=ONE_PERSON, expected=60, slips={"A": 10, "B": 20, "C": 25})
    meetings.open_round(meeting.rounds[0], "t")
    cast_many(meeting, "A", [0] * 8 + [1] * 2, codes_of)
    cast_many(meeting, "B", [0] * 10 + [1] * 8 + [2] * 2, codes_of)
    cast_many(meeting, "C", [0] * 5 + [1] * 10 + [2] * 4 + [3] + [None] * 2, codes_of)
    meetings.close_round(meeting.rounds[0], "t")
    report = round_report(meeting.rounds[0])
    (row,) = report.rows
    assert row.score_text == "87.70" and row.band_label == "称职" and row.rank_text == "1"
    assert row.excellent_rate_text == "46.00%" and row.approval_rate_text == "86.00%"
    assert row.result.counts == (23, 20, 6, 1) and row.result.abstained == 2
    assert row.category_score_texts() == ("96.00", "88.00", "79.00")
    c = report.counts
    assert (c.expected, c.present, c.issued, c.returned, c.valid, c.invalid) == (60, 55, 55, 52, 52, 0)
    assert report.problems == ()
    data = report_as_dict(report)
    assert data["targets"][0]["score"] == "87.70" and data["targets"][0]["score_exact"] == "877/10"
    assert Decimal(data["targets"][0]["score"]) == row.result.score_shown


def test_every_format_carries_the_same_score(make_meeting, codes_of):
    """One function, many callers: JSON, XLSX and PDF all come from the same report."""
    import io

    from openpyxl import load_workbook

    meeting = make_meeting(targets=ONE_PERSON, slips={"A": 10, "B": 10, "C": 10})
    meetings.open_round(meeting.rounds[0], "t")
    cast_many(meeting, "A", [0, 1, 1], codes_of)
    cast_many(meeting, "B", [2, 1], codes_of)
    meetings.close_round(meeting.rounds[0], "t")
    report = round_report(meeting.rounds[0])
    shown = report.rows[0].score_text
    assert report_as_dict(report)["targets"][0]["score"] == shown
    workbook = load_workbook(io.BytesIO(report_bytes(report, "xlsx")))
    values = [cell.value for sheet in workbook for row in sheet.iter_rows() for cell in row]
    assert float(shown) in values
    pdf = report_bytes(report, "pdf")
    assert pdf.startswith(b"%PDF")
