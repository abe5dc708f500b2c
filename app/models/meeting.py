from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.scales import KIND_LABELS, TARGET_KINDS, level_labels
from ..core.scoring import ScoringPolicy
from ..extensions import db
from ._time import now_utc


EVALUATION = "evaluation"  # 民主测评
SELECTION = "selection"  # 差额票决
ORDER_LABELS = {"score": "按考核得分排序", "strokes": "按姓氏笔画排序"}

RESULT_HIDDEN = "hidden"
RESULT_LIVE = "live"
RESULT_MODES = {RESULT_HIDDEN: "公布前不显示结果", RESULT_LIVE: "随投随显示"}


def new_display_token() -> str:
    return secrets.token_urlsafe(18)


class StateError(Exception):
    """An illegal lifecycle move; ``str()`` is the Chinese reason shown to the organizer."""


class Meeting(db.Model):
    """A 测评 meeting: its categories, targets, rounds and slips."""

    __tablename__ = "meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    held_on: Mapped[date | None]
    place: Mapped[str] = mapped_column(String(200), default="")
    expected_count: Mapped[int] = mapped_column(Integer)  # 应到人数 (R19)
    present_count: Mapped[int | None] = mapped_column(Integer)  # 实到, entered at check-in
    # R12: one stored value per level, best first.
    value_0: Mapped[int] = mapped_column(default=100)
    value_1: Mapped[int] = mapped_column(default=80)
    value_2: Mapped[int] = mapped_column(default=60)
    value_3: Mapped[int] = mapped_column(default=40)
    abstain_as_zero: Mapped[bool] = mapped_column(Boolean, default=False)  # R13
    quorum_num: Mapped[int] = mapped_column(default=2)  # R20: 实到 must exceed num/den of 应到
    quorum_den: Mapped[int] = mapped_column(default=3)
    #: The projector's link (/display/<token>): unguessable, read-only, no login needed on
    #: the hall's PC. Replaced by the organizer if it leaks.
    display_token: Mapped[str] = mapped_column(String(32), unique=True, default=new_display_token)
    # The annual assessment (R1–R6): the year results are kept under, composite weights
    # (target share in percent; the democratic share is the rest), grade thresholds, rewards
    # and the optional majority rule of 差额票决.
    year: Mapped[int | None] = mapped_column(Integer)
    principal_target_pct: Mapped[int] = mapped_column(default=60)
    member_target_pct: Mapped[int] = mapped_column(default=40)
    grade_basic: Mapped[int] = mapped_column(default=80)
    grade_qualified: Mapped[int] = mapped_column(default=90)
    reward_per_point: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    reward_basic_pct: Mapped[int] = mapped_column(default=80)
    reward_lump_excellent: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    reward_lump_top: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    majority_required: Mapped[bool] = mapped_column(Boolean, default=False)
    #: 模拟测试: ballots cast while set are a rehearsal, purged in one action before the
    #: formal vote (services.rehearsal); every page and report says 模拟 meanwhile.
    rehearsal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_dt: Mapped[datetime] = mapped_column(default=now_utc)

    categories: Mapped[list[VoterCategory]] = relationship(
        back_populates="meeting", order_by="VoterCategory.position", cascade="all, delete-orphan"
    )
    targets: Mapped[list[Target]] = relationship(
        back_populates="meeting", order_by="Target.position", cascade="all, delete-orphan"
    )
    rounds: Mapped[list[Round]] = relationship(
        back_populates="meeting", order_by="(Round.position, Round.id)", cascade="all, delete-orphan"
    )

    __table_args__ = (CheckConstraint("expected_count > 0", name="expected_positive"),)

    @property
    def level_values(self) -> tuple[int, int, int, int]:
        return (self.value_0, self.value_1, self.value_2, self.value_3)

    @property
    def scoring_policy(self) -> ScoringPolicy:
        return ScoringPolicy(values=self.level_values, abstain_as_zero=self.abstain_as_zero)

    @property
    def quorum(self) -> Fraction:
        return Fraction(self.quorum_num, self.quorum_den)

    @property
    def assessment_year(self) -> int | None:
        return self.year or (self.held_on.year if self.held_on else None)


class VoterCategory(db.Model):
    """A category of voters (R14), e.g. A 领导班子成员 30%."""

    __tablename__ = "voter_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(100))
    weight: Mapped[Fraction] = mapped_column(Numeric(7, 3))  # percent
    position: Mapped[int] = mapped_column(default=0)

    meeting: Mapped[Meeting] = relationship(back_populates="categories")

    __table_args__ = (
        UniqueConstraint("meeting_id", "code", name="uq_voter_category_meeting_code"),
        CheckConstraint("weight >= 0", name="weight_non_negative"),
    )

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"


class Target(db.Model):
    """Who is graded: a leadership team (班子) or a leader (个人) of a unit."""

    __tablename__ = "target"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    unit: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100), default="")  # empty for a team
    title: Mapped[str] = mapped_column(String(100), default="")  # 职务
    is_principal: Mapped[bool] = mapped_column(Boolean, default=False)  # 党政主要负责人 (R1)
    position: Mapped[int] = mapped_column(default=0)

    meeting: Mapped[Meeting] = relationship(back_populates="targets")

    __table_args__ = (CheckConstraint(f"kind IN {TARGET_KINDS!r}", name="kind_known"),)

    @property
    def display_name(self) -> str:
        return f"{self.unit}领导班子" if self.kind == "team" else self.name

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def levels(self) -> tuple[str, str, str, str]:
        return level_labels(self.kind)


