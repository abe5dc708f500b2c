"""The organizer's console: set up a meeting, print slips, run rounds, take results home."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..extensions import db
from ..models import RESULT_MODES, Meeting, Round, RoundState, Slip, StateError
from ..services import archive, documents, live, meetings, selection, slips as slip_service, units
from ..services.assessment import archive_year, assessment_report
from ..web import live_stream_response
from ..services.exports import MIME_TYPES, assessment_bytes, report_bytes, report_filename, selection_bytes
from ..services.results import round_report
from ..services.spreadsheets import SheetFormatError, meeting_template_xlsx, read_meeting_xlsx, read_units_xlsx, units_template_xlsx
from . import permissions
from .forms import (
    AssessmentSettingsForm,
    CategoryForm,
    GroupSettingsForm,
    SelectionRoundForm,
    UnitForm,
    UnitsImportForm,
    EmptyForm,
    ImportForm,
    IssueSlipsForm,
    MeetingForm,
    PresentForm,
    PublishForm,
    ResultModeForm,
    RoundForm,
    TargetForm,
    VoidSlipForm,
)

bp = Blueprint("organizer", __name__, url_prefix="/organizer")


# Every organizer page needs a log-in and a role the permission table allows.
permissions.protect(bp)


def _actor() -> str:
    return current_user.username


def _meeting(meeting_id: int) -> Meeting:
    return db.get_or_404(Meeting, meeting_id)


def _round(round_id: int) -> Round:
    return db.get_or_404(Round, round_id)


def _download(data: bytes, filename: str, mimetype: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = _attachment(filename)
    return response


def _attachment(filename: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename=\"download.{filename.rsplit('.', 1)[-1]}\"; filename*=UTF-8''{quote(filename)}"


@bp.get("/")
def index():
    """All meetings, newest first, with the forms to create or import one."""
    all_meetings = db.session.scalars(select(Meeting).order_by(Meeting.id.desc())).all()
    return render_template("organizer/index.html", meetings=all_meetings, form=MeetingForm(), import_form=ImportForm())


@bp.route("/meetings/new", methods=["GET", "POST"])
def new_meeting():
    """Create a meeting by form."""
    form = MeetingForm()
    if form.validate_on_submit():
        meeting = meetings.create_meeting(
            title=form.title.data,
            held_on=form.held_on.data,
            place=form.place.data or "",
            expected_count=form.expected_count.data,
            actor=_actor(),
        )
        flash("会议已创建，请添加测评人员类别和测评对象", "ok")
        return redirect(url_for(".meeting", meeting_id=meeting.id))
    return render_template("organizer/new_meeting.html", form=form), (400 if form.is_submitted() else 200)


@bp.post("/meetings/import")
def import_meeting():
    """Import a meeting definition from .xlsx or .json (every bad row reported, nothing
    imported), or a whole meeting exported from another installation (services.archive)."""
    form = ImportForm()
    errors: list[str] = []
    if form.validate_on_submit():
        upload = form.file.data
        raw = upload.read()
        try:
            if upload.filename.lower().endswith(".xlsx"):
                data = read_meeting_xlsx(raw)
            else:
                data = json.loads(raw.decode("utf-8-sig"))
            if isinstance(data, dict) and data.get("format") == archive.FORMAT:
                meeting = archive.import_meeting(data, _actor())  # a whole meeting from another installation
            else:
                meeting = meetings.import_definition(data, _actor())
        except meetings.DefinitionError as error:
            errors = error.errors
        except archive.ArchiveError as error:
            errors = [str(error)]
        except SheetFormatError as error:
            errors = [str(error)]
        except (UnicodeDecodeError, json.JSONDecodeError):
            errors = ["不是有效的 JSON 文件（应为 UTF-8 编码）"]
        else:
            flash(f"已导入会议「{meeting.title}」", "ok")
            return redirect(url_for(".meeting", meeting_id=meeting.id))
    else:
        errors = [e for field_errors in form.errors.values() for e in field_errors]
    return render_template("organizer/import_errors.html", errors=errors, import_form=form), 400


@bp.get("/import-template.xlsx")
def import_template():
    """The .xlsx template for importing a meeting."""
    return _download(meeting_template_xlsx(), "测评会议导入模板.xlsx", MIME_TYPES["xlsx"])


@bp.get("/meetings/<int:meeting_id>")
def meeting(meeting_id: int):
    """One meeting: set-up, slips, check-in and rounds on one page."""
    m = _meeting(meeting_id)
    return _meeting_page(m)


def _meeting_page(m: Meeting, status: int = 200, **forms):
    issue_form = forms.get("issue_form") or IssueSlipsForm()
    issue_form.category_id.choices = _category_choices(m)
    context = {
        "meeting": m,
        "slip_counts": slip_service.counts_by_category(m),
        "warnings": slip_service.category_warnings(m),
        "present": meetings.present_count(m),
        "issued": meetings.issued_count(m),
        "quorum_met": meetings.quorum_met(m),
        "base_url": slip_service.public_base_url(),
        "category_form": forms.get("category_form") or CategoryForm(),
        "target_form": forms.get("target_form") or TargetForm(),
        "round_form": forms.get("round_form") or RoundForm(),
        "present_form": forms.get("present_form") or PresentForm(present=m.present_count),
        "issue_form": issue_form,
        "void_form": forms.get("void_form") or VoidSlipForm(),
        "button_form": EmptyForm(),
        "publish_form": PublishForm(),
        "mode_form": ResultModeForm(),
        "RESULT_MODES": RESULT_MODES,
        "live_state": live.hall_state(m),
        "RoundState": RoundState,
    }
    return render_template("organizer/meeting.html", **context), status


def _category_choices(m: Meeting) -> list[SelectChoice]:
    return [SelectChoice(c.id, c.label) for c in m.categories]


def _form_action(meeting_id: int, form, form_key: str, action, done: str):
    """Run ``action(meeting)`` for a valid form and flash ``done``; otherwise show the page
    again with the form's errors or the service's refusal."""
    m = _meeting(meeting_id)
    if not form.validate_on_submit():
        return _meeting_page(m, 400, **{form_key: form})
    try:
        action(m)
    except (StateError, slip_service.SlipError) as error:
        flash(str(error), "error")
        return _meeting_page(m, 409, **{form_key: form})
    flash(done, "ok")
    return redirect(url_for(".meeting", meeting_id=m.id))


@bp.post("/meetings/<int:meeting_id>/categories")
def add_category(meeting_id: int):
    """Add a voter category (R14)."""
    form = CategoryForm()
    return _form_action(
        meeting_id,
        form,
        "category_form",
        lambda m: meetings.add_category(m, code=form.code.data, name=form.name.data, weight=form.weight.data, actor=_actor()),
        "类别已添加",
    )


@bp.post("/meetings/<int:meeting_id>/targets")
def add_target(meeting_id: int):
    """Add a target (班子 or 个人)."""
    form = TargetForm()
    return _form_action(
        meeting_id,
        form,
        "target_form",
        lambda m: meetings.add_target(
            m, kind=form.kind.data, unit=form.unit.data, name=form.name.data or "", title=form.title.data or "",
            is_principal=form.is_principal.data, actor=_actor(),
        ),
        "测评对象已添加",
    )


@bp.post("/meetings/<int:meeting_id>/rounds")
def add_round(meeting_id: int):
    """Add a draft round."""
    form = RoundForm()
    return _form_action(
        meeting_id, form, "round_form", lambda m: meetings.add_round(m, title=form.title.data, scope=form.scope.data, actor=_actor()), "轮次已添加"
    )


@bp.post("/meetings/<int:meeting_id>/present")
def set_present(meeting_id: int):
    """Record 实到 from check-in (empty: count the slips handed out)."""
    form = PresentForm()
    return _form_action(meeting_id, form, "present_form", lambda m: meetings.set_present(m, form.present.data, _actor()), "实到人数已保存")


@bp.post("/meetings/<int:meeting_id>/slips")
def issue_slips(meeting_id: int):
    """Issue N slips for a category, then offer the PDF."""
    m = _meeting(meeting_id)
    form = IssueSlipsForm()
    form.category_id.choices = _category_choices(m)
    if not form.validate_on_submit():
        return _meeting_page(m, 400, issue_form=form)
    category = next(c for c in m.categories if c.id == form.category_id.data)
    try:
        slip_service.issue(m, category, form.count.data, _actor())
    except slip_service.SlipError as error:
        flash(str(error), "error")
        return _meeting_page(m, 409, issue_form=form)
    flash(f"已为「{category.label}」生成 {form.count.data} 张测评码，可下载 PDF 打印", "ok")
    return redirect(url_for(".meeting", meeting_id=m.id))


@bp.get("/meetings/<int:meeting_id>/slips.pdf")
def slips_pdf(meeting_id: int):
    """The A4 slip sheet of every usable slip (or one category's, ?category=A), made as a
    background job: the organizer watches its progress, then downloads it (jobs.py)."""
    m = _meeting(meeting_id)
    query = select(Slip).where(Slip.meeting_id == m.id, Slip.voided_dt.is_(None)).order_by(Slip.category_id, Slip.id)
    code = request.args.get("category", "").strip().upper()
    if code:
        category = next((c for c in m.categories if c.code == code), None)
        if category is None:
            abort(404)
        query = query.where(Slip.category_id == category.id)
    issued = db.session.scalars(query).all()
    if not issued:
        flash("还没有可打印的测评码，请先生成", "error")
        return redirect(url_for(".meeting", meeting_id=m.id))
    from .jobs import start_slip_sheet  # jobs.py imports this module for ``bp``

    label = f"类别「{category.label}」的测评码" if code else "全部测评码"
    return start_slip_sheet(m, issued, f"测评码-{m.id}{'-' + code if code else ''}.pdf", label)


def _slip_pdf_response(m: Meeting, issued: list[Slip], filename: str) -> Response:
    base = slip_service.public_base_url()
    pdf = documents.slip_sheet_pdf(m.title, slip_service.printable(m, issued, base), vote_url_hint=f"{base}/v")
    return _download(pdf, filename, MIME_TYPES["pdf"])


@bp.post("/meetings/<int:meeting_id>/slips/void")
def void_slip(meeting_id: int):
    """Void a slip by its code (lost or damaged) and optionally issue a replacement."""
    m = _meeting(meeting_id)
    form = VoidSlipForm()
    if not form.validate_on_submit():
        return _meeting_page(m, 400, void_form=form)
    try:
        slip = slip_service.find_by_code(form.code.data)
    except Exception as error:  # noqa: BLE001  (codes.CodeError: show its message)
        slip, message = None, str(error)
    else:
        message = "没有这个测评码"
    if slip is None or slip.meeting_id != m.id:
        form.code.errors.append(message if slip is None else "此测评码不属于本次会议")
        return _meeting_page(m, 400, void_form=form)
    try:
        replacement = slip_service.void(slip, form.reason.data or "", _actor(), replace=form.replace.data)
    except slip_service.SlipError as error:
        form.code.errors.append(str(error))
        return _meeting_page(m, 409, void_form=form)
    if replacement is None:
        flash("测评码已作废", "ok")
        return redirect(url_for(".meeting", meeting_id=m.id))
    flash("测评码已作废，并已补发新码：请下载打印", "ok")
    return redirect(url_for(".meeting", meeting_id=m.id, replacement=replacement.id))


@bp.get("/meetings/<int:meeting_id>/slips/<int:slip_id>.pdf")
def slip_pdf(meeting_id: int, slip_id: int):
    """One slip (a replacement) as a PDF page."""
    m = _meeting(meeting_id)
    slip = db.get_or_404(Slip, slip_id)
    if slip.meeting_id != m.id or slip.is_void:
        abort(404)
    slip_service.record_print(m, [slip], _actor(), slip_id=slip.id)
    return _slip_pdf_response(m, [slip], f"补发测评码-{m.id}.pdf")


@bp.post("/rounds/<int:round_id>/<any(open, close, publish):action>")
def round_transition(round_id: int, action: str):
    """Open, close or publish a round; refusals are explained (e.g. 未达到法定人数)."""
    r = _round(round_id)
    form = PublishForm() if action == "publish" else EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if action == "open":
            meetings.open_round(r, _actor())
        elif action == "close":
            meetings.close_round(r, _actor())
        else:
            meetings.publish_round(r, _actor(), show_on_phones=form.show_on_phones.data)
    except StateError as error:
        flash(str(error), "error")
    else:
        flash({"open": "已开始投票", "close": "已结束投票，可查看结果", "publish": "结果已公布"}[action], "ok")
    return redirect(url_for(".meeting", meeting_id=r.meeting_id) + f"#round-{r.id}")


@bp.post("/rounds/<int:round_id>/mode")
def round_mode(round_id: int):
    """Choose what the display shows before publication: nothing (default) or live counts."""
    r = _round(round_id)
    form = ResultModeForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        meetings.set_result_mode(r, form.mode.data, _actor())
    except StateError as error:
        flash(str(error), "error")
    else:
        flash(f"「{r.title}」大屏显示方式：{RESULT_MODES[r.result_mode]}", "ok")
    return redirect(url_for(".meeting", meeting_id=r.meeting_id) + f"#round-{r.id}")


@bp.post("/meetings/<int:meeting_id>/display-link")
def new_display_link(meeting_id: int):
    """Replace the display link; the old one stops working."""
    m = _meeting(meeting_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    meetings.new_display_link(m, _actor())
    flash("大屏链接已更换，旧链接已失效", "ok")
    return redirect(url_for(".meeting", meeting_id=m.id))


@bp.get("/meetings/<int:meeting_id>/live/state.json")
def live_state(meeting_id: int):
    """Turnout of every round, for the console (polling fallback)."""
    return jsonify(live.hall_state(_meeting(meeting_id)).event())


@bp.get("/meetings/<int:meeting_id>/live/events")
def live_events(meeting_id: int):
    """Turnout of every round as Server-Sent Events, for the console."""
    return live_stream_response(_meeting(meeting_id).id)


# --- 年度考核 and 差额票决 -------------------------------------------------------------------


@bp.get("/meetings/<int:meeting_id>/assessment")
def assessment(meeting_id: int):
    """Units, grades, composite scores, 特优 candidates per group and their 票决 rounds."""
    return _assessment_page(_meeting(meeting_id))


def _assessment_page(m: Meeting, status: int = 200, errors: list[str] | None = None, **forms):
    report = assessment_report(m)
    settings_form = forms.get("settings_form") or AssessmentSettingsForm(obj=m)
    if settings_form.year.data is None and not settings_form.is_submitted():
        settings_form.year.data = m.assessment_year
    return (
        render_template(
            "organizer/assessment.html",
            meeting=m,
            report=report,
            groups={g.name: g for g in units.groups_of(m)},
            selection_rounds=[r for r in m.rounds if r.is_selection],
            import_form=forms.get("import_form") or UnitsImportForm(),
            unit_form=forms.get("unit_form") or UnitForm(),
            settings_form=settings_form,
            group_form=GroupSettingsForm(),
            selection_form=SelectionRoundForm(),
            button_form=EmptyForm(),
            errors=errors or [],
        ),
        status,
    )


@bp.post("/meetings/<int:meeting_id>/units/import")
def import_units(meeting_id: int):
    """Import the units (单位, 分组, 目标考核得分, 一票否决, 职工人数): all rows or none."""
    m = _meeting(meeting_id)
    form = UnitsImportForm()
    if not form.validate_on_submit():
        return _assessment_page(m, 400, [e for errs in form.errors.values() for e in errs], import_form=form)
    upload = form.file.data
    raw = upload.read()
    try:
        if upload.filename.lower().endswith(".xlsx"):
            rows = read_units_xlsx(raw)
        else:
            data = json.loads(raw.decode("utf-8-sig"))
            rows = data.get("units") if isinstance(data, dict) else data
        count = len(units.import_units(m, rows, _actor()))
    except meetings.DefinitionError as error:
        return _assessment_page(m, 400, ["导入失败，未导入任何内容："] + error.errors, import_form=form)
    except SheetFormatError as error:
        return _assessment_page(m, 400, [str(error)], import_form=form)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _assessment_page(m, 400, ["不是有效的 JSON 文件（应为 UTF-8 编码）"], import_form=form)
    except StateError as error:
        return _assessment_page(m, 409, [str(error)], import_form=form)
    flash(f"已导入 {count} 个单位", "ok")
    return redirect(url_for(".assessment", meeting_id=m.id))


@bp.post("/meetings/<int:meeting_id>/units")
def save_unit(meeting_id: int):
    """Add one unit, or update the one of the same name, by form."""
    m = _meeting(meeting_id)
    form = UnitForm()
    if not form.validate_on_submit():
        return _assessment_page(m, 400, [e for errs in form.errors.values() for e in errs], unit_form=form)
    row = {
        "name": form.name.data, "group": form.group.data, "target_score": form.target_score.data,
        "vetoed": form.vetoed.data, "veto_reason": form.veto_reason.data or "", "staff": form.staff.data or 0,
    }
    try:
        units.save_unit(m, row, _actor())
    except meetings.DefinitionError as error:
        return _assessment_page(m, 400, error.errors, unit_form=form)
    except StateError as error:
        return _assessment_page(m, 409, [str(error)], unit_form=form)
    flash(f"单位「{form.name.data.strip()}」已保存", "ok")
    return redirect(url_for(".assessment", meeting_id=m.id))


@bp.get("/units-template.xlsx")
def units_template():
    """The .xlsx template for importing units."""
    return _download(units_template_xlsx(), "单位名单导入模板.xlsx", MIME_TYPES["xlsx"])


@bp.post("/meetings/<int:meeting_id>/assessment/settings")
def assessment_settings(meeting_id: int):
    """Composite weights (R1), grade lines (R2), rewards (R5), majority rule (R22), year."""
    m = _meeting(meeting_id)
    form = AssessmentSettingsForm()
    if not form.validate_on_submit():
        return _assessment_page(m, 400, settings_form=form)
    values = {name: getattr(form, name).data for name in meetings.ASSESSMENT_FIELDS}
    for money in ("reward_per_point", "reward_lump_excellent", "reward_lump_top"):
        values[money] = values[money] or 0
    try:
        meetings.set_assessment_settings(m, _actor(), **values)
    except StateError as error:
        return _assessment_page(m, 409, [str(error)], settings_form=form)
    flash("考核设置已保存", "ok")
    return redirect(url_for(".assessment", meeting_id=m.id))


@bp.post("/meetings/<int:meeting_id>/groups/<group>")
def group_settings(meeting_id: int, group: str):
    """A group's N candidates and K seats (empty: every 达标 unit; half of N)."""
    m = _meeting(meeting_id)
    form = GroupSettingsForm()
    if not form.validate_on_submit():
        return _assessment_page(m, 400, [e for errs in form.errors.values() for e in errs])
    try:
        units.set_group(m, group, places=form.candidate_places.data, seats=form.seats.data, actor=_actor())
    except StateError as error:
        return _assessment_page(m, 409, [str(error)])
    flash(f"「{group}」名额已保存", "ok")
    return redirect(url_for(".assessment", meeting_id=m.id))


@bp.post("/meetings/<int:meeting_id>/groups/<group>/selection")
def create_selection(meeting_id: int, group: str):
    """Create the group's 差额票决 round from its candidates (and the organizer's choice
    among units tied at the N-th place)."""
    m = _meeting(meeting_id)
    form = SelectionRoundForm()
    if not form.validate_on_submit():
        return _assessment_page(m, 400, [e for errs in form.errors.values() for e in errs])
    try:
        round_ = selection.create_selection_round(m, group, request.form.getlist("unit"), _actor(), seats=form.seats.data, order=form.order.data)
    except StateError as error:
        return _assessment_page(m, 409, [str(error)])
    flash(f"已创建「{round_.title}」：应选 {round_.seats} 名，候选 {len(round_.round_targets)} 名", "ok")
    return redirect(url_for(".meeting", meeting_id=m.id) + f"#round-{round_.id}")


@bp.post("/rounds/<int:round_id>/runoff")
def runoff(round_id: int):
    """R21 in one action: a runoff among the tied candidates for the seats still open."""
    r = _round(round_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        new = selection.start_runoff(r, _actor())
    except StateError as error:
        flash(str(error), "error")
        return redirect(url_for(".meeting", meeting_id=r.meeting_id) + f"#round-{r.id}")
    flash(f"已发起「{new.title}」：{len(new.round_targets)} 名候选争 {new.seats} 个名额，请开始投票", "ok")
    return redirect(url_for(".meeting", meeting_id=r.meeting_id) + f"#round-{new.id}")


@bp.post("/meetings/<int:meeting_id>/history/archive")
def archive_history(meeting_id: int):
    """Keep this year's standings for next year's two-year flags (R6)."""
    m = _meeting(meeting_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        count = archive_year(m, _actor())
    except ValueError as error:
        return _assessment_page(m, 409, [str(error)])
    flash(f"已归档 {count} 条本年度结果，供下一年度比对", "ok")
    return redirect(url_for(".assessment", meeting_id=m.id))


@bp.get("/meetings/<int:meeting_id>/assessment.<any(pdf, xlsx, json):fmt>")
def assessment_file(meeting_id: int, fmt: str):
    """The composite table as PDF, XLSX or JSON — the same report as the page."""
    report = assessment_report(_meeting(meeting_id))
    return _download(assessment_bytes(report, fmt), f"综合考核结果-{report.meeting_id}.{fmt}", MIME_TYPES[fmt])


def _counted_round(round_id: int) -> Round:
    r = _round(round_id)
    if r.state in (RoundState.DRAFT, RoundState.OPEN):
        abort(Response(render_template("error.html", code=409, message="投票结束后才能查看结果"), status=409))
    return r


@bp.get("/rounds/<int:round_id>/results")
def results(round_id: int):
    """The results of a closed round, as the organizer reads them before signing."""
    r = _counted_round(round_id)
    if r.is_selection:
        return render_template("organizer/selection_results.html", report=selection.selection_report(r), round=r, button_form=EmptyForm())
    return render_template("organizer/results.html", report=round_report(r))


@bp.get("/rounds/<int:round_id>/results.<any(pdf, xlsx, json):fmt>")
def results_file(round_id: int, fmt: str):
    """The 测评结果汇总表 (or, for 差额票决, the 票决计票结果报告单) — the same report as the page."""
    r = _counted_round(round_id)
    if r.is_selection:
        if fmt == "xlsx":
            abort(404)
        report = selection.selection_report(r)
        return _download(selection_bytes(report, fmt), f"票决计票结果报告单-{r.meeting_id}-{r.id}.{fmt}", MIME_TYPES[fmt])
    report = round_report(r)
    return _download(report_bytes(report, fmt), report_filename(report, fmt), MIME_TYPES[fmt])



# The console's other pages join this blueprint (and its permission check) from their own modules.
from . import archive_views, audit_log, hall, publication, round_items, users  # noqa: E402,F401
