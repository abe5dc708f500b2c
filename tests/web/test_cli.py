"""`flask …` commands through the CLI runner: admin, import, slips, results, demo."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Meeting, Organizer, Slip
from app.services import meetings, voting
from app.services.results import report_as_dict, round_report

from .conftest import count

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_JSON = ROOT / "docs" / "examples" / "meeting.json"


def test_create_admin_with_password_stdin(runner):
    """R25: organizer accounts (the named actors of the audit log) are created from the shell."""
    result = runner.invoke(args=["create-admin", "zuzhibu", "--password-stdin"], input="longpassword\n")
    assert result.exit_code == 0, result.output
    assert "已保存管理员 zuzhibu" in result.output
    db.session.rollback()
    user = db.session.scalar(select(Organizer).where(Organizer.username == "zuzhibu"))
    assert user is not None and user.check_password("longpassword") and not user.check_password("longpassword\n")


def test_create_admin_then_log_in(runner, client):
    """The account created by the CLI logs in to the console."""
    from tests.conftest import AuthActions

    assert runner.invoke(args=["create-admin", "zuzhibu", "--password-stdin"], input="longpassword\n").exit_code == 0
    response = AuthActions(client).login("zuzhibu", "longpassword")
    assert response.status_code == 302 and response.headers["Location"] == "/organizer/"


def test_create_admin_refuses_a_short_password(runner):
    """A password under 8 characters is refused and no account is created."""
    result = runner.invoke(args=["create-admin", "zuzhibu", "--password-stdin"], input="short\n")
    assert result.exit_code != 0
    assert "密码至少 8 位" in result.output
    assert count(Organizer) == 0


def test_meeting_import_prints_the_new_id(runner):
    """docs/import.md: the example meeting imports; stdout is just the new id (for scripts)."""
    result = runner.invoke(args=["meeting", "import", str(EXAMPLE_JSON)])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    meeting = db.session.scalar(select(Meeting))
    assert result.stdout.strip() == str(meeting.id)
    assert len(meeting.targets) == 12 and [r.title for r in meeting.rounds] == ["领导班子测评", "领导干部测评"]


def test_meeting_import_of_xlsx(runner, tmp_path):
    """docs/import.md: the .xlsx template imports from the command line too."""
    from app.services.spreadsheets import meeting_template_xlsx

    path = tmp_path / "会议.xlsx"
    path.write_bytes(meeting_template_xlsx())
    result = runner.invoke(args=["meeting", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"\d+", result.stdout.strip())
    assert count(Meeting) == 1


def test_meeting_import_of_a_bad_json_lists_every_error_and_imports_nothing(runner, tmp_path):
    """docs/import.md: all or nothing; every error listed, non-zero exit."""
    data = json.loads(EXAMPLE_JSON.read_text(encoding="utf-8"))
    data["expected"] = 0
    data["targets"][4]["kind"] = "部门"
    data["targets"][7]["unit"] = ""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["meeting", "import", str(path)])
    assert result.exit_code != 0
    for line in (
        "会议：应到人数应为正整数",
        "「测评对象」第 5 项：类型「部门」应为 班子 或 个人",
        "「测评对象」第 8 项：缺少单位",
        "共 3 处错误，未导入任何内容",
    ):
        assert line in result.stderr, result.stderr
    assert result.stdout.strip() == ""
    assert count(Meeting) == 0


def test_meeting_import_of_a_broken_file(runner, tmp_path):
    """An unreadable file gets one clear message, no traceback, nothing imported."""
    path = tmp_path / "bad.json"
    path.write_bytes(b"{not json")
    result = runner.invoke(args=["meeting", "import", str(path)])
    assert result.exit_code != 0 and "不是有效的 JSON 文件" in result.output
    not_xlsx = tmp_path / "bad.xlsx"
    not_xlsx.write_bytes(b"hello")
    result = runner.invoke(args=["meeting", "import", str(not_xlsx)])
    assert result.exit_code != 0 and "文件不是 Excel 工作簿（.xlsx）" in result.output
    assert count(Meeting) == 0


def _pdf_pages(path: Path) -> int | None:
    if not shutil.which("pdfinfo"):
        return None
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def test_slips_writes_the_new_slips_to_a_pdf(runner, make_meeting, tmp_path):
    """§7: 13 slips at 12 a page make 2 pages; only the new slips are printed."""
    meeting = make_meeting()
    before = count(Slip)
    pdf = tmp_path / "slips.pdf"
    result = runner.invoke(args=["slips", str(meeting.id), "-c", "a", "-n", "13", "--pdf", str(pdf), "--base-url", "http://192.168.1.20:8000/"])
    assert result.exit_code == 0, result.output
    assert "已生成 13 张测评码（类别 A 领导班子成员）" in result.output and "http://192.168.1.20:8000/v/" in result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    assert _pdf_pages(pdf) in (None, 2)
    assert count(Slip) == before + 13
    a = meeting.categories[0].id
    assert db.session.scalar(select(db.func.count()).select_from(Slip).where(Slip.category_id == a)) == 23


def test_slips_logs_the_issue_and_the_print(runner, make_meeting, tmp_path):
    """R25: the command issues slips and prints them: two audit entries by ``cli``, the print
    with its category and count and never a code."""
    meeting = make_meeting()
    db.session.rollback()
    last = db.session.scalar(select(db.func.max(AuditEntry.id)))
    result = runner.invoke(args=["slips", str(meeting.id), "-c", "b", "-n", "5", "--pdf", str(tmp_path / "slips.pdf")])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id)).all()
    assert [(e.actor, e.action, e.meeting_id, e.detail) for e in entries] == [
        ("cli", "slips.issue", meeting.id, {"category": "B", "count": 5}),
        ("cli", "slips.print", meeting.id, {"category": ["B"], "count": 5}),
    ]


def test_slips_prints_progress_on_stderr(runner, make_meeting, tmp_path):
    """B2: a long sheet takes seconds, so the command reports 排版 done/total on stderr as the
    pages are laid out (never going back, ending at the total); stdout keeps the result line."""
    meeting = make_meeting()
    pdf = tmp_path / "slips.pdf"
    result = runner.invoke(args=["slips", str(meeting.id), "-c", "B", "-n", "40", "--pdf", str(pdf)])
    assert result.exit_code == 0, result.output
    done = [int(d) for d in re.findall(r"^排版 (\d+)/40 …$", result.stderr, re.M)]
    assert len(done) >= 2 and done == sorted(done) and done[-1] == 40
    assert "排版" not in result.stdout and "已生成 40 张测评码" in result.stdout
    assert _pdf_pages(pdf) in (None, 4)


def test_slips_for_an_unknown_category_or_meeting(runner, make_meeting, tmp_path):
    """R14: slips belong to a category of the meeting; unknown ones are refused, nothing issued."""
    meeting = make_meeting()
    result = runner.invoke(args=["slips", str(meeting.id), "-c", "Z", "-n", "3", "--pdf", str(tmp_path / "x.pdf")])
    assert result.exit_code != 0 and f"会议 {meeting.id} 没有类别 Z" in result.output
    result = runner.invoke(args=["slips", "999", "-c", "A", "-n", "3", "--pdf", str(tmp_path / "x.pdf")])
    assert result.exit_code != 0 and "没有编号为 999 的会议" in result.output
    assert not (tmp_path / "x.pdf").exists()
    assert count(Slip) == 30


def test_slips_into_a_missing_folder_issues_nothing(runner, make_meeting, tmp_path):
    """R19/R20: slips issued but never printed would count as handed out (实到)."""
    meeting = make_meeting()
    result = runner.invoke(args=["slips", str(meeting.id), "-c", "A", "-n", "3", "--pdf", str(tmp_path / "missing" / "x.pdf")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert "无法写入 PDF" in result.output and "未生成测评码" in result.output
    assert count(Slip) == 30


def test_slips_warns_about_a_small_category(runner, make_meeting, tmp_path):
    """R23: 1–2 slips in a category could be attributed to a person."""
    meeting = make_meeting(slips={})
    result = runner.invoke(args=["slips", str(meeting.id), "-c", "B", "-n", "2", "--pdf", str(tmp_path / "x.pdf")])
    assert result.exit_code == 0, result.output
    assert "注意：类别「B 中层干部」只有 2 张测评码" in result.stderr


@pytest.fixture
def closed(make_meeting, codes_of):
    """A closed round with three ballots: 张三 优秀 (A), 称职 (B), 基本称职 (C) → 80.00."""
    meeting = make_meeting(open=True)
    round_ = meeting.rounds[0]
    zhang = next(t.id for t in round_.targets if t.name == "张三")
    for category, level in (("A", 0), ("B", 1), ("C", 2)):
        voting.cast(voting.resolve(codes_of(meeting, category)[0]), round_.id, {zhang: level})
    meetings.close_round(round_, "test")
    return meeting


def test_results_json_xlsx_pdf(runner, closed, tmp_path):
    """One report, three files; the JSON equals the report the page shows (R16)."""
    round_ = closed.rounds[0]
    out = {fmt: tmp_path / f"result.{fmt}" for fmt in ("json", "xlsx", "pdf")}
    for fmt, path in out.items():
        result = runner.invoke(args=["results", str(closed.id), "--format", fmt, "--out", str(path)])
        assert result.exit_code == 0, result.output
        assert f"民主测评：{path}" in result.output

    data = json.loads(out["json"].read_text(encoding="utf-8"))
    db.session.rollback()
    expected = report_as_dict(round_report(round_))
    zhang = next(t for t in data["targets"] if t["name"] == "张三")
    assert zhang["score"] == next(t for t in expected["targets"] if t["name"] == "张三")["score"] == "80.00"
    assert [t["score"] for t in data["targets"]] == [t["score"] for t in expected["targets"]]
    assert data["counts"] == expected["counts"] and data["counts"]["returned"] == 3

    workbook = load_workbook(io.BytesIO(out["xlsx"].read_bytes()))
    cells = [c for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for c in row]
    assert "张三" in cells and 80 in cells
    assert out["pdf"].read_bytes().startswith(b"%PDF")


def test_results_of_several_closed_rounds_get_one_file_each(runner, make_meeting, tmp_path):
    """R21/R25: every round is kept; each closed round gets its own file, or one by --round."""
    rounds = [{"title": "班子测评", "targets": "team"}, {"title": "干部测评", "targets": "person"}]
    meeting = make_meeting(rounds=rounds)
    for round_ in meeting.rounds:
        meetings.open_round(round_, "test")
        meetings.close_round(round_, "test")
    ids = [r.id for r in meeting.rounds]
    result = runner.invoke(args=["results", str(meeting.id), "--format", "json", "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    for round_id, title in zip(ids, ("班子测评", "干部测评")):
        path = tmp_path / f"r-round{round_id}.json"
        assert json.loads(path.read_text(encoding="utf-8"))["round"]["title"] == title
    only = runner.invoke(args=["results", str(meeting.id), "--round", str(ids[1]), "--format", "json", "--out", str(tmp_path / "one.json")])
    assert only.exit_code == 0 and json.loads((tmp_path / "one.json").read_text(encoding="utf-8"))["round"]["id"] == ids[1]


def test_results_before_any_closed_round_is_an_error(runner, make_meeting, tmp_path):
    """R24: no results while voting is still going on."""
    meeting = make_meeting(open=True)
    out = tmp_path / "result.json"
    result = runner.invoke(args=["results", str(meeting.id), "--format", "json", "--out", str(out)])
    assert result.exit_code != 0
    assert "还没有已结束的轮次" in result.output
    assert not out.exists()
    result = runner.invoke(args=["results", str(meeting.id), "--round", "999", "--format", "json", "--out", str(out)])
    assert result.exit_code != 0 and "没有轮次 999" in result.output


def test_demo_prints_the_meeting_and_its_urls(runner):
    """README: the demo seeds a meeting with slips and prints where to find it."""
    result = runner.invoke(args=["demo", "--slips", "3"])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    meeting = db.session.scalar(select(Meeting))
    assert "演示会议已创建" in result.output and f"编号 {meeting.id}" in result.output
    assert re.search(rf"组织者页面：http://\S+/organizer/meetings/{meeting.id}\n", result.output)
    assert re.search(rf"测评码 PDF：http://\S+/organizer/meetings/{meeting.id}/slips.pdf\n", result.output)
    assert re.search(r"手机投票入口：http://\S+/v\n", result.output)
    assert count(Slip) == 3 * len(meeting.categories)


def test_demo_if_empty_twice_creates_one_meeting(runner):
    """run.sh demo runs again safely: --if-empty seeds only once."""
    first = runner.invoke(args=["demo", "--if-empty", "--slips", "3"])
    second = runner.invoke(args=["demo", "--if-empty", "--slips", "3"])
    assert first.exit_code == 0 and second.exit_code == 0, (first.output, second.output)
    assert "演示会议已创建" in first.output
    assert "演示会议（已存在）" in second.output
    assert count(Meeting) == 1