class RoundState(enum.Enum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    PUBLISHED = "published"


ROUND_STATE_LABELS = {
    RoundState.DRAFT: "未开始",
    RoundState.OPEN: "投票中",
    RoundState.CLOSED: "已结束",
    RoundState.PUBLISHED: "已公布",
}


def round_state(opened_dt: datetime | None, closed_dt: datetime | None, published_dt: datetime | None) -> RoundState:
    """A round's state from its timestamps (the one place that says how)."""
    if published_dt:
        return RoundState.PUBLISHED
    if closed_dt:
        return RoundState.CLOSED
    if opened_dt:
        return RoundState.OPEN
    return RoundState.DRAFT


@dataclass(frozen=True)
class RoundRef:
    """The columns of a round that a cast checks, read with plain SQL on the cast's hot path
    (services.voting.cast_code); what else a cast needs of the round comes from the cached
    ballot (services.items.ballot_spec)."""

    id: int
    meeting_id: int
    opened_dt: datetime | None
    closed_dt: datetime | None
    published_dt: datetime | None

    @property
    def state(self) -> RoundState:
        return round_state(self.opened_dt, self.closed_dt, self.published_dt)


class Round(db.Model):
    """A round (轮次). Its state is derived from timestamps. Its turnout is the number of its
    ``slip_use`` rows (services.live.turnout); no counter is kept, because bumping one in every
    cast made the casts queue on the round's row (migration 0006)."""

    __tablename__ = "round"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="evaluation")
    title: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(default=0)
    opened_dt: Mapped[datetime | None]
    closed_dt: Mapped[datetime | None]
    published_dt: Mapped[datetime | None]
    #: R24: "hidden" — nothing of the result leaves the server before publication (default);
    #: "live" — 随投随显示, the display shows the counts as ballots arrive.
    result_mode: Mapped[str] = mapped_column(String(8), default=RESULT_HIDDEN)
    #: Whether phones may show this round's result once it is published.
    show_on_phones: Mapped[bool] = mapped_column(Boolean, default=False)
    # 差额票决 (kind "selection"): K seats, the group it chooses for, the round it is a runoff
    # of (R21), and the stated order of the candidates on the ballot (R10).
    seats: Mapped[int | None] = mapped_column(Integer)
    group_name: Mapped[str | None] = mapped_column(String(50))
    runoff_of_id: Mapped[int | None] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    candidate_order: Mapped[str] = mapped_column(String(8), default="score")
    #: 每票"优秀"(班子："好")不超过 n 个: the most top-level overall grades one ballot may
    #: give per target kind; None = no cap. Phones enforce it as you mark, the server refuses
    #: a ballot that breaks it, and a paper ballot that breaks it is recorded as 废票.
    top_cap_team: Mapped[int | None] = mapped_column(Integer)
    top_cap_person: Mapped[int | None] = mapped_column(Integer)

    meeting: Mapped[Meeting] = relationship(back_populates="rounds")
    round_targets: Mapped[list[RoundTarget]] = relationship(
        order_by="RoundTarget.position", cascade="all, delete-orphan"
    )
    items: Mapped[list["BallotItem"]] = relationship(
        "BallotItem", order_by="(BallotItem.kind, BallotItem.item_type, BallotItem.position)", cascade="all, delete-orphan"
    )

    def top_cap(self, kind: str) -> int | None:
        return self.top_cap_team if kind == "team" else self.top_cap_person

    @property
    def targets(self) -> list[Target]:
        return [rt.target for rt in self.round_targets]

    @property
    def is_selection(self) -> bool:
        return self.kind == SELECTION

    @property
    def state(self) -> RoundState:
        return round_state(self.opened_dt, self.closed_dt, self.published_dt)

    @property
    def state_label(self) -> str:
        return ROUND_STATE_LABELS[self.state]

    @property
    def is_open(self) -> bool:
        return self.state is RoundState.OPEN

    def open(self) -> None:
        """Draft → open. Quorum (R20) is checked by the service, which knows 实到.

        :raises StateError: when the round is not a draft or has no targets.
        """
        if self.state is not RoundState.DRAFT:
            raise StateError(f"本轮{self.state_label}，不能再开始投票")
        if not self.round_targets:
            raise StateError("本轮没有测评对象，不能开始投票")
        # To the microsecond (other stamps keep whole seconds): the opening time also names
        # this opening of the round in services.items' cache of the ballot, which must never
        # be confused with an earlier opening (a rehearsal purge reopens rounds).
        self.opened_dt = datetime.now(timezone.utc).replace(tzinfo=None)

    def close(self) -> None:
        """Open → closed.

        :raises StateError: when the round is not open.
        """
        if self.state is not RoundState.OPEN:
            raise StateError(f"本轮{self.state_label}，不能结束投票")
        self.closed_dt = now_utc()

    def set_result_mode(self, mode: str) -> None:
        """Choose hidden or live display (R24); not after the close, when it no longer matters.

        :raises StateError: for an unknown mode or a round already closed.
        """
        if mode not in RESULT_MODES:
            raise StateError("显示方式应为 公布前不显示 或 随投随显示")
        if self.state in (RoundState.CLOSED, RoundState.PUBLISHED):
            raise StateError("投票已结束，不能再更改显示方式")
        self.result_mode = mode

    @property
    def shows_live(self) -> bool:
        return self.result_mode == RESULT_LIVE

    def publish(self) -> None:
        """Closed → published (R24).

        :raises StateError: when the round is not closed.
        """
        if self.state is not RoundState.CLOSED:
            raise StateError("投票结束后才能公布结果" if self.state is not RoundState.PUBLISHED else "结果已公布")
        self.published_dt = now_utc()


class RoundTarget(db.Model):
    """The targets on a round's ballot, in ballot order."""

    __tablename__ = "round_target"

    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)

    target: Mapped[Target] = relationship(lazy="joined")
