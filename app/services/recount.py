"""Recount a round from its anonymous ballots file alone (R25, issue 5): ``flask recount FILE``.

Reads the JSON that services.publication writes and reads nothing else — no database. The
figures are rebuilt from the ballots with the same code the app counts with
(``services.results.assemble_report``, the arithmetic of the published figures, for 测评;
``core.selection.tally`` / ``decide`` / ``resolve_chain`` for 差额票决) and put in the same shape as the published figures:

- 测评: a ``RoundReport`` is assembled here from the core's scores and handed to the very
  ``results.report_as_dict`` that produced the published part, so formatting (2 decimals half
  up, bands, percentages, flags, notes, the printed rules) cannot differ between the two;
- 差额票决: the round's counts, votes, 得票率, ranks and results (``selection.CandidateRow``
  formats the shares), the final results of the chain (earlier or later rounds of a runoff
  chain enter with their published votes: their ballots are in their own files) and the
  tally digest of the 报告单.

What the ballots cannot tell — 应到, 实到, 发出, the titles, dates and states — is taken from the
published part. Every difference is reported in Chinese ("张三 折合分：公布 87.70，复核 86.90"),
and so are a ballots part whose SHA-256 differs from the one recorded, and ballots that break
the round's rules (an unknown target or item, a level off the scale, a valid ballot over the
cap or over K).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ..core import selection as core_selection
from ..core.scales import LEVEL_COUNT, PERSON, TEAM, level_labels
from ..core.scoring import RoundCounts, ScoringPolicy
from ..models.items import DIMENSION, INTENT, REVERSE
from .publication import FORMAT, ballots_sha256



class RecountError(Exception):
    """The file cannot be recounted at all (not JSON, not a ballots file); ``str()`` says why."""


@dataclass(frozen=True)
class Recount:
    title: str  # 会议「轮次」
    summary: str  # what was recounted, for the 复核一致 line
    differences: tuple[str, ...]  # empty when everything agrees

    @property
    def ok(self) -> bool:
        return not self.differences


def read_document(data: bytes) -> dict:
    """:raises RecountError: for a file that is not a ballots file of this format."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RecountError(f"不是有效的 JSON 文件：{error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise RecountError(f"不是匿名选票文件（应为 {FORMAT} 格式，由“匿名选票 JSON”下载得到）")
    return document


def recount(document: dict) -> Recount:
    """Recount every published figure of the file's round from its ballots.

    :raises RecountError: when a part the recount needs is missing or malformed.
    """
    try:
        meeting, round_ = document["meeting"], document["round"]
        title = f"{meeting['title']}「{round_['title']}」"
        differences: list[str] = []
        recorded = document.get("ballots_sha256")
        actual = ballots_sha256(document["ballots"])
        if recorded != actual:
            differences.append(f"选票摘要（SHA-256）不符：文件记载 {recorded}，按选票计算 {actual}——选票在导出后被改动过")
        if round_["kind"] == "selection":
            summary = _recount_selection(document, differences)
        else:
            summary = _recount_evaluation(document, differences)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, InvalidOperation) as error:
        raise RecountError(f"文件内容不完整或格式不正确，无法复核（{type(error).__name__}: {error}）") from None
    return Recount(title, summary, tuple(differences))


# --- reading the ballots --------------------------------------------------------------------


@dataclass
class _Ballots:
    """The file's ballots as counts: what both kinds of round need."""

    returned: int = 0
    valid: int = 0
    invalid: int = 0
    paper: int = 0


def _level(raw, levels: int, where: str, problems: list[str]) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw < levels:
        problems.append(f"{where}：等次 {raw!r} 不在量表上")
        return None
    return raw


def _read_counts(ballots: list, problems: list[str]) -> _Ballots:
    seen = _Ballots()
    for number, ballot in enumerate(ballots, start=1):
        if ballot.get("number") != number:
            problems.append(f"第 {number} 张选票的序号记为 {ballot.get('number')!r}")
        seen.returned += 1
        if ballot["valid"]:
            seen.valid += 1
        else:
            seen.invalid += 1
        if ballot["paper"]:
            seen.paper += 1
    return seen


