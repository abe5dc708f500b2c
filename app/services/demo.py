"""A realistic demo meeting for the README's first command."""

from __future__ import annotations

from datetime import date

from .meetings import import_definition
from . import slips as slip_service, units

DEMO_UNITS = [
    ("区发展和改革局", [("王建国", "局长", True), ("李红梅", "副局长", False)]),
    ("区财政局", [("陈志强", "局长", True), ("赵晓燕", "副局长", False)]),
    ("区教育局", [("刘海波", "局长", True), ("孙丽华", "副局长", False)]),
    ("区卫生健康局", [("周文斌", "局长", True), ("吴静", "副局长", False)]),
    ("城关街道", [("郑国华", "党工委书记", True), ("何晓东", "办事处主任", True), ("马丽", "党工委副书记", False)]),
    ("河东镇", [("黄志明", "党委书记", True), ("林小红", "镇长", True), ("徐峰", "副镇长", False)]),
]


def demo_definition() -> dict:
    targets = []
    for unit, leaders in DEMO_UNITS:
        targets.append({"kind": "team", "unit": unit, "name": "", "title": "", "principal": True})
        for name, title, principal in leaders:
            targets.append({"kind": "person", "unit": unit, "name": name, "title": title, "principal": principal})
    return {
        "title": f"{date.today().year}年度区直部门和街道镇领导班子及领导干部民主测评大会",
        "date": date.today().isoformat(),
        "place": "区行政中心第一会议室",
        "expected": 90,
        "categories": [
            {"code": "A", "name": "领导班子成员", "weight": 30},
            {"code": "B", "name": "中层干部", "weight": 40},
            {"code": "C", "name": "一般干部·服务对象", "weight": 30},
        ],
        "targets": targets,
        "rounds": [
            {"title": "领导班子民主测评", "targets": "team"},
            {"title": "领导干部民主测评", "targets": "person"},
        ],
    }


#: 综合目标考核 of the demo units (R2: one vetoed, one 基本达标).
DEMO_SCORES = {
    "区发展和改革局": (96.5, "部门组", 42, ""),
    "区财政局": (94.0, "部门组", 38, ""),
    "区教育局": (92.5, "部门组", 55, ""),
    "区卫生健康局": (88.0, "部门组", 47, ""),
    "城关街道": (95.0, "乡镇组", 66, ""),
    "河东镇": (93.0, "乡镇组", 58, "安全生产"),
}


def seed_demo(slips_per_category: int = 30, actor: str = "demo"):
    """Create the demo meeting with slips for every category and its units; returns it."""
    meeting = import_definition(demo_definition(), actor)
    for category in meeting.categories:
        slip_service.issue(meeting, category, slips_per_category, actor)
    rows = [
        {"name": name, "group": group, "target_score": score, "vetoed": bool(veto), "veto_reason": veto, "staff": staff}
        for name, (score, group, staff, veto) in DEMO_SCORES.items()
    ]
    units.import_units(meeting, rows, actor)
    return meeting
