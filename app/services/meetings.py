"""Meetings: set-up (by form or import), categories, targets, rounds and their lifecycle.

Every change commits together with its audit entry (R25). Round transitions are conditional
UPDATEs, so that closing a round and casting into it cannot interleave badly: a cast commits
only while the round's ``closed_dt`` is NULL, and on PostgreSQL the close waits for the shared
row lock of every cast still in flight (services.voting).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select, update

from ..core.scales import PERSON, TEAM
from ..extensions import db
from ..models import Meeting, Round, RoundState, RoundTarget, Slip, StateError, Target, VoterCategory
from ..models.meeting import new_display_token
from . import audit, secrecy

KIND_WORDS = {TEAM: "班子", PERSON: "个人"}
ROUND_SCOPES = {"team": "班子", "person": "个人", "all": "全部"}


class DefinitionError(Exception):
    """A meeting definition with errors; ``errors`` lists every one, by sheet and row."""

    def __init__(self, errors: list[str]):
        super().__init__("；".join(errors))
        self.errors = errors


@dataclass
class _Checker:
    errors: list[str]

    def where(self, sheet: str, item: dict, index: int) -> str:
        row = item.get("_row") if isinstance(item, dict) else None
        return f"工作表「{sheet}」第 {row} 行" if row else f"「{sheet}」第 {index} 项"

    def add(self, place: str, message: str) -> None:
        self.errors.append(f"{place}：{message}")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = Decimal(_text(value))
    except InvalidOperation:
        return None
    return int(number) if number == number.to_integral_value() else None


def _weight(value: Any) -> Decimal | None:
    text = _text(value).rstrip("%")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def validate_definition(data: Any) -> list[str]:
    """Check a whole meeting definition (the import format in docs/import.md).

    :return: every error found, each naming its sheet and row; empty when the definition is good.
    """
    check = _Checker([])
    if not isinstance(data, dict):
        return ["文件内容不是一个会议定义"]
    if not _text(data.get("title")):
        check.add("会议", "缺少会议名称")
    elif len(_text(data.get("title"))) > 200:
        check.add("会议", "会议名称超过 200 字")
    expected = _int(data.get("expected"))
    if expected is None or expected <= 0:
        check.add("会议", "应到人数应为正整数")
    if data.get("date"):
        try:
            date.fromisoformat(_text(data.get("date"))[:10])
        except ValueError:
            check.add("会议", f"日期「{_text(data.get('date'))}」格式应为 2026-12-01")
    values = data.get("level_values")
    if values is not None:
        ints = [_int(v) for v in values] if isinstance(values, list) else []
        if len(ints) != 4 or any(v is None or not 0 <= v <= 100 for v in ints) or ints != sorted(ints, reverse=True):
            check.add("会议", "分值应为 4 个 0–100 的整数，从高到低，如 100,80,60,40")

    categories = data.get("categories") or []
    if not isinstance(categories, list) or not categories:
        check.add("测评人员类别", "至少需要一个类别")
        categories = []
    seen_codes: set[str] = set()
    for i, item in enumerate(categories, start=1):
        place = check.where("测评人员类别", item, i)
        if not isinstance(item, dict):
            check.add(place, "格式不正确")
            continue
        code = _text(item.get("code"))
        if not code or len(code) > 8:
            check.add(place, "代码应为 1–8 个字符，如 A")
        elif code.upper() in seen_codes:
            check.add(place, f"代码「{code}」重复")
        seen_codes.add(code.upper())
        if not _text(item.get("name")):
            check.add(place, "缺少类别名称")
        weight = _weight(item.get("weight"))
        if weight is None or not 0 < weight <= 100:
            check.add(place, f"权重「{_text(item.get('weight'))}」应为 0–100 之间的数")
    if categories and not check.errors:
        total = sum(_weight(c.get("weight")) for c in categories)
        if total != 100:
            check.add("测评人员类别", f"权重合计应为 100%，现为 {total}%")

    targets = data.get("targets") or []
    if not isinstance(targets, list) or not targets:
        check.add("测评对象", "至少需要一个测评对象")
        targets = []
    for i, item in enumerate(targets, start=1):
        place = check.where("测评对象", item, i)
        if not isinstance(item, dict):
            check.add(place, "格式不正确")
            continue
        kind = item.get("kind")
        if kind not in (TEAM, PERSON):
            check.add(place, f"类型「{_text(kind)}」应为 班子 或 个人")
        if not _text(item.get("unit")):
            check.add(place, "缺少单位")
        if kind == PERSON and not _text(item.get("name")):
            check.add(place, "个人测评对象缺少姓名")
        if not isinstance(item.get("principal", False), bool):
            check.add(place, "主要负责人应填 是 或 否")
        for field, limit in (("unit", 100), ("name", 100), ("title", 100)):
            if len(_text(item.get(field))) > limit:
                check.add(place, f"内容超过 {limit} 字")

    rounds = data.get("rounds") or []
    if not isinstance(rounds, list):
        check.add("轮次", "格式不正确")
        rounds = []
    kinds_present = {t.get("kind") for t in targets if isinstance(t, dict)}
    for i, item in enumerate(rounds, start=1):
        place = check.where("轮次", item, i)
        if not isinstance(item, dict):
            check.add(place, "格式不正确")
            continue
        if not _text(item.get("title")):
            check.add(place, "缺少轮次名称")
        scope = item.get("targets", "all")
        if scope not in ROUND_SCOPES:
            check.add(place, f"测评对象「{_text(scope)}」应为 班子、个人 或 全部")
        elif scope != "all" and scope not in kinds_present and not check.errors:
            check.add(place, f"没有类型为「{ROUND_SCOPES[scope]}」的测评对象")
    return check.errors


def import_definition(data: Any, actor: str) -> Meeting:
    """Create a whole meeting from a definition, or nothing at all.

    :raises DefinitionError: listing every error; the database is left untouched.
    """
    errors = validate_definition(data)
    if errors:
        raise DefinitionError(errors)
    values = data.get("level_values") or [100, 80, 60, 40]
    meeting = Meeting(
        title=_text(data["title"]),
        held_on=date.fromisoformat(_text(data["date"])[:10]) if data.get("date") else None,
        place=_text(data.get("place")),
        expected_count=_int(data["expected"]),
        value_0=_int(values[0]),
        value_1=_int(values[1]),
        value_2=_int(values[2]),
        value_3=_int(values[3]),
        abstain_as_zero=bool(data.get("abstain_as_zero", False)),
    )
    for i, item in enumerate(data["categories"]):
        meeting.categories.append(
            VoterCategory(code=_text(item["code"]).upper(), name=_text(item["name"]), weight=_weight(item["weight"]), position=i)
        )
    for i, item in enumerate(data["targets"]):
        meeting.targets.append(
            Target(
                kind=item["kind"],
                unit=_text(item["unit"]),
                name=_text(item.get("name")) if item["kind"] == PERSON else "",
                title=_text(item.get("title")),
                is_principal=bool(item.get("principal", False)),
                position=i,
            )
        )
    rounds = data.get("rounds") or [{"title": "民主测评", "targets": "all"}]
    for i, item in enumerate(rounds):
        round_ = Round(title=_text(item["title"]), position=i)
        scope = item.get("targets", "all")
        chosen = [t for t in meeting.targets if scope == "all" or t.kind == scope]
        round_.round_targets = [RoundTarget(target=t, position=j) for j, t in enumerate(chosen)]
        meeting.rounds.append(round_)
    db.session.add(meeting)
    db.session.flush()
    audit.log(actor, "meeting.import", meeting.id, categories=len(meeting.categories), targets=len(meeting.targets), rounds=len(meeting.rounds))
    db.session.commit()
    return meeting


def create_meeting(*, title: str, held_on: date | None, place: str, expected_count: int, actor: str) -> Meeting:
    meeting = Meeting(title=title.strip(), held_on=held_on, place=(place or "").strip(), expected_count=expected_count)
    db.session.add(meeting)
    db.session.flush()
    audit.log(actor, "meeting.create", meeting.id, title=meeting.title)
    db.session.commit()
    return meeting


def add_category(meeting: Meeting, *, code: str, name: str, weight: Decimal, actor: str) -> VoterCategory:
    """:raises StateError: when the code is taken or slips have been printed (weights would
    change under ballots already cast)."""
    code = code.strip().upper()
    if any(c.code == code for c in meeting.categories):
        raise StateError(f"类别代码「{code}」已存在")
    _refuse_after_voting(meeting, "增加类别")
    category = VoterCategory(code=code, name=name.strip(), weight=weight, position=len(meeting.categories))
    meeting.categories.append(category)
    db.session.flush()
    audit.log(actor, "category.add", meeting.id, code=code, name=category.name, weight=str(weight))
    db.session.commit()
    return category


def add_target(meeting: Meeting, *, kind: str, unit: str, name: str, title: str, is_principal: bool, actor: str) -> Target:
    """Add a target to the meeting and to every draft round whose scope takes its kind.

    :raises StateError: once a round has opened (a ballot must not change under voters), or
        for a leader without a name.
    """
    _refuse_after_voting(meeting, "增加测评对象")
    if kind not in (TEAM, PERSON):
        raise StateError("类型应为 班子 或 个人")
    if kind == PERSON and not name.strip():
        raise StateError("个人测评对象须填写姓名")
    target = Target(
        kind=kind,
        unit=unit.strip(),
        name=name.strip() if kind == PERSON else "",
        title=title.strip(),
        is_principal=is_principal,
        position=len(meeting.targets),
    )
    meeting.targets.append(target)
    db.session.flush()
    audit.log(actor, "target.add", meeting.id, target_id=target.id, unit=target.unit, name=target.name)
    db.session.commit()
    return target


def add_round(meeting: Meeting, *, title: str, scope: str, actor: str) -> Round:
    """A new draft round over the meeting's targets of ``scope`` (team / person / all)."""
    if scope not in ROUND_SCOPES:
        raise StateError("测评对象范围应为 班子、个人 或 全部")
    chosen = [t for t in meeting.targets if scope == "all" or t.kind == scope]
    if not chosen:
        raise StateError("没有符合范围的测评对象，请先添加测评对象")
    round_ = Round(title=title.strip(), position=len(meeting.rounds))
    round_.round_targets = [RoundTarget(target=t, position=j) for j, t in enumerate(chosen)]
    meeting.rounds.append(round_)
    db.session.flush()
    audit.log(actor, "round.add", meeting.id, round_id=round_.id, title=round_.title, targets=len(chosen))
    db.session.commit()
    return round_