def _counts(published: dict, seen: _Ballots) -> RoundCounts:
    """R19 counts: 应到/实到/发出 as published (the ballots cannot tell them), the rest recounted."""
    return RoundCounts(
        expected=published["expected"],
        present=published["present"],
        issued=published["issued"],
        returned=seen.returned,
        valid=seen.valid,
        invalid=seen.invalid,
        paper=seen.paper,
    )


def _counts_dict(counts: RoundCounts) -> dict:
    return {
        "expected": counts.expected,
        "present": counts.present,
        "issued": counts.issued,
        "returned": counts.returned,
        "valid": counts.valid,
        "invalid": counts.invalid,
        "paper": counts.paper,
    }


# --- 测评 -------------------------------------------------------------------------------------


def _recount_evaluation(document: dict, out: list[str]) -> str:
    from .results import CategoryInfo, ItemInfo, ReportHeading, TargetInfo, assemble_report, report_as_dict

    meeting, round_, published = document["meeting"], document["round"], document["published"]
    categories = document["categories"]
    codes = [c["code"] for c in categories]
    targets = document["targets"]
    kinds = {t["id"]: t["kind"] for t in targets}
    items = document["items"]
    item_by_id = {i["id"]: i for i in items}
    caps = round_.get("top_caps") or {}

    problems: list[str] = []
    seen = _read_counts(document["ballots"], problems)
    ballots_by_cat: dict[str, int] = defaultdict(int)
    marks: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0] * LEVEL_COUNT))
    item_counts: dict[int, dict[int, dict[str, list[int]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: [0] * LEVEL_COUNT)))
    for ballot in document["ballots"]:
        where = f"第 {ballot['number']} 张选票"
        clean, answers = _read_evaluation_ballot(ballot, where, kinds, item_by_id, problems)
        if not ballot["valid"]:
            if clean or answers:
                problems.append(f"{where}：记为无效票，却有评价内容（废票不保留内容）")
            continue
        if ballot["category"] not in codes:
            problems.append(f"{where}：没有类别 {ballot['category']!r}，未计入得分")
            continue
        for kind in (TEAM, PERSON):
            cap = caps.get(kind)
            top = sum(1 for t, lv in clean.items() if lv == 0 and kinds[t] == kind)
            if cap is not None and top > cap:
                problems.append(f"{where}：“{level_labels(kind)[0]}”{top} 个，超过每票上限 {cap} 个，应为废票")
        cat = ballot["category"]
        ballots_by_cat[cat] += 1
        for target_id, level in clean.items():
            marks[target_id][cat][level] += 1
        for (target_id, item_id), level in answers.items():
            item_counts[target_id][item_id][cat][level] += 1

    counts = _counts(published["counts"], seen)
    heading = ReportHeading(
        meeting_id=meeting["id"],
        meeting_title=meeting["title"],
        meeting_place=meeting.get("place", ""),
        meeting_date=meeting.get("date", ""),
        round_id=round_["id"],
        round_title=round_["title"],
        round_state="published",
        round_state_label="已公布",
        rehearsal=bool(meeting.get("rehearsal")),
    )
    # The same arithmetic as the published figures (services.results.assemble_report), fed
    # from this file's ballots instead of the database.
    report = assemble_report(
        heading,
        policy=ScoringPolicy(values=tuple(meeting["level_values"]), abstain_as_zero=bool(meeting["abstain_as_zero"])),
        categories=[(c["code"], CategoryInfo(c["code"], c["name"], Decimal(c["weight"]))) for c in categories],
        targets=[TargetInfo(t["id"], t["kind"], t["unit"], t["name"], t["title"]) for t in targets],
        items=[ItemInfo(i["id"], i["kind"], i["type"], i["label"], None if i["weight"] is None else Decimal(i["weight"])) for i in items],
        ballots_by_cat=dict(ballots_by_cat),
        marks=marks,
        item_counts=item_counts,
        counts=counts,
    )
    out.extend(problems)
    _diff_report(published, report_as_dict(report), out)
    parts = "票数、得分、等次、排名、比例" + ("、分项、逆向测评、使用意向" if items else "")
    return (
        f"收回 {counts.returned} 张（有效 {counts.valid}，无效 {counts.invalid}，其中纸质录入 {counts.paper}）；"
        f"{len(targets)} 个测评对象的{parts}与公布结果相同"
    )


