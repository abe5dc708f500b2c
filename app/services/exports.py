"""One switch from a report to the bytes of each format (page downloads and the CLI)."""

from __future__ import annotations

import json

from .results import RoundReport, report_as_dict

MIME_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


def report_bytes(report: RoundReport, fmt: str) -> bytes:
    """:raises ValueError: for an unknown format."""
    if fmt == "pdf":
        from .documents import summary_pdf

        return summary_pdf(report)
    if fmt == "xlsx":
        from .spreadsheets import summary_xlsx

        return summary_xlsx(report)
    if fmt == "json":
        return json.dumps(report_as_dict(report), ensure_ascii=False, indent=2).encode("utf-8")
    raise ValueError(f"unknown format {fmt!r}")


def report_filename(report: RoundReport, fmt: str) -> str:
    return f"测评结果汇总表-{report.meeting_id}-{report.round_id}.{fmt}"


def selection_bytes(report, fmt: str) -> bytes:
    """The 票决计票结果报告单 as PDF or JSON.

    :raises ValueError: for another format.
    """
    from .selection import selection_report_dict

    if fmt == "pdf":
        from .documents import selection_report_pdf

        return selection_report_pdf(report)
    if fmt == "json":
        return json.dumps(selection_report_dict(report), ensure_ascii=False, indent=2).encode("utf-8")
    raise ValueError(f"unknown format {fmt!r}")


def assessment_bytes(report, fmt: str) -> bytes:
    """The composite table as PDF, XLSX or JSON.

    :raises ValueError: for an unknown format.
    """
    if fmt == "pdf":
        from .documents import composite_pdf

        return composite_pdf(report)
    if fmt == "xlsx":
        from .spreadsheets import composite_xlsx

        return composite_xlsx(report)
    if fmt == "json":
        import dataclasses

        return json.dumps(dataclasses.asdict(report), ensure_ascii=False, indent=2, default=str).encode("utf-8")
    raise ValueError(f"unknown format {fmt!r}")


def round_figures(round_) -> dict:
    """A counted round's figures as published, as plain JSON data: ``report_as_dict`` for a
    测评 round, ``selection_report_dict`` for a 差额票决 round — the very functions behind
    the results pages and the API."""
    if round_.is_selection:
        from .selection import selection_report, selection_report_dict

        return selection_report_dict(selection_report(round_))
    from .results import round_report

    return report_as_dict(round_report(round_))