def _refuse_after_voting(meeting: Meeting, what: str) -> None:
    if any(r.state is not RoundState.DRAFT for r in meeting.rounds):
        raise StateError(f"已有轮次开始投票，不能再{what}")


def set_present(meeting: Meeting, present: int | None, actor: str) -> None:
    """Record 实到 from check-in (签到); None goes back to counting slips handed out (R19)."""
    if present is not None and not 0 <= present <= 100000:
        raise StateError("实到人数不正确")
    meeting.present_count = present
    audit.log(actor, "meeting.present", meeting.id, present=present)
    db.session.commit()


def issued_count(meeting: Meeting) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Slip).where(Slip.meeting_id == meeting.id, Slip.voided_dt.is_(None))
    )


def present_count(meeting: Meeting) -> int:
    """实到: entered at check-in, or the slips handed out (R19, R20)."""
    return meeting.present_count if meeting.present_count is not None else issued_count(meeting)


def quorum_met(meeting: Meeting) -> bool:
    """R20: 实到 must *exceed* the configured share of 应到."""
    return Fraction(present_count(meeting)) > meeting.quorum * meeting.expected_count


def open_round(round_: Round, actor: str) -> None:
    """Draft → open, only with a quorum (R20) and while no other round of the meeting is open
    (rounds run one after another).

    :raises StateError: with the reason, e.g. 未达到法定人数.
    """
    meeting = round_.meeting
    running = next((r for r in meeting.rounds if r.state is RoundState.OPEN and r.id != round_.id), None)
    if running is not None:
        # One round at a time: a phone shows "the" open round, a hall follows one count.
        raise StateError(f"「{running.title}」正在投票，请先结束该轮再开始下一轮")
    if not quorum_met(meeting):
        raise StateError(
            f"未达到法定人数：实到 {present_count(meeting)} 人，须超过应到 {meeting.expected_count} 人的 "
            f"{meeting.quorum_num}/{meeting.quorum_den}"
        )
    round_.open()  # checks the state and the targets; sets opened_dt
    _commit_transition(round_, Round.opened_dt.is_(None), {"opened_dt": round_.opened_dt}, actor, "round.open")


