"""Units (单位) and their groups: 综合目标考核 scores, vetoes and staff (DOMAIN R2, R3, R5).

Entered by form or imported (the 「单位」 sheet of an .xlsx, or ``"units"`` in JSON); a bad
import reports every bad row and changes nothing.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import Meeting, RoundState, StateError, Unit, UnitGroup
from . import audit
from .meetings import DefinitionError

SHEET = "单位"


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _score(value: Any) -> Decimal | None:
    try:
        number = Decimal(_text(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or not 0 <= number <= 100 or number != number.quantize(Decimal("0.01")):
        return None
    return number


def _count(value: Any) -> int | None:
    text = _text(value)
    if isinstance(value, bool) or not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return int(number) if number.is_finite() and number == number.to_integral_value() and 0 <= number <= 1_000_000 else None


def validate_units(rows: Any) -> list[str]:
    """Every error of a list of unit rows, by row (``_row``) or position.

    A row: ``{"name", "group", "target_score", "vetoed" (bool), "veto_reason", "staff"}``.
    """
    if not isinstance(rows, list) or not rows:
        return [f"「{SHEET}」至少需要一个单位"]
    errors: list[str] = []
    seen: set[str] = set()
    for i, row in enumerate(rows, start=1):
        place = f"工作表「{SHEET}」第 {row['_row']} 行" if isinstance(row, dict) and row.get("_row") else f"「{SHEET}」第 {i} 项"
        if not isinstance(row, dict):
            errors.append(f"{place}：格式不正确")
            continue
        name = _text(row.get("name"))
        if not name or len(name) > 100:
            errors.append(f"{place}：单位名称应为 1–100 字")
        elif name in seen:
            errors.append(f"{place}：单位「{name}」重复")
        seen.add(name)
        if not _text(row.get("group")) or len(_text(row.get("group"))) > 50:
            errors.append(f"{place}：分组应为 1–50 字，如 部门组、乡镇组")
        if _score(row.get("target_score")) is None:
            errors.append(f"{place}：综合目标考核得分「{_text(row.get('target_score'))}」应为 0–100 的数，最多两位小数")
        if not isinstance(row.get("vetoed", False), bool):
            errors.append(f"{place}：一票否决应填 是 或 否")
        elif row.get("vetoed") and not _text(row.get("veto_reason")):
            errors.append(f"{place}：一票否决须写明原因（如 综治、计生、安全 或 违法违纪）")
        if len(_text(row.get("veto_reason"))) > 200:
            errors.append(f"{place}：否决原因超过 200 字")
        if _count(row.get("staff")) is None:
            errors.append(f"{place}：编内在职职工人数应为 0 或正整数")
    return errors


def _refuse_after_selection(meeting: Meeting) -> None:
    if any(r.is_selection and r.state is not RoundState.DRAFT for r in meeting.rounds):
        raise StateError("差额票决已开始，不能再修改单位")


def import_units(meeting: Meeting, rows: Any, actor: str) -> list[Unit]:
    """Replace the meeting's units with ``rows`` (all or nothing); groups are created for new
    group names and kept for existing ones.

    :raises DefinitionError: listing every bad row; nothing changed.
    :raises StateError: once a selection round has opened.
    """
    errors = validate_units(rows)
    if errors:
        raise DefinitionError(errors)
    _refuse_after_selection(meeting)
    db.session.execute(Unit.__table__.delete().where(Unit.meeting_id == meeting.id))
    units = [
        Unit(
            meeting_id=meeting.id,
            name=_text(row["name"]),
            group_name=_text(row["group"]),
            target_score=_score(row["target_score"]),
            is_vetoed=bool(row.get("vetoed", False)),
            veto_reason=_text(row.get("veto_reason")) if row.get("vetoed") else "",
            staff_count=_count(row["staff"]),
            position=i,
        )
        for i, row in enumerate(rows)
    ]
    db.session.add_all(units)
    _ensure_groups(meeting, [u.group_name for u in units])
    audit.log(actor, "units.import", meeting.id, units=len(units))
    db.session.commit()
    return units


def _ensure_groups(meeting: Meeting, names: list[str]) -> None:
    existing = set(db.session.scalars(select(UnitGroup.name).where(UnitGroup.meeting_id == meeting.id)))
    position = len(existing)
    for name in dict.fromkeys(names):
        if name not in existing:
            db.session.add(UnitGroup(meeting_id=meeting.id, name=name, position=position))
            position += 1


def units_of(meeting: Meeting) -> list[Unit]:
    return list(db.session.scalars(select(Unit).where(Unit.meeting_id == meeting.id).order_by(Unit.position, Unit.id)))


def groups_of(meeting: Meeting) -> list[UnitGroup]:
    """Groups that have units, in order of first appearance."""
    names = list(dict.fromkeys(u.group_name for u in units_of(meeting)))
    groups = {g.name: g for g in db.session.scalars(select(UnitGroup).where(UnitGroup.meeting_id == meeting.id))}
    return [groups[n] for n in names if n in groups]


def set_group(meeting: Meeting, name: str, *, places: int | None, seats: int | None, actor: str) -> UnitGroup:
    """N candidates (R3; None = every 达标 unit) and K seats (R4; None = N/2) of a group.

    :raises StateError: for an unknown group or out-of-range numbers.
    """
    group = db.session.scalar(select(UnitGroup).where(UnitGroup.meeting_id == meeting.id, UnitGroup.name == name))
    if group is None:
        raise StateError(f"没有分组「{name}」")
    if places is not None and not 1 <= places <= 1000:
        raise StateError("候选名额应为正整数")
    if seats is not None and (seats < 1 or (places is not None and seats >= places)):
        raise StateError("应选名额应少于候选名额（差额票决）")
    group.candidate_places, group.seats = places, seats
    audit.log(actor, "group.settings", meeting.id, group=name, places=places, seats=seats)
    db.session.commit()
    return group


def save_unit(meeting: Meeting, row: dict, actor: str) -> Unit:
    """Add a unit, or update the one of the same name (entered by form), with the same checks
    as an import.

    :raises DefinitionError: listing what is wrong; nothing changed.
    :raises StateError: once a selection round has opened.
    """
    errors = validate_units([row])
    if errors:
        raise DefinitionError([e.split("：", 1)[-1] for e in errors])
    _refuse_after_selection(meeting)
    name = _text(row["name"])
    unit = db.session.scalar(select(Unit).where(Unit.meeting_id == meeting.id, Unit.name == name))
    if unit is None:
        unit = Unit(meeting_id=meeting.id, name=name, position=len(units_of(meeting)))
        db.session.add(unit)
    unit.group_name = _text(row["group"])
    unit.target_score = _score(row["target_score"])
    unit.is_vetoed = bool(row.get("vetoed", False))
    unit.veto_reason = _text(row.get("veto_reason")) if unit.is_vetoed else ""
    unit.staff_count = _count(row["staff"])
    _ensure_groups(meeting, [unit.group_name])
    audit.log(actor, "unit.save", meeting.id, name=name, group=unit.group_name, target_score=str(unit.target_score), vetoed=unit.is_vetoed)
    db.session.commit()
    return unit
