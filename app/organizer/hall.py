"""In the hall: paper ballots entered by staff (§6) and the rehearsal (模拟测试) switch."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..models import Meeting, Round, RoundState, StateError
from ..services import audit, rehearsal, voting
from ..services.ballots import ballot_view
from ..services.results import round_counts
from ..web import ballot_from_form
from .forms import EmptyForm
from .views import bp


@bp.route("/rounds/<int:round_id>/paper", methods=["GET", "POST"])
def paper_ballot(round_id: int):
    """Enter a paper ballot under its slip's code (§6): the phone's form and the phone's
    checks (voting.cast with ``is_paper``), the same one-ballot-per-slip rule. A paper
    ballot that breaks a count rule (more than K choices, more top-level grades than the cap)
    is recorded as 废票, as it would be when counted by hand (R11); the page says so.

    The audit log records that a paper ballot was entered, never its code or contents (R23)."""
    round_ = db.get_or_404(Round, round_id)
    form = EmptyForm()
    view = ballot_view(round_)
    error, status = None, 200
    code = ""
    marks, items = {}, {}
    if request.method == "POST":
        code = request.form.get("code", "").strip()
        marks, items = ballot_from_form(request.form)
        if not form.validate_on_submit():
            error, status = "页面已过期，请刷新后重新录入", 400
        elif round_.state is not RoundState.OPEN:
            error, status = "本轮不在投票中，不能录入纸质选票", 409
        else:
            try:
                slip = voting.resolve(code)
                if slip.meeting_id != round_.meeting_id:
                    raise voting.UnknownCode("此测评码不属于本会议")
                invalid = not voting.check_ballot(round_, marks, items, is_paper=True).is_valid
                voting.cast(slip, round_.id, marks, items, is_paper=True)
            except voting.VotingError as exc:
                error, status = str(exc), exc.status
            else:
                audit.log(current_user.username, "ballot.paper_entry", round_.meeting_id, round_id=round_.id)
                db.session.commit()
                if invalid:
                    flash("已录入一张纸质选票：该票超过限选数（多选或最高等次超限），已按废票录入。", "warn")
                else:
                    flash("已录入一张纸质选票。", "ok")
                return redirect(url_for(".paper_ballot", round_id=round_.id))
    checked = None
    if error:  # keep what was typed, so staff correct the code instead of re-entering marks
        try:
            checked = voting.check_ballot(round_, marks, items, is_paper=True)
        except voting.VotingError:
            checked = None
    return (
        render_template(
            "organizer/paper.html",
            round=round_,
            ballot=view,
            form=form,
            error=error,
            code=code,
            marks=checked.marks if checked else {},
            answers=checked.item_marks if checked else {},
            counts=round_counts(round_),
        ),
        status,
    )


@bp.post("/meetings/<int:meeting_id>/rehearsal")
def rehearsal_start(meeting_id: int):
    """Put the meeting into 模拟测试 (only before any round has opened)."""
    return _rehearsal_action(meeting_id, rehearsal.start, lambda _: "已进入模拟测试：现在可用真实手机和测评码演练，正式投票前请清除演练数据。")


@bp.post("/meetings/<int:meeting_id>/rehearsal/purge")
def rehearsal_purge(meeting_id: int):
    """Delete every rehearsal ballot and return all rounds to 未开始; the slips stay valid."""

    def done(summary: rehearsal.PurgeSummary) -> str:
        return (
            f"演练数据已清除：删除选票 {summary.ballots} 张，{summary.rounds_reset} 个轮次恢复为未开始"
            + (f"，删除演练中产生的再次投票轮次 {summary.runoffs_removed} 个" if summary.runoffs_removed else "")
            + "。测评码仍然有效，可以开始正式投票。"
        )

    return _rehearsal_action(meeting_id, rehearsal.purge, done)


def _rehearsal_action(meeting_id: int, action, message):
    """Run a rehearsal service action for the meeting; its refusal (StateError) is flashed."""
    meeting = db.get_or_404(Meeting, meeting_id)
    if not EmptyForm().validate_on_submit():
        flash("页面已过期，请刷新后重试", "error")
    else:
        try:
            flash(message(action(meeting, current_user.username)), "ok")
        except StateError as exc:
            db.session.rollback()
            flash(str(exc), "error")
    return redirect(url_for(".meeting", meeting_id=meeting_id))