def close_round(round_: Round, actor: str) -> None:
    """Open → closed. From the commit on, no cast succeeds (the cast's locking read of the
    round sees ``closed_dt``). Then the storage order of ballots is erased (R23, services.secrecy).

    :raises StateError: when the round is not open.
    """
    round_.close()
    _commit_transition(
        round_, Round.opened_dt.isnot(None) & Round.closed_dt.is_(None), {"closed_dt": round_.closed_dt}, actor, "round.close"
    )
    secrecy.erase_arrival_order(round_.id)


def publish_round(round_: Round, actor: str, *, show_on_phones: bool = False) -> None:
    """Closed → published (R24); optionally let phones show the result too.

    :raises StateError: before the close, or when already published.
    """
    round_.publish()
    _commit_transition(
        round_,
        Round.closed_dt.isnot(None) & Round.published_dt.is_(None),
        {"published_dt": round_.published_dt, "show_on_phones": bool(show_on_phones)},
        actor,
        "round.publish",
        show_on_phones=bool(show_on_phones),
    )


def set_result_mode(round_: Round, mode: str, actor: str) -> None:
    """Hidden (default) or 随投随显示 for the display (R24), until the round closes.

    :raises StateError: for an unknown mode or a closed round.
    """
    round_.set_result_mode(mode)
    audit.log(actor, "round.result_mode", round_.meeting_id, round_id=round_.id, mode=mode)
    db.session.commit()


