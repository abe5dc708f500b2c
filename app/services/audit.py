"""The audit log of organizer actions (R25): who, what, when — and how to read it.

Every service that changes a meeting, a round, slips, units or accounts writes one entry in
the transaction of the change. Refused attempts (a role the permission table does not allow)
are written too. Voters' actions never are, and neither is a paper ballot entered by staff: an
entry per ballot would pair a moment (and an organizer) with a slip's use (R23).

The log page, its CSV and its XLSX read one function, ``rows_of()``, so they cannot differ.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..core.scales import KIND_LABELS
from ..core.times import local, zone_name
from ..extensions import db
from ..models import RESULT_MODES, AuditEntry, Meeting, Round
from ..models.organizer import ROLE_LABELS

#: Action code → what an organizer reads. A code missing here is shown as it is.
ACTION_LABELS = {
    "meeting.create": "新建会议",
    "meeting.import": "导入会议",
    "meeting.present": "录入实到人数（签到）",
    "meeting.display_link": "更换大屏链接",
    "meeting.assessment_settings": "修改考核设置",
    "category.add": "添加测评人员类别",
    "target.add": "添加测评对象",
    "round.add": "添加轮次",
    "round.open": "开始投票",
    "round.close": "结束投票",
    "round.publish": "公布结果",
    "round.result_mode": "设置大屏显示方式",
    "round.items": "设置选票内容",
    "slips.issue": "生成测评码",
    "slips.print": "打印测评码",
    "slip.void": "作废测评码",
    "units.import": "导入单位名单",
    "unit.save": "保存单位",
    "group.settings": "设置分组名额",
    "selection.create": "创建差额票决轮次",
    "selection.runoff": "发起再次投票",
    "history.archive": "归档本年度结果",
    "meeting.rehearsal_start": "开始模拟测试",
    "meeting.rehearsal_purge": "清除模拟投票",
    "meeting.archive_export": "导出会议档案",
    "meeting.archive_import": "导入会议档案",
    "organizer.login": "登录",
    "organizer.save": "保存管理员账号（命令行）",  # written by create-admin before accounts had roles
    "user.create": "新建用户",
    "user.role": "更改用户角色",
    "user.password": "重置用户密码",
    "user.disable": "停用用户",
    "permission.denied": "越权操作被拒绝",
}

#: Detail key → its Chinese name on the page and in the exports.
DETAIL_LABELS = {
    "title": "名称",
    "categories": "类别数",
    "targets": "对象数",
    "rounds": "轮次数",
    "code": "代码",
    "name": "名称",
    "weight": "权重",
    "target_id": "对象编号",
    "unit": "单位",
    "round_id": "轮次编号",
    "present": "实到人数",
    "mode": "大屏显示",
    "show_on_phones": "手机上显示结果",
    "category": "类别",
    "count": "张数",
    "slip_id": "测评码编号",
    "reason": "原因",
    "replaced": "补发新码",
    "units": "单位数",
    "group": "分组",
    "places": "候选名额",
    "seats": "应选名额",
    "target_score": "目标考核得分",
    "vetoed": "一票否决",
    "candidates": "候选",
    "from_tie": "含并列选择",
    "of": "原轮次编号",
    "year": "年度",
    "records": "条数",
    "kind": "对象类型",
    "dimensions": "测评维度",
    "reverse": "逆向测评",
    "intent": "使用意向",
    "top_cap": "最高等次限额",
    "ballots": "选票数",
    "rounds_reset": "重置轮次数",
    "runoffs_removed": "删除再次投票轮次数",
    "username": "用户名",
    "role": "角色",
    "previous": "原角色",
    "endpoint": "请求",
    "method": "方法",
    "path": "地址",
    "principal_target_pct": "班子及主要负责人目标考核占比",
    "member_target_pct": "其他班子成员目标考核占比",
    "grade_basic": "基本达标线",
    "grade_qualified": "达标线",
    "reward_per_point": "人均每分奖励标准",
    "reward_basic_pct": "基本达标奖励比例",
    "reward_lump_excellent": "优秀一次性奖励",
    "reward_lump_top": "特优一次性奖励",
    "majority_required": "须超过实到半数",
}

EXPORT_HEADERS = ("时间", "操作人", "操作", "操作代码", "会议编号", "会议", "详情")
PER_PAGE = 50


def log(actor: str, action: str, meeting_id: int | None = None, **detail) -> AuditEntry:
    """Add an entry to the current transaction; it commits with the action it records, so the
    log can neither miss an action nor record one that was rolled back."""
    entry = AuditEntry(actor=actor, action=action, meeting_id=meeting_id, detail=detail)
    db.session.add(entry)
    return entry


def log_refusal(actor: str, role: str | None, endpoint: str | None, method: str, path: str, view_args: dict) -> AuditEntry:
    """Record a request the permission table refused, and commit it at once (nothing else
    happens in that request). The meeting is found from the URL's meeting or round id, when
    it exists, so the meeting's own log shows the attempt."""
    meeting_id = None
    if isinstance(view_args.get("meeting_id"), int) and db.session.get(Meeting, view_args["meeting_id"]) is not None:
        meeting_id = view_args["meeting_id"]
    elif isinstance(view_args.get("round_id"), int):
        round_ = db.session.get(Round, view_args["round_id"])
        meeting_id = round_.meeting_id if round_ is not None else None
    entry = log(actor, "permission.denied", meeting_id, endpoint=endpoint, method=method, path=path, role=role)
    db.session.commit()
    return entry


