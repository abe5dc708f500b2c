"""What a 测评 round asks besides the overall grade (R8, R9, R15, R18): dimension items with
optional weights, 逆向测评 options, 使用意向 options, and the cap on top-level grades.

Set per round and per target kind while the round is a draft; fixed once it opens, because
ballots already cast answer exactly those items. ``ballot_spec()`` is what a cast checks
against: it is read once per opened round and kept in memory (an open round's ballot cannot
change), which saves the hot path two queries per ballot.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from ..core.scales import KIND_LABELS, PERSON, TEAM, level_labels, plain_number
from ..extensions import PerEngine, db
from ..models import DIMENSION, INTENT, REVERSE, BallotItem, Round, RoundRef, RoundState, RoundTarget, StateError, Target
from . import audit

LABEL_MAX = 50

#: R15 presets: name → dimension lines for each kind ("label weight").
DIMENSION_PRESETS: dict[str, tuple[str, dict[str, tuple[tuple[str, int | None], ...]]]] = {
    "none": ("不设测评维度（只评总体评价）", {TEAM: (), PERSON: ()}),
    "dnqjl_weighted": (
        "德能勤绩廉（加权 15/10/30/30/15，按维度计分）",
        {
            TEAM: (("思想政治建设", None), ("领导水平", None), ("工作实绩", None), ("完成重点任务", None), ("反腐倡廉", None)),
            PERSON: (("德", 15), ("能", 10), ("勤", 30), ("绩", 30), ("廉", 15)),
        },
    ),
    "dnqjl": (
        "德能勤绩廉（不加权，仅作参考）",
        {
            TEAM: (("思想政治建设", None), ("领导水平", None), ("工作实绩", None), ("完成重点任务", None), ("反腐倡廉", None)),
            PERSON: (("德", None), ("能", None), ("勤", None), ("绩", None), ("廉", None)),
        },
    ),
    "seven": (
        "七项（思想政治素质、组织领导能力……人品道德）",
        {
            TEAM: (("思想政治建设", None), ("领导水平", None), ("工作实绩", None), ("完成重点任务", None), ("反腐倡廉", None)),
            PERSON: tuple(
                (label, None)
                for label in ("思想政治素质", "组织领导能力", "工作作风", "工作实绩", "廉洁自律", "团结协作", "人品道德")
            ),
        },
    ),
}

#: R9: the default 逆向测评 lists (DOMAIN §3).
DEFAULT_REVERSE = {
    TEAM: ("团结协作不好", "选人用人不公", "工作作风不实", "依法行政较差", "决策不够民主", "廉洁自律不好", "开拓创新较差"),
    PERSON: ("政策理论水平低", "民主意识不强", "协作不好", "工作作风不实", "创新能力弱", "廉洁自律较差"),
}
#: R18: the default 使用意向 options (individuals only).
DEFAULT_INTENT = ("提拔", "继任", "改非", "降职")


@dataclass(frozen=True)
class ItemSpec:
    id: int
    label: str
    weight: Decimal | None = None


@dataclass(frozen=True)
class KindItems:
    """The items one target kind is asked in a round."""

    kind: str
    dimensions: tuple[ItemSpec, ...] = ()
    reverse: tuple[ItemSpec, ...] = ()
    intent: tuple[ItemSpec, ...] = ()
    top_cap: int | None = None

    @property
    def weighted(self) -> bool:
        return any(d.weight for d in self.dimensions)

    @property
    def is_plain(self) -> bool:
        return not (self.dimensions or self.reverse or self.intent or self.top_cap)

    @property
    def top_label(self) -> str:
        return level_labels(self.kind)[0]


@dataclass(frozen=True)
class BallotSpec:
    """Everything a cast is checked against: the targets on the ballot with their kind, and
    per kind the items and the cap."""

    round_id: int
    is_selection: bool
    seats: int
    target_kinds: dict[int, str]
    kinds: dict[str, KindItems]
    item_ids: frozenset[int]

    def items_for(self, kind: str) -> KindItems:
        return self.kinds.get(kind) or KindItems(kind)

    @functools.cached_property
    def target_keys(self) -> dict[int | str, int]:
        """Target id → itself, and its decimal string → it: how a ballot names its targets
        (JSON object keys are strings), looked up in one step (services.voting)."""
        keys: dict[int | str, int] = {}
        for target_id in self.target_kinds:
            keys[target_id] = keys[str(target_id)] = target_id
        return keys

    @property
    def has_items(self) -> bool:
        return any(not k.is_plain for k in self.kinds.values())


#: Per database engine, the specs of opened rounds, keyed by the round and its opening time.
_CACHE: PerEngine[dict] = PerEngine(dict)
_CACHE_LOCK = threading.Lock()


def ballot_spec(round_: Round | RoundRef) -> BallotSpec:
    """The round's ballot as plain data. Cached once the round has opened (its ballot can no
    longer change): keyed by the database, the round and its opening time to the microsecond,
    so a round reopened after a rehearsal purge is read afresh."""
    key = (round_.id, round_.opened_dt)
    cacheable = round_.opened_dt is not None
    if cacheable:
        found = _CACHE.get().get(key)
        if found is not None:
            return found
    if not isinstance(round_, Round):  # the cast's plain row: the whole round, once per round
        round_ = db.session.get(Round, round_.id)
    target_kinds = dict(
        db.session.execute(
            select(RoundTarget.target_id, Target.kind).join(Target, Target.id == RoundTarget.target_id).where(RoundTarget.round_id == round_.id)
        ).all()
    )
    rows = db.session.scalars(
        select(BallotItem).where(BallotItem.round_id == round_.id).order_by(BallotItem.kind, BallotItem.item_type, BallotItem.position)
    ).all()
    kinds = {}
    for kind in (TEAM, PERSON):
        of = [r for r in rows if r.kind == kind]
        kinds[kind] = KindItems(
            kind,
            dimensions=tuple(ItemSpec(r.id, r.label, r.weight) for r in of if r.item_type == DIMENSION),
            reverse=tuple(ItemSpec(r.id, r.label) for r in of if r.item_type == REVERSE),
            intent=tuple(ItemSpec(r.id, r.label) for r in of if r.item_type == INTENT),
            top_cap=round_.top_cap(kind),
        )
    spec = BallotSpec(
        round_id=round_.id,
        is_selection=round_.is_selection,
        seats=round_.seats or 0,
        target_kinds=target_kinds,
        kinds=kinds,
        item_ids=frozenset(r.id for r in rows),
    )
    if cacheable:
        with _CACHE_LOCK:
            specs = _CACHE.get()
            if len(specs) > 256:  # a process sees few rounds; never grow without bound
                specs.clear()
            specs[key] = spec
    return spec


def parse_dimension_lines(text: str) -> tuple[list[tuple[str, Decimal | None]], list[str]]:
    """Dimension lines as typed: one per line, ``名称`` or ``名称 权重`` (德 15, 德：15).

    :return: ``(items, errors)``; errors name the line.
    """
    items: list[tuple[str, Decimal | None]] = []
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = re.fullmatch(r"(.+?)(?:[\s:：,，]+([0-9]+(?:\.[0-9]+)?)%?)?", line)
        label, weight_text = (match.group(1).strip(), match.group(2)) if match else (line, None)
        weight = None
        if weight_text is not None:
            try:
                weight = Decimal(weight_text)
            except InvalidOperation:
                errors.append(f"第 {number} 行：权重应为数字")
                continue
        items.append((label, weight))
    return items, errors


def parse_option_lines(text: str) -> list[str]:
    """逆向测评 / 使用意向 options: one per line, or separated by 、 , ，"""
    return [part.strip() for part in re.split(r"[\n\r、,，;；]+", text) if part.strip()]


def set_round_items(round_: Round, per_kind: dict[str, dict], actor: str) -> None:
    """Replace what the round asks targets of each given kind (R9, R15, R18) and their
    top-level caps, all kinds at once or nothing.

    :param per_kind: kind → ``dict(dimensions=[(label, weight or None)], reverse=[labels],
        intent=[labels], top_cap=int or None)``.
    :raises StateError: with every problem in Chinese, when the round is not a draft or the
        input is wrong; nothing is changed then.
    """
    problems = [p for kind, values in per_kind.items() for p in _check_kind_items(round_, kind, **values)]
    if problems:
        raise StateError("；".join(dict.fromkeys(problems)))
    for item in [i for i in round_.items if i.kind in per_kind]:
        round_.items.remove(item)
    db.session.flush()  # the unique label constraint sees the old rows gone
    for kind, values in per_kind.items():
        for position, (label, weight) in enumerate(values["dimensions"]):
            round_.items.append(BallotItem(kind=kind, item_type=DIMENSION, label=label, weight=weight, position=position))
        for position, label in enumerate(values["reverse"]):
            round_.items.append(BallotItem(kind=kind, item_type=REVERSE, label=label, position=position))
        for position, label in enumerate(values["intent"]):
            round_.items.append(BallotItem(kind=kind, item_type=INTENT, label=label, position=position))
        if kind == TEAM:
            round_.top_cap_team = values["top_cap"]
        else:
            round_.top_cap_person = values["top_cap"]
        audit.log(
            actor,
            "round.items",
            round_.meeting_id,
            round_id=round_.id,
            kind=kind,
            dimensions=[label if weight is None else f"{label} {plain_number(weight)}" for label, weight in values["dimensions"]],
            reverse=list(values["reverse"]),
            intent=list(values["intent"]),
            top_cap=values["top_cap"],
        )
    db.session.commit()


def set_kind_items(
    round_: Round,
    kind: str,
    *,
    dimensions: list[tuple[str, Decimal | None]],
    reverse: list[str],
    intent: list[str],
    top_cap: int | None,
    actor: str,
) -> None:
    """``set_round_items`` for one kind."""
    set_round_items(round_, {kind: dict(dimensions=dimensions, reverse=reverse, intent=intent, top_cap=top_cap)}, actor)


def _check_kind_items(round_, kind, *, dimensions, reverse, intent, top_cap) -> list[str]:
    if round_.is_selection:
        return ["差额票决轮次只有“同意”一项，不设测评维度"]
    if round_.state is not RoundState.DRAFT:
        return [f"本轮{round_.state_label}，选票内容已不能修改"]
    if kind not in (TEAM, PERSON):
        return ["对象类别不正确"]
    what = KIND_LABELS[kind]
    problems: list[str] = []
    for name, labels in (("测评维度", [label for label, _ in dimensions]), ("逆向测评", reverse), ("使用意向", intent)):
        seen: set[str] = set()
        for label in labels:
            if len(label) > LABEL_MAX:
                problems.append(f"{what}{name}“{label[:10]}…”超过 {LABEL_MAX} 个字")
            if label in seen:
                problems.append(f"{what}{name}“{label}”重复")
            seen.add(label)
    weights = [w for _, w in dimensions]
    if any(w is not None for w in weights):
        if any(w is None for w in weights):
            problems.append(f"{what}测评维度要么都填权重，要么都不填")
        elif sum(weights) <= 0:
            problems.append(f"{what}测评维度权重之和应大于 0")
        elif any(w > 1000 for w in weights):
            problems.append(f"{what}测评维度权重不能超过 1000")
    if len(intent) == 1:
        problems.append(f"{what}使用意向至少要有两个选项")
    if top_cap is not None:
        count = sum(1 for rt in round_.round_targets if rt.target.kind == kind)
        top = level_labels(kind)[0]
        if top_cap < 1:
            problems.append(f"每票“{top}”的上限至少为 1")
        elif count and top_cap >= count:
            problems.append(f"每票“{top}”的上限应小于本轮{what}数 {count}，否则不起作用")
    return problems