def new_display_link(meeting: Meeting, actor: str) -> None:
    """Replace the display's link (if it was shared too widely); the old one stops working."""
    meeting.display_token = new_display_token()
    audit.log(actor, "meeting.display_link", meeting.id)
    db.session.commit()


def _commit_transition(round_: Round, guard, values: dict, actor: str, action: str, **detail) -> None:
    # The model method checked the state we loaded; the conditional UPDATE re-checks it in
    # the database, so two organizers clicking at once cannot both succeed.
    db.session.expire(round_, list(values))  # the UPDATE below, not the ORM, writes them
    result = db.session.execute(update(Round).where(Round.id == round_.id, guard).values(**values))
    if result.rowcount != 1:
        db.session.rollback()
        raise StateError("轮次状态已被他人更改，请刷新页面")
    audit.log(actor, action, round_.meeting_id, round_id=round_.id, title=round_.title, **detail)
    db.session.commit()


ASSESSMENT_FIELDS = (
    "year",
    "principal_target_pct",
    "member_target_pct",
    "grade_basic",
    "grade_qualified",
    "reward_per_point",
    "reward_basic_pct",
    "reward_lump_excellent",
    "reward_lump_top",
    "majority_required",
)


def set_assessment_settings(meeting: Meeting, actor: str, **values) -> None:
    """Weights (R1), grade thresholds (R2), rewards (R5), the majority rule (R22) and the year.

    :raises StateError: for weights outside 0–100, thresholds out of order, or the majority
        rule changed while a 差额票决 round is open or counted (it would change its winners).
    """
    unknown = set(values) - set(ASSESSMENT_FIELDS)
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    for key in ("principal_target_pct", "member_target_pct", "reward_basic_pct"):
        if key in values and not 0 <= int(values[key]) <= 100:
            raise StateError("百分比应在 0–100 之间")
    basic = int(values.get("grade_basic", meeting.grade_basic))
    qualified = int(values.get("grade_qualified", meeting.grade_qualified))
    if not 0 < basic < qualified <= 100:
        raise StateError("等次分数线应满足 0 < 基本达标线 < 达标线 ≤ 100")
    if "majority_required" in values and bool(values["majority_required"]) != meeting.majority_required:
        if any(r.is_selection and r.state is not RoundState.DRAFT for r in meeting.rounds):
            raise StateError("差额票决已开始，不能再更改过半数规则")
    for key, value in values.items():
        setattr(meeting, key, value)
    audit.log(actor, "meeting.assessment_settings", meeting.id, **{k: str(v) for k, v in values.items()})
    db.session.commit()
