"""What a round makes public once its results are published (R24, R25, issue 5).

Two things, kept apart on purpose — never on one page, never in one file:

- the **receipt list** (回执码公示): every receipt code of the round, in code order. An attendee
  finds the code the phone showed after casting and so sees the ballot was counted. A receipt
  says *that*, never *what* (models.Receipt holds no link to a ballot);
- the **anonymous ballots** (匿名选票): every ballot's contents with no receipt, no slip, no time,
  in the order of the ballots' random ids — unrelated to the order of casting and to the
  receipt list — as CSV for people and as JSON for ``flask recount`` (services.recount), which
  recomputes every published figure from the file alone.

Both exist only after publication: before it, nothing of the result leaves the server (R24).

The JSON document (``ballots_document``; format ``ceping-ballots/1``)::

    {
      "format": "ceping-ballots/1",
      "meeting":    {id, title, place, date, level_values [4 ints, best first],
                     abstain_as_zero, majority_required, rehearsal},
      "round":      {id, title, kind ("evaluation" | "selection"), seats (K or null),
                     group, top_caps {"team": n | null, "person": n | null}, published_at},
      "categories": [{code, name, weight (percent, as text)}],
      "targets":    [{id, kind, unit, name, title, levels [4 labels, or ["同意"]]}]   (ballot order),
      "items":      [{id, kind, type ("dimension" | "reverse" | "intent"), label,
                      weight (text or null)}]   (per kind and type, in ballot order),
      "ballots":    [ballot, …],
      "ballots_sha256": hex SHA-256 of canonical_json(ballots),
      "published":  the published figures: results.report_as_dict (测评) or
                    selection.selection_report_dict (差额票决), exactly as the API gives them
    }

A ballot is shaped like the body of a cast through the API (``POST /api/v1/ballot/…``):
``{"number": n (its place in this file), "category": code, "valid": bool, "paper": bool,
"marks": {"<target id>": level 0–3}, "items": {"<target id>": {"dimensions": {"<item id>":
level}, "reverse": [item ids], "intent": item id}}}`` for 测评 (an unmarked target is 弃权, an
empty part is left out), ``{…, "choices": [target ids]}`` for 差额票决. An invalid ballot (废票)
carries no marks: only the fact that it was cast is kept (R11).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from ..core.scales import level_labels
from ..extensions import db
from ..models import (
    DIMENSION,
    INTENT,
    REVERSE,
    Ballot,
    BallotItem,
    BallotItemMark,
    BallotMark,
    Receipt,
    Round,
    RoundState,
    Slip,
    VoterCategory,
)
from .exports import round_figures
from .voting import VotingError

FORMAT = "ceping-ballots/1"
SELECTION_LEVELS = ("同意",)


class NotPublished(VotingError):
    """The round's results are not published yet: no receipts, no ballots (R24)."""

    status, reason = 409, "not_published"


def require_published(round_: Round, what: str = "回执码和匿名选票") -> None:
    """:raises NotPublished: before the chair publishes the round's results."""
    if round_.state is not RoundState.PUBLISHED:
        raise NotPublished(f"本轮结果公布后才能查看{what}")


def published_round_of(slip: Slip, round_id: int, what: str = "回执码和匿名选票") -> Round:
    """A published round of the slip's meeting: the slip code is the credential, as for voting.

    :raises VotingError: 404 for a round of another meeting (or none), NotPublished before
        publication.
    """
    round_ = db.session.get(Round, round_id)
    if round_ is None or round_.meeting_id != slip.meeting_id:
        raise VotingError("没有这个投票轮次", status=404, reason="unknown_round")
    require_published(round_, what)
    return round_


def published_rounds(slip: Slip) -> list[Round]:
    """The slip's meeting's published rounds, in meeting order: the slip's page links their
    receipt lists and ballots."""
    return list(
        db.session.scalars(
            select(Round).where(Round.meeting_id == slip.meeting_id, Round.published_dt.isnot(None)).order_by(Round.position)
        )
    )


# --- the receipt list ------------------------------------------------------------------------


def normalize_receipt(text: str) -> str:
    """A typed receipt as stored: spaces and dashes dropped, upper case ("abcd efgh" → "ABCDEFGH")."""
    return "".join(ch for ch in (text or "") if not ch.isspace() and ch not in "-－").upper()


def receipt_text(code: str) -> str:
    """A receipt as the phone showed it: two groups of four."""
    return f"{code[:4]} {code[4:]}"


@dataclass(frozen=True)
class ReceiptList:
    meeting_title: str
    round_id: int
    round_title: str
    codes: tuple[str, ...]  # sorted by code
    paper: int  # 纸质录入: ballots without a receipt (§6)
    returned: int  # 收回 (R19)
    query: str  # the typed receipt, normalized ("" when none)

    @property
    def count(self) -> int:
        return len(self.codes)

    @property
    def found(self) -> bool | None:
        """Whether the typed receipt is on the list; None when nothing was typed."""
        return (self.query in self.codes) if self.query else None

    @property
    def summary(self) -> str:
        return f"共 {self.count} 个回执码；纸质录入 {self.paper} 张无回执码"

    @property
    def problem(self) -> str | None:
        """Receipts + paper ballots must make 收回; say so when they do not."""
        if self.count + self.paper != self.returned:
            return f"回执码 {self.count} 个 + 纸质录入 {self.paper} 张 ≠ 收回 {self.returned} 张，请联系工作人员核查"
        return None