def _read_evaluation_ballot(ballot: dict, where: str, kinds: dict, item_by_id: dict, problems: list[str]):
    """A ballot's marks and item answers, checked against the round; what breaks a rule is
    reported and left out."""
    clean: dict[int, int] = {}
    for raw_target, raw_level in ballot.get("marks", {}).items():
        target_id = _target(raw_target, kinds, where, problems)
        if target_id is None:
            continue
        level = _level(raw_level, LEVEL_COUNT, f"{where}", problems)
        if level is not None:
            clean[target_id] = level
    answers: dict[tuple[int, int], int] = {}
    for raw_target, parts in ballot.get("items", {}).items():
        target_id = _target(raw_target, kinds, where, problems)
        if target_id is None:
            continue

        def asked(raw_item, item_type):
            item_id = int(raw_item) if isinstance(raw_item, str) and raw_item.isdigit() else raw_item
            item = item_by_id.get(item_id)
            if item is None or item["type"] != item_type or item["kind"] != kinds[target_id]:
                problems.append(f"{where}：选票上没有测评项目 {raw_item!r}")
                return None
            return item_id

        for raw_item, raw_level in (parts.get("dimensions") or {}).items():
            item_id = asked(raw_item, DIMENSION)
            level = _level(raw_level, LEVEL_COUNT, where, problems) if item_id is not None else None
            if level is not None:
                answers[(target_id, item_id)] = level
        for raw_item in parts.get("reverse") or []:
            item_id = asked(raw_item, REVERSE)
            if item_id is not None:
                answers[(target_id, item_id)] = 0
        if parts.get("intent") is not None:
            item_id = asked(parts["intent"], INTENT)
            if item_id is not None:
                answers[(target_id, item_id)] = 0
    return clean, answers


def _target(raw, kinds: dict, where: str, problems: list[str]) -> int | None:
    target_id = int(raw) if isinstance(raw, str) and raw.isdigit() else raw
    if target_id not in kinds:
        problems.append(f"{where}：选票上没有测评对象 {raw!r}")
        return None
    return target_id


# --- 差额票决 ----------------------------------------------------------------------------------


