"""`flask --app wsgi …` commands: thin wrappers over the services."""

from __future__ import annotations

import json
import os
import sys

import click
from flask import Flask
from sqlalchemy import select

from .extensions import db
from .services import audit
from .models import Meeting, Organizer, VoterCategory
from .models.organizer import ACTIVE_ROLES, ROLE_ADMIN, ROLE_LABELS

CLI_ACTOR = "cli"


def _meeting(meeting_id: int) -> Meeting:
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None:
        raise click.ClickException(f"没有编号为 {meeting_id} 的会议")
    return meeting


def save_user(username: str, role: str, password: str) -> tuple[Organizer, bool]:
    """Create the account, or reset its password and set its role (see services.users).

    :raises click.ClickException: with the Chinese reason.
    """
    from .services import users

    try:
        return users.save_user(username, role, password, CLI_ACTOR)
    except users.UserError as error:
        raise click.ClickException(str(error)) from None


def create_admin(username: str, password: str) -> Organizer:
    """An admin account, created or reset: the way back in when nobody can log in."""
    return save_user(username, ROLE_ADMIN, password)[0]


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("密码", hide_input=True, confirmation_prompt=True)


def read_definition_file(path: str) -> dict:
    """A meeting definition from .json or .xlsx (docs/import.md).

    :raises click.ClickException: for an unreadable file.
    """
    from .services.spreadsheets import SheetFormatError, read_meeting_xlsx

    with open(path, "rb") as fh:
        data = fh.read()
    if path.lower().endswith(".xlsx"):
        try:
            return read_meeting_xlsx(data)
        except SheetFormatError as error:
            raise click.ClickException(str(error)) from None
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise click.ClickException(f"不是有效的 JSON 文件：{error}") from None


