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