def _recount_selection(document: dict, out: list[str]) -> str:
    from .selection import CandidateRow

    meeting, round_, published = document["meeting"], document["round"], document["published"]
    round_id, seats = round_["id"], round_["seats"]
    order = [t["id"] for t in document["targets"]]
    units = {t["id"]: t["unit"] for t in document["targets"]}
    problems: list[str] = []
    seen = _read_counts(document["ballots"], problems)
    chosen: list[list[int]] = []
    for ballot in document["ballots"]:
        where = f"第 {ballot['number']} 张选票"
        choices = ballot.get("choices", [])
        if not ballot["valid"]:
            if choices:
                problems.append(f"{where}：记为无效票，却有选择内容（废票不保留内容）")
            continue
        unknown = [c for c in choices if c not in units]
        if unknown:
            problems.append(f"{where}：选票上没有候选 {'、'.join(map(str, unknown))}，未计入")
        mine = [c for c in choices if c in units]
        if not core_selection.is_valid_choice(mine, order, seats):
            problems.append(f"{where}：选了 {len(mine)} 名（或重复选择），超过应选 {seats} 名，应为废票")
        chosen.append(list(dict.fromkeys(mine)))

    rounds = published["rounds"]
    mine_published = next((r for r in rounds if r.get("id") == round_id), None)
    if mine_published is None:
        out.extend(problems)
        out.append(f"公布结果中没有本轮（编号 {round_id}）的计票结果")
        return ""
    counts = _counts(mine_published["counts"], seen)
    majority_of = counts.present if meeting.get("majority_required") else None
    outcome = core_selection.decide(core_selection.tally(chosen, order), order, seats, counts.valid, majority_of=majority_of)
    rows = [
        CandidateRow(i, units[c.key], c.votes, c.share, c.rank, c.status, c.status_label)
        for i, c in enumerate(outcome.candidates, start=1)
    ]
    recounted = {
        "seats": seats,
        "counts": _counts_dict(counts),
        "candidates": [
            {"number": r.number, "unit": r.unit, "votes": r.votes, "share": r.share_text, "rank": r.rank, "result": r.status_label}
            for r in rows
        ],
        "open_seats": outcome.open_seats,
    }
    out.extend(problems)
    _diff_counts(mine_published.get("counts"), recounted["counts"], out)
    _same(out, "应选名额", mine_published.get("seats"), seats)
    _diff_candidates(mine_published.get("candidates"), recounted["candidates"], out)
    _same(out, "尚未产生的名额", mine_published.get("open_seats"), recounted["open_seats"])
    _diff_final_and_digest(published, round_id, recounted, outcome, units, bool(meeting.get("majority_required")), out)
    return (
        f"收回 {counts.returned} 张（有效 {counts.valid}，无效 {counts.invalid}，其中纸质录入 {counts.paper}）；"
        f"{len(order)} 名候选的得票、得票率、排名和结果与公布结果相同，计票摘要相符"
    )


def _diff_candidates(published, recounted: list[dict], out: list[str]) -> None:
    by_unit = {c.get("unit"): c for c in published or [] if isinstance(c, dict)}
    for c in recounted:
        p = by_unit.pop(c["unit"], None)
        if p is None:
            out.append(f"{c['unit']}：公布结果中没有此候选")
            continue
        for key, label in (("number", "序号"), ("votes", "得票"), ("share", "得票率"), ("rank", "排名"), ("result", "结果")):
            _same(out, f"{c['unit']} {label}", p.get(key, _MISSING), c[key])
    for unit in by_unit:
        out.append(f"公布结果中多出候选：{unit}")


def _diff_final_and_digest(
    published: dict, round_id: int, recounted: dict, outcome, units: dict, majority_required: bool, out: list[str]
) -> None:
    """The chain's final results and the 报告单's digest, with this round's figures recounted
    and the other rounds' as published (their ballots are in their own files)."""
    outcomes = []
    tally_rounds = []
    for r in published["rounds"]:
        if r.get("id") == round_id:
            by_unit = core_selection.SelectionOutcome(
                outcome.seats, outcome.valid, tuple(_keyed(c, units[c.key]) for c in outcome.candidates)
            )
            outcomes.append(by_unit)
            counts, votes = recounted["counts"], [[c["unit"], c["votes"]] for c in recounted["candidates"]]
        else:
            counts, votes = r["counts"], [[c["unit"], c["votes"]] for c in r["candidates"]]
            majority_of = counts["present"] if majority_required else None
            order = [u for u, _ in votes]
            outcomes.append(core_selection.decide(dict(votes), order, r["seats"], counts["valid"], majority_of=majority_of))
        tally_rounds.append(
            {
                "round": r["title"],
                "seats": r["seats"],
                "counts": [counts[k] for k in ("expected", "present", "issued", "returned", "valid", "invalid")],
                "votes": votes,
            }
        )
    try:
        statuses = core_selection.resolve_chain(outcomes)
    except ValueError as error:
        out.append(f"各轮结果相互矛盾：{error}")
        statuses = {}
    for entry in published.get("final") or []:
        unit = entry.get("unit")
        label = core_selection.STATUS_LABELS[statuses[unit]] if unit in statuses else "未计票"
        _same(out, f"{unit} 最终结果", entry.get("result"), label)
    digests = {
        core_selection.tally_digest(published["meeting"]["title"], group, tally_rounds)
        for group in dict.fromkeys((published.get("group"), published.get("group") or None))
    }
    if published.get("digest") not in digests:
        out.append(f"计票摘要（SHA-256）：公布 {published.get('digest')}，复核 {min(digests)}")