def receipt_list(round_: Round, query: str = "") -> ReceiptList:
    """All receipt codes of a published round, sorted by code, and whether ``query`` is one.

    :raises NotPublished: before publication.
    """
    from .results import round_counts

    require_published(round_)
    codes = tuple(sorted(db.session.scalars(select(Receipt.code).where(Receipt.round_id == round_.id))))
    counts = round_counts(round_)
    return ReceiptList(
        meeting_title=round_.meeting.title,
        round_id=round_.id,
        round_title=round_.title,
        codes=codes,
        paper=counts.paper,
        returned=counts.returned,
        query=normalize_receipt(query)[:32],
    )


# --- the anonymous ballots -------------------------------------------------------------------


def canonical_json(value) -> bytes:
    """The bytes ``ballots_sha256`` is taken of: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def ballots_sha256(ballots: list) -> str:
    return hashlib.sha256(canonical_json(ballots)).hexdigest()


def _items_of(round_: Round) -> list[BallotItem]:
    return list(
        db.session.scalars(
            select(BallotItem).where(BallotItem.round_id == round_.id).order_by(BallotItem.kind, BallotItem.item_type, BallotItem.position)
        )
    )


def _anonymous_ballots(round_: Round, items: list[BallotItem]) -> list[dict]:
    """The round's ballots in the order of their random ids (R23: unrelated to the order of
    casting, and there is nothing to relate them to the receipts), numbered from 1."""
    codes = dict(
        db.session.execute(select(VoterCategory.id, VoterCategory.code).where(VoterCategory.meeting_id == round_.meeting_id)).all()
    )
    rows = db.session.execute(
        select(Ballot.id, Ballot.category_id, Ballot.is_valid, Ballot.is_paper).where(Ballot.round_id == round_.id)
    ).all()
    marks: dict[str, dict[int, int]] = defaultdict(dict)
    for ballot_id, target_id, level in db.session.execute(
        select(BallotMark.ballot_id, BallotMark.target_id, BallotMark.level)
        .join(Ballot, Ballot.id == BallotMark.ballot_id)
        .where(Ballot.round_id == round_.id)
    ):
        marks[ballot_id][target_id] = level
    answers: dict[str, dict[int, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    if items:
        for ballot_id, target_id, item_id, level in db.session.execute(
            select(BallotItemMark.ballot_id, BallotItemMark.target_id, BallotItemMark.item_id, BallotItemMark.level)
            .join(Ballot, Ballot.id == BallotItemMark.ballot_id)
            .where(Ballot.round_id == round_.id)
        ):
            answers[ballot_id][target_id][item_id] = level
    order = [rt.target_id for rt in round_.round_targets]
    item_order = {item.id: (i, item) for i, item in enumerate(items)}
    out = []
    for number, (ballot_id, category_id, is_valid, is_paper) in enumerate(sorted(rows, key=lambda r: r[0]), start=1):
        entry: dict = {"number": number, "category": codes[category_id], "valid": bool(is_valid), "paper": bool(is_paper)}
        mine = marks.get(ballot_id, {})
        if round_.is_selection:
            entry["choices"] = [t for t in order if t in mine]
        else:
            entry["marks"] = {str(t): mine[t] for t in order if t in mine}
            entry["items"] = {str(t): _answers(answers[ballot_id][t], item_order) for t in order if t in answers.get(ballot_id, {})}
        out.append(entry)
    return out


def _answers(marks: dict[int, int], item_order: dict[int, tuple[int, BallotItem]]) -> dict:
    """One target's item marks in the API's shape, parts in ballot order, empty parts left out."""
    dimensions: dict[str, int] = {}
    reverse: list[int] = []
    intent = None
    for item_id in sorted(marks, key=lambda i: item_order[i][0]):
        item = item_order[item_id][1]
        if item.item_type == DIMENSION:
            dimensions[str(item_id)] = marks[item_id]
        elif item.item_type == REVERSE:
            reverse.append(item_id)
        elif item.item_type == INTENT:
            intent = item_id
    out: dict = {}
    if dimensions:
        out["dimensions"] = dimensions
    if reverse:
        out["reverse"] = reverse
    if intent is not None:
        out["intent"] = intent
    return out


def ballots_document(round_: Round) -> dict:
    """Everything a recount needs, and nothing that names a voter (see the module docstring).

    :raises NotPublished: before publication.
    """
    require_published(round_)
    meeting = round_.meeting
    items = [] if round_.is_selection else _items_of(round_)
    ballots = _anonymous_ballots(round_, items)
    return {
        "format": FORMAT,
        "about": "匿名选票：不含回执码、测评码和投票时间，按选票随机编号排列，与投票先后及回执码公示的顺序无关。"
        "ballots_sha256 为 ballots 部分按键排序、无空格的 UTF-8 JSON 的 SHA-256。用 flask recount 可据此文件复核全部公布结果。",
        "meeting": {
            "id": meeting.id,
            "title": meeting.title,
            "place": meeting.place or "",
            "date": meeting.held_on.isoformat() if meeting.held_on else "",
            "level_values": list(meeting.level_values),
            "abstain_as_zero": bool(meeting.abstain_as_zero),
            "majority_required": bool(meeting.majority_required),
            "rehearsal": bool(meeting.rehearsal),
        },
        "round": {
            "id": round_.id,
            "title": round_.title,
            "kind": round_.kind,
            "seats": round_.seats if round_.is_selection else None,
            "group": round_.group_name or "",
            "top_caps": {"team": round_.top_cap_team, "person": round_.top_cap_person},
            "published_at": round_.published_dt.isoformat() + "Z" if round_.published_dt else None,
        },
        "categories": [{"code": c.code, "name": c.name, "weight": str(c.weight)} for c in meeting.categories],
        "targets": [
            {
                "id": t.id,
                "kind": t.kind,
                "unit": t.unit,
                "name": t.unit if round_.is_selection else t.display_name,
                "title": t.title,
                "levels": list(SELECTION_LEVELS if round_.is_selection else level_labels(t.kind)),
            }
            for t in round_.targets
        ],
        "items": [
            {"id": i.id, "kind": i.kind, "type": i.item_type, "label": i.label, "weight": None if i.weight is None else str(i.weight)}
            for i in items
        ],
        "ballots": ballots,
        "ballots_sha256": ballots_sha256(ballots),
        "published": round_figures(round_),
    }


def ballots_json(round_: Round) -> bytes:
    """The document as indented JSON with one ballot per line (readable, and a diff of two
    files shows changed ballots line by line).

    :raises NotPublished: before publication.
    """
    parts = []
    for key, value in ballots_document(round_).items():
        if key == "ballots":
            text = "[\n" + ",\n".join("    " + json.dumps(b, ensure_ascii=False) for b in value) + "\n  ]" if value else "[]"
        else:
            text = json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n  ")
        parts.append(f"  {json.dumps(key)}: {text}")
    return ("{\n" + ",\n".join(parts) + "\n}\n").encode("utf-8")


def ballots_csv(round_: Round) -> bytes:
    """The same ballots, one row each, for Excel/WPS: UTF-8 with a BOM, CRLF, text cells made
    formula-safe. Columns: 序号, 类别, 有效, 纸质录入, then per target its overall grade (差额票决:
    同意) followed by its items — a column per dimension (the level), per 逆向测评 option (√)
    and one for the 使用意向 (the chosen option).

    :raises NotPublished: before publication.
    """
    from .spreadsheets import safe_text

    document = ballots_document(round_)
    targets = document["targets"]
    items_by_kind: dict[str, list[dict]] = defaultdict(list)
    for item in document["items"]:
        items_by_kind[item["kind"]].append(item)
    header = ["序号", "类别", "有效", "纸质录入"]
    for t in targets:
        who = t["name"] if t["kind"] == "team" or not t["unit"] else f"{t['name']}（{t['unit']}）"
        header.append(who)
        asked = items_by_kind.get(t["kind"], [])
        header += [f"{who}·{i['label']}" for i in asked if i["type"] == DIMENSION]
        header += [f"{who}·逆向测评：{i['label']}" for i in asked if i["type"] == REVERSE]
        if any(i["type"] == INTENT for i in asked):
            header.append(f"{who}·使用意向")
    labels = {i["id"]: i["label"] for i in document["items"]}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_text(h) for h in header])
    for ballot in document["ballots"]:
        row = [ballot["number"], ballot["category"], "是" if ballot["valid"] else "否", "是" if ballot["paper"] else "否"]
        for t in targets:
            if "choices" in ballot:
                row.append("同意" if t["id"] in ballot["choices"] else "")
                continue
            level = ballot["marks"].get(str(t["id"]))
            row.append("" if level is None else t["levels"][level])
            answers = ballot["items"].get(str(t["id"]), {})
            asked = items_by_kind.get(t["kind"], [])
            dimensions = answers.get("dimensions", {})
            for i in asked:
                if i["type"] == DIMENSION:
                    value = dimensions.get(str(i["id"]))
                    row.append("" if value is None else t["levels"][value])
            for i in asked:
                if i["type"] == REVERSE:
                    row.append("√" if i["id"] in answers.get("reverse", ()) else "")
            if any(i["type"] == INTENT for i in asked):
                row.append(labels.get(answers.get("intent"), ""))
        writer.writerow([safe_text(cell) for cell in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def ballots_filename(round_: Round, fmt: str) -> str:
    return f"匿名选票-{round_.meeting_id}-{round_.id}.{fmt}"
