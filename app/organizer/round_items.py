"""The round's ballot content (选票内容): dimension items, 逆向测评, 使用意向 and the cap on
top-level grades, per target kind (R9, R15, R18). Editable while the round is a draft."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from ..core.scales import KIND_LABELS, PERSON, TEAM, level_labels, plain_number
from ..extensions import db
from ..forms import BaseForm
from ..models import Round, StateError
from ..services import items as item_service
from .forms import EmptyForm
from .views import bp


class KindItemsForm(BaseForm):
    """One target kind's items; rendered twice with the prefixes ``team-`` and ``person-``."""

    preset = SelectField(
        "测评维度预设", default="none", choices=[SelectChoice(k, label) for k, (label, _) in item_service.DIMENSION_PRESETS.items()]
    )
    dimensions = TextAreaField("测评维度（一行一项；按维度计分时在名称后加空格和权重，如“德 15”）")
    reverse = TextAreaField("逆向测评选项（一行一项，可不设）")
    intent = TextAreaField("使用意向选项（一行一项，可不设）")
    top_cap = IntegerField("每票最高等次不超过（个，可不填）", validators=[Optional(), NumberRange(min=1, max=10000, message="应为正整数")])


def _kinds(round_: Round) -> list[str]:
    present = {rt.target.kind for rt in round_.round_targets}
    return [k for k in (TEAM, PERSON) if k in present]


def _lines(values) -> str:
    return "\n".join(values)


def _fill_from_round(form: KindItemsForm, round_: Round, kind: str) -> None:
    spec = item_service.ballot_spec(round_).items_for(kind)
    form.dimensions.data = _lines(d.label if d.weight is None else f"{d.label} {plain_number(d.weight)}" for d in spec.dimensions)
    form.reverse.data = _lines(r.label for r in spec.reverse)
    form.intent.data = _lines(i.label for i in spec.intent)
    form.top_cap.data = spec.top_cap


def _fill_from_preset(form: KindItemsForm, kind: str) -> None:
    """套用常用项: the chosen dimension preset, the default 逆向测评 list and, for leaders,
    the default 使用意向 options (DOMAIN §3)."""
    _, by_kind = item_service.DIMENSION_PRESETS.get(form.preset.data, item_service.DIMENSION_PRESETS["none"])
    form.dimensions.data = _lines(f"{label} {weight}" if weight is not None else label for label, weight in by_kind[kind])
    form.reverse.data = _lines(item_service.DEFAULT_REVERSE[kind])
    form.intent.data = _lines(item_service.DEFAULT_INTENT) if kind == PERSON else ""


@bp.route("/rounds/<int:round_id>/items", methods=["GET", "POST"])
def round_items(round_id: int):
    """Set what the round asks each kind besides the overall grade. Two buttons: 套用常用项
    fills the form from the presets without saving; 保存 checks and saves every kind at once
    or nothing."""
    round_ = db.get_or_404(Round, round_id)
    kinds = _kinds(round_)
    # One CSRF token for the page (EmptyForm); the per-kind forms only carry fields.
    guard = EmptyForm()
    forms = {kind: KindItemsForm(prefix=kind, meta={"csrf": False}) for kind in kinds}
    errors: list[str] = []
    status = 200
    if request.method == "GET":
        for kind, form in forms.items():
            _fill_from_round(form, round_, kind)
    else:
        valid = {kind: form.validate() for kind, form in forms.items()}
        if not guard.validate_on_submit():
            errors.append("页面已过期，请刷新后重新填写")
        elif request.form.get("action") == "preset":
            for kind, form in forms.items():
                _fill_from_preset(form, kind)
        else:
            parsed = {}
            for kind, form in forms.items():
                if not valid[kind]:
                    errors += [f"{KIND_LABELS[kind]}：{e}" for field_errors in form.errors.values() for e in field_errors]
                    continue
                dimensions, line_errors = item_service.parse_dimension_lines(form.dimensions.data or "")
                errors += [f"{KIND_LABELS[kind]}测评维度{e}" for e in line_errors]
                parsed[kind] = dict(
                    dimensions=dimensions,
                    reverse=item_service.parse_option_lines(form.reverse.data or ""),
                    intent=item_service.parse_option_lines(form.intent.data or ""),
                    top_cap=form.top_cap.data,
                )
            if not errors:
                try:
                    item_service.set_round_items(round_, parsed, current_user.username)
                except StateError as error:
                    db.session.rollback()
                    errors.append(str(error))
                else:
                    flash("选票内容已保存", "ok")
                    return redirect(url_for("organizer.meeting", meeting_id=round_.meeting_id) + f"#round-{round_.id}")
        status = 400 if errors else 200
    return (
        render_template(
            "organizer/round_items.html",
            round=round_,
            guard=guard,
            forms=forms,
            errors=errors,
            kind_labels=KIND_LABELS,
            top_labels={k: level_labels(k)[0] for k in kinds},
        ),
        status,
    )