def _keyed(candidate, unit: str):
    from dataclasses import replace

    return replace(candidate, key=unit)


# --- comparing -------------------------------------------------------------------------------


class _Missing:
    def __repr__(self) -> str:
        return "（缺）"


_MISSING = _Missing()


def _show(value) -> str:
    if value is _MISSING:
        return "（缺）"
    if value is None:
        return "—"
    if value is True:
        return "是"
    if value is False:
        return "否"
    if isinstance(value, list):
        return "、".join(_show(v) for v in value) if value else "（无）"
    return str(value)


def _same(out: list[str], label: str, published, recounted) -> bool:
    if published == recounted and type(published) is type(recounted):
        return True
    out.append(f"{label}：公布 {_show(published)}，复核 {_show(recounted)}")
    return False


def _at(values, index: int):
    return values[index] if isinstance(values, list) and index < len(values) else _MISSING


COUNT_LABELS = {
    "expected": "应到",
    "present": "实到",
    "issued": "发出",
    "returned": "收回",
    "valid": "有效",
    "invalid": "无效",
    "paper": "纸质录入",
}


def _diff_counts(published, recounted: dict, out: list[str]) -> None:
    published = published if isinstance(published, dict) else {}
    for key, label in COUNT_LABELS.items():
        _same(out, label, published.get(key, _MISSING), recounted[key])


_REPORT_HANDLED = {"counts", "categories", "level_values", "abstain_as_zero", "targets", "rules", "problems"}
#: Not in the ballots: titles, dates, states, 模拟 — taken as published.
_REPORT_UNCOUNTABLE = {"meeting", "round", "rehearsal"}


def _diff_report(published: dict, recounted: dict, out: list[str]) -> None:
    """Every figure of ``report_as_dict``, with a Chinese label for each difference."""
    _diff_counts(published.get("counts"), recounted["counts"], out)
    _same(out, "类别及权重", published.get("categories", _MISSING), recounted["categories"])
    _same(out, "等次分值", published.get("level_values", _MISSING), recounted["level_values"])
    _same(out, "弃权按 0 分计", published.get("abstain_as_zero", _MISSING), recounted["abstain_as_zero"])
    by_id = {t.get("id"): t for t in published.get("targets") or [] if isinstance(t, dict)}
    for r in recounted["targets"]:
        p = by_id.pop(r["id"], None)
        if p is None:
            out.append(f"{r['name']}：公布结果中没有此测评对象")
            continue
        _diff_target(p, r, out)
    for p in by_id.values():
        out.append(f"公布结果中多出测评对象：{p.get('name')}")
    _same(out, "计分规则", published.get("rules", _MISSING), recounted["rules"])
    _same(out, "计票问题", published.get("problems", _MISSING), recounted["problems"])
    for key in sorted((set(published) | set(recounted)) - _REPORT_HANDLED - _REPORT_UNCOUNTABLE):
        _same(out, key, published.get(key, _MISSING), recounted.get(key, _MISSING))