def register_cli(app: Flask) -> None:
    @app.cli.command("create-admin")
    @click.argument("username")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    def create_admin_command(username: str, password_stdin: bool) -> None:
        """Create an admin account (or reset its password and make it an admin again)."""
        create_admin(username, _read_password(password_stdin))
        click.echo(f"已保存管理员 {username}")

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", type=click.Choice(ACTIVE_ROLES), required=True, help="admin 管理员, counter 计票员, observer 监票员.")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    def create_user_command(username: str, role: str, password_stdin: bool) -> None:
        """Create an organizer account with a role (or reset the password and role of one)."""
        _user, created = save_user(username, role, _read_password(password_stdin))
        click.echo(f"已{'创建' if created else '更新'}用户 {username}（{ROLE_LABELS[role]}）")

    @app.cli.command("demo")
    @click.option("--slips", default=30, show_default=True, help="Slips per category.")
    @click.option("--if-empty", is_flag=True, help="Seed only when there is no meeting yet; else show the first one.")
    def demo_command(slips: int, if_empty: bool) -> None:
        """Seed a realistic demo meeting and print its id and URLs."""
        from .services.demo import seed_demo
        from .services.slips import public_base_url

        existing = db.session.scalar(select(Meeting).order_by(Meeting.id)) if if_empty else None
        meeting = existing or seed_demo(slips_per_category=slips)
        base = public_base_url()
        click.echo(f"演示会议{'（已存在）' if existing else '已创建'}：编号 {meeting.id}「{meeting.title}」")
        click.echo(f"组织者页面：{base}/organizer/meetings/{meeting.id}")
        click.echo(f"测评码 PDF：{base}/organizer/meetings/{meeting.id}/slips.pdf")
        click.echo(f"手机投票入口：{base}/v")

    meeting_group = click.Group("meeting", help="Meetings.")
    app.cli.add_command(meeting_group)

    @meeting_group.command("export")
    @click.argument("meeting_id", type=int)
    @click.argument("path", type=click.Path(dir_okay=False, writable=True))
    def export_command(meeting_id: int, path: str) -> None:
        """Write the whole meeting (definition, slips, ballots, results, audit log) to PATH."""
        from .services import archive

        meeting = _meeting(meeting_id)
        data = archive.export_meeting(meeting)
        audit.log("cli", "meeting.archive_export", meeting.id)
        db.session.commit()
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, separators=(",", ":"))
        click.echo(f"已导出会议「{meeting.title}」到 {path}")

    @meeting_group.command("import-archive")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def import_archive_command(path: str) -> None:
        """Recreate a meeting from an archive written by `meeting export` (all or nothing)."""
        from .services import archive

        with open(path, encoding="utf-8-sig") as handle:
            try:
                data = json.load(handle)
            except json.JSONDecodeError as error:
                raise click.ClickException(f"不是有效的 JSON 文件：{error}") from None
        try:
            meeting = archive.import_meeting(data, "cli")
        except archive.ArchiveError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"已导入会议「{meeting.title}」，编号 {meeting.id}")

    @meeting_group.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def import_command(path: str) -> None:
        """Import a whole meeting from .xlsx or .json; prints the new meeting id."""
        from .services.meetings import DefinitionError, import_definition

        data = read_definition_file(path)
        try:
            meeting = import_definition(data, CLI_ACTOR)
        except DefinitionError as error:
            for line in error.errors:
                click.echo(line, err=True)
            raise click.ClickException(f"共 {len(error.errors)} 处错误，未导入任何内容") from None
        click.echo(meeting.id)

    @app.cli.command("slips")
    @click.argument("meeting_id", type=int)
    @click.option("--category", "-c", "category_code", required=True, help="Category code, e.g. A.")
    @click.option("--count", "-n", type=int, required=True, help="How many new slips to issue.")
    @click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, writable=True), required=True)
    @click.option("--base-url", default=None, help="Address the QR codes carry (default: PUBLIC_BASE_URL or the LAN address).")
    def slips_command(meeting_id: int, category_code: str, count: int, pdf_path: str, base_url: str | None) -> None:
        """Issue N slips for a category and write them to an A4 PDF."""
        from .services import documents
        from .services import slips as slip_service

        meeting = _meeting(meeting_id)
        category = db.session.scalar(
            select(VoterCategory).where(VoterCategory.meeting_id == meeting.id, VoterCategory.code == category_code.upper())
        )
        if category is None:
            raise click.ClickException(f"会议 {meeting_id} 没有类别 {category_code}")
        # Check where the PDF goes before issuing: slips issued but never printed would still
        # count as handed out (实到, R19/R20) until someone voided them.
        folder = os.path.dirname(os.path.abspath(pdf_path))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise click.ClickException(f"无法写入 PDF：目录 {folder} 不存在或不可写，未生成测评码")
        try:
            issued = slip_service.issue(meeting, category, count, CLI_ACTOR)
        except slip_service.SlipError as error:
            raise click.ClickException(str(error)) from None
        base = (base_url or slip_service.public_base_url()).rstrip("/")

        def progress(done: int, total: int) -> None:
            # On stderr, one line per finished run of pages: stdout stays for the result line.
            click.echo(f"排版 {done}/{total} …", err=True)

        pdf = documents.slip_sheet_pdf(
            meeting.title, slip_service.printable(meeting, issued, base), vote_url_hint=f"{base}/v", progress=progress
        )
        slip_service.record_print(meeting, issued, CLI_ACTOR)
        with open(pdf_path, "wb") as fh:
            fh.write(pdf)
        for warning in slip_service.category_warnings(meeting):
            click.echo(f"注意：{warning}", err=True)
        click.echo(f"已生成 {count} 张测评码（类别 {category.label}），写入 {pdf_path}；二维码地址 {base}/v/…")

    @app.cli.command("results")
    @click.argument("meeting_id", type=int)
    @click.option("--round", "round_id", type=int, default=None, help="Round id (default: every closed round).")
    @click.option("--format", "fmt", type=click.Choice(["pdf", "xlsx", "json"]), required=True)
    @click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True), required=True)
    def results_command(meeting_id: int, round_id: int | None, fmt: str, out_path: str) -> None:
        """Write the 测评结果汇总表 of a round as PDF, XLSX or JSON."""
        from .services.exports import report_bytes
        from .services.results import round_report

        meeting = _meeting(meeting_id)
        rounds = [r for r in meeting.rounds if round_id is None or r.id == round_id]
        if round_id is not None and not rounds:
            raise click.ClickException(f"会议 {meeting_id} 没有轮次 {round_id}")
        counted = [r for r in rounds if r.closed_dt is not None]
        if not counted:
            raise click.ClickException("还没有已结束的轮次：结束投票后才有结果")
        if len(counted) > 1:
            stem, ext = os.path.splitext(out_path)
            paths = [f"{stem}-round{r.id}{ext}" for r in counted]
        else:
            paths = [out_path]
        for round_, path in zip(counted, paths):
            with open(path, "wb") as fh:
                fh.write(report_bytes(round_report(round_), fmt))
            click.echo(f"{round_.title}：{path}")

    @app.cli.command("recount", with_appcontext=False)
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def recount_command(path: str) -> None:
        """Recount a round from its anonymous ballots JSON alone (no database): exit 0 when every
        published figure agrees, 1 with every difference listed (R25)."""
        from .services.recount import RecountError, read_document, recount

        with open(path, "rb") as fh:
            data = fh.read()
        try:
            result = recount(read_document(data))
        except RecountError as error:
            raise click.ClickException(str(error)) from None
        if result.ok:
            click.echo(f"复核一致：{result.title}，{result.summary}；选票摘要 SHA-256 相符。")
            return
        for line in result.differences:
            click.echo(line)
        click.echo(f"复核不一致：{result.title}，共 {len(result.differences)} 处差异。", err=True)
        sys.exit(1)