@dataclass(frozen=True)
class AuditRow:
    """One entry as people read it."""

    id: int
    when: str  # local time, see app/core/times.py
    actor: str
    action: str  # the code, e.g. round.open
    action_label: str
    meeting_id: int | None
    meeting_title: str
    detail: str

    def cells(self) -> tuple:
        """The export's columns (EXPORT_HEADERS)."""
        return (self.when, self.actor, self.action_label, self.action, self.meeting_id, self.meeting_title, self.detail)


@dataclass(frozen=True)
class AuditPage:
    rows: tuple[AuditRow, ...]
    page: int
    pages: int
    total: int

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def _value_text(key: str, value: Any) -> str:
    if key in ("role", "previous"):
        return ROLE_LABELS.get(value, str(value))
    if key == "mode":
        return RESULT_MODES.get(value, str(value))
    if key == "kind":
        return KIND_LABELS.get(value, str(value))
    if key == "present" and value is None:
        return "按已发出测评码计"
    # Settings are stored as text (str(True) …): read those the same way as real booleans.
    if value is True or value == "True":
        return "是"
    if value is False or value == "False":
        return "否"
    if value is None or value == "None" or value == "":
        return "—"
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value) or "—"
    return str(value)


def detail_text(detail: dict | None) -> str:
    """``{"round_id": 3, "title": "第一轮"}`` → ``轮次编号：3；名称：第一轮``."""
    return "；".join(f"{DETAIL_LABELS.get(key, key)}：{_value_text(key, value)}" for key, value in (detail or {}).items())


def _rows(entries: Sequence[AuditEntry]) -> tuple[AuditRow, ...]:
    ids = {e.meeting_id for e in entries if e.meeting_id is not None}
    titles = dict(db.session.execute(select(Meeting.id, Meeting.title).where(Meeting.id.in_(ids))).all()) if ids else {}
    return tuple(
        AuditRow(
            id=e.id,
            when=local(e.created_dt).strftime("%Y-%m-%d %H:%M:%S"),
            actor=e.actor,
            action=e.action,
            action_label=action_label(e.action),
            meeting_id=e.meeting_id,
            meeting_title=titles.get(e.meeting_id, ""),
            detail=detail_text(e.detail),
        )
        for e in entries
    )


def _query(meeting_id: int | None):
    # Newest first by id: ids follow commit order, where two timestamps may be equal.
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if meeting_id is not None:
        query = query.where(AuditEntry.meeting_id == meeting_id)
    return query


def page_of(meeting_id: int | None, page: int, per_page: int = PER_PAGE) -> AuditPage:
    """One page of the log, newest first: one meeting's, or every entry (``None``).

    A page number past the end gives an empty last page rather than an error.
    """
    page = max(page, 1)
    result = db.paginate(_query(meeting_id), page=page, per_page=per_page, error_out=False, count=True)
    return AuditPage(rows=_rows(result.items), page=page, pages=max(result.pages, 1), total=result.total or 0)


def rows_of(meeting_id: int | None) -> tuple[AuditRow, ...]:
    """Every entry of the log (one meeting's, or all), newest first — for the exports."""
    return _rows(db.session.scalars(_query(meeting_id)).all())


def time_header() -> str:
    return f"时间（{zone_name()}）"


def audit_csv(rows: Iterable[AuditRow]) -> bytes:
    """The log as CSV: UTF-8 with a BOM (Excel and WPS take a file without one for the local
    code page and garble the Chinese), CRLF line ends, every text cell through ``safe_text``
    (a cell starting with = + - @ would run as a formula)."""
    from .spreadsheets import safe_text

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow((time_header(), *EXPORT_HEADERS[1:]))
    for row in rows:
        writer.writerow(["" if cell is None else safe_text(cell) for cell in row.cells()])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def audit_xlsx(rows: Iterable[AuditRow], title: str) -> bytes:
    """The log as one worksheet, with ``title`` above the table; every text cell through
    ``safe_text``."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    from .spreadsheets import safe_text

    workbook = Workbook()
    ws = workbook.active
    ws.title = "操作日志"
    ws.cell(row=1, column=1, value=safe_text(title)).font = Font(bold=True, size=13)
    for column, (header, width) in enumerate(zip((time_header(), *EXPORT_HEADERS[1:]), (20, 14, 22, 22, 10, 36, 70)), start=1):
        ws.cell(row=2, column=column, value=header).font = Font(bold=True)
        ws.column_dimensions[chr(ord("A") + column - 1)].width = width
    for index, row in enumerate(rows, start=3):
        for column, value in enumerate(row.cells(), start=1):
            ws.cell(row=index, column=column, value=safe_text(value)).alignment = Alignment(vertical="top", wrap_text=column == 7)
    ws.freeze_panes = "A3"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
