"""What a phone shows for a slip: its status, and the ballot as plain data (one source for
the form pages and the JSON API)."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Round, RoundState, Slip
from .items import KindItems, ballot_spec
from .voting import rounds_for


@dataclass(frozen=True)
class TargetView:
    id: int
    kind: str
    kind_label: str
    name: str
    unit: str
    title: str
    levels: tuple[str, str, str, str]
    asked: KindItems | None = None  # the round's items for this target's kind (R9, R15, R18)


@dataclass(frozen=True)
class BallotView:
    round_id: int
    round_title: str
    meeting_title: str
    targets: tuple[TargetView, ...]
    is_selection: bool = False
    seats: int = 0  # K, for a 差额票决 ballot
    has_items: bool = False  # a long ballot: dimensions, 逆向测评 or 使用意向 per target
    caps: tuple[KindItems, ...] = ()  # the kinds whose top level is capped per ballot
    rehearsal: bool = False  # 模拟测试: say so on every phone


SELECTION_LEVELS = ("同意",)


def ballot_view(round_: Round) -> BallotView:
    spec = ballot_spec(round_)
    if round_.is_selection:
        targets = tuple(TargetView(t.id, t.kind, "候选单位", t.unit, t.unit, "", SELECTION_LEVELS) for t in round_.targets)
    else:
        targets = tuple(
            TargetView(t.id, t.kind, t.kind_label, t.display_name, t.unit, t.title, t.levels, spec.items_for(t.kind))
            for t in round_.targets
        )
    kinds = {t.kind for t in targets}
    return BallotView(
        has_items=not round_.is_selection and spec.has_items,
        caps=tuple(k for k in spec.kinds.values() if k.top_cap and k.kind in kinds),
        rehearsal=round_.meeting.rehearsal,
        round_id=round_.id,
        round_title=round_.title,
        meeting_title=round_.meeting.title,
        targets=targets,
        is_selection=round_.is_selection,
        seats=round_.seats or 0,
    )


@dataclass(frozen=True)
class SlipStatus:
    ballot_round: Round | None  # the open round this slip can still vote in
    title: str
    message: str
    waiting: bool  # something may change soon: the page should follow it
    shown_round: Round | None = None  # a published round the chair lets phones show (R24)

    @property
    def key(self) -> str:
        """Changes whenever the page should change: phones poll it (``/v/<code>/state.json``)."""
        ballot = self.ballot_round.id if self.ballot_round else ""
        shown = self.shown_round.id if self.shown_round else ""
        return f"{ballot}|{self.title}|{self.message}|{shown}"


def slip_status(slip: Slip) -> SlipStatus:
    """Decide what the slip's page shows: the first open round it has not voted in; else
    已投票，等待下一轮; else 等待投票开始; else 投票已全部结束 — with the latest published
    result the chair allowed on phones."""
    rounds = rounds_for(slip)
    for item in rounds:
        if item.round.state is RoundState.OPEN and not item.has_voted:
            return SlipStatus(item.round, "", "", False)
    shown = next((i.round for i in reversed(rounds) if i.round.state is RoundState.PUBLISHED and i.round.show_on_phones), None)
    if any(item.round.state is RoundState.OPEN for item in rounds):
        return SlipStatus(None, "已投票", "已投票，等待下一轮。本页会自动刷新，无需重新扫码。", True, shown)
    if any(item.round.state is RoundState.DRAFT for item in rounds):
        return SlipStatus(None, "等待投票开始", "等待投票开始。主持人宣布开始后，本页会自动显示选票，无需重新扫码。", True, shown)
    if any(item.round.state is RoundState.CLOSED for item in rounds):
        return SlipStatus(None, "投票已结束", "投票已结束，等待主持人公布结果。", True, shown)
    return SlipStatus(None, "投票已结束", "本次会议的投票已全部结束，感谢参与。", False, shown)