_TARGET_FIELDS = (
    ("number", "序号"),
    ("kind", "对象类别"),
    ("unit", "单位"),
    ("name", "姓名"),
    ("title", "职务"),
    ("levels", "等次名称"),
    ("abstained", "弃权票数"),
    ("marked", "作出评价票数"),
    ("score", "折合分"),
    ("band", "等次"),
    ("rank", "排名"),
    ("excellent_rate", "{0}率"),
    ("approval_rate", "{1}及以上率"),
    ("flags", "标记"),
    ("notes", "备注"),
    ("weighted_by_dimensions", "按分项计分"),
)
_TARGET_HANDLED = {key for key, _ in _TARGET_FIELDS} | {"id", "counts", "score_exact", "categories", "dimensions", "reverse", "intent"}


def _diff_target(p: dict, r: dict, out: list[str]) -> None:
    name, levels = r["name"], r["levels"]
    for j, level in enumerate(levels):
        _same(out, f"{name} {level}票数", _at(p.get("counts"), j), r["counts"][j])
    for key, label in _TARGET_FIELDS:
        same = _same(out, f"{name} {label.format(*levels)}", p.get(key, _MISSING), r[key])
        if key == "score" and same:  # the exact value only when the shown one agrees: no noise
            _same(out, f"{name} 折合分（精确值）", p.get("score_exact", _MISSING), r["score_exact"])
    for k, rc in enumerate(r["categories"]):
        pc = _at(p.get("categories"), k)
        pc = pc if isinstance(pc, dict) else {}
        code = rc["code"]
        _same(out, f"{name} 类别代码", pc.get("code", _MISSING), code)
        for j, level in enumerate(levels):
            _same(out, f"{name} {code}类{level}票数", _at(pc.get("counts"), j), rc["counts"][j])
        _same(out, f"{name} {code}类弃权票数", pc.get("abstained", _MISSING), rc["abstained"])
        _same(out, f"{name} {code}类得分", pc.get("score", _MISSING), rc["score"])
    if len(p.get("categories") or []) != len(r["categories"]):
        out.append(f"{name} 类别数：公布 {len(p.get('categories') or [])}，复核 {len(r['categories'])}")
    for d, rd in enumerate(r["dimensions"]):
        pd = _at(p.get("dimensions"), d)
        pd = pd if isinstance(pd, dict) else {}
        what = f"{name} {rd['label']}"
        _same(out, f"{what} 名称", pd.get("label", _MISSING), rd["label"])
        _same(out, f"{what} 权重", pd.get("weight", _MISSING), rd["weight"])
        for j, level in enumerate(levels):
            _same(out, f"{what} {level}票数", _at(pd.get("counts"), j), rd["counts"][j])
        _same(out, f"{what} 弃权票数", pd.get("abstained", _MISSING), rd["abstained"])
        if _same(out, f"{what} 得分", pd.get("score", _MISSING), rd["score"]):
            _same(out, f"{what} 得分（精确值）", pd.get("score_exact", _MISSING), rd["score_exact"])
        _same(out, f"{what} 等次", pd.get("band", _MISSING), rd["band"])
    if len(p.get("dimensions") or []) != len(r["dimensions"]):
        out.append(f"{name} 测评维度数：公布 {len(p.get('dimensions') or [])}，复核 {len(r['dimensions'])}")
    for part, part_label in (("reverse", "逆向测评"), ("intent", "使用意向")):
        for i, ri in enumerate(r[part]):
            pi = _at(p.get(part), i)
            pi = pi if isinstance(pi, dict) else {}
            what = f"{name} {part_label}“{ri['label']}”"
            _same(out, f"{what} 名称", pi.get("label", _MISSING), ri["label"])
            _same(out, f"{what} 票数", pi.get("count", _MISSING), ri["count"])
            _same(out, f"{what} 比例", pi.get("rate", _MISSING), ri["rate"])
        if len(p.get(part) or []) != len(r[part]):
            out.append(f"{name} {part_label}选项数：公布 {len(p.get(part) or [])}，复核 {len(r[part])}")
    for key in sorted((set(p) | set(r)) - _TARGET_HANDLED):
        _same(out, f"{name} {key}", p.get(key, _MISSING), r.get(key, _MISSING))
