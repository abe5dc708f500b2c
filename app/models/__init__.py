"""Models, one module per aggregate. Import from here."""

from .audit import AuditEntry
from .ballot import Ballot, BallotMark, Receipt
from .items import DIMENSION, INTENT, ITEM_TYPE_LABELS, ITEM_TYPES, REVERSE, BallotItem, BallotItemMark
from .meeting import EVALUATION, ORDER_LABELS, RESULT_HIDDEN, RESULT_LIVE, RESULT_MODES, ROUND_STATE_LABELS, SELECTION, Meeting, Round, RoundRef, RoundState, RoundTarget, StateError, Target, VoterCategory
from .organizer import Organizer
from .ratelimit import RateCounter
from .unit import HistoryRecord, Unit, UnitGroup
from .slip import Slip, SlipRef, SlipUse

__all__ = [
    "DIMENSION",
    "INTENT",
    "ITEM_TYPE_LABELS",
    "ITEM_TYPES",
    "REVERSE",
    "BallotItem",
    "BallotItemMark",
    "Receipt",
    "RateCounter",
    "EVALUATION",
    "ORDER_LABELS",
    "ROUND_STATE_LABELS",
    "SELECTION",
    "HistoryRecord",
    "Unit",
    "UnitGroup",
    "RESULT_HIDDEN",
    "RESULT_LIVE",
    "RESULT_MODES",
    "AuditEntry",
    "Ballot",
    "BallotMark",
    "Meeting",
    "Organizer",
    "Round",
    "RoundRef",
    "RoundState",
    "RoundTarget",
    "Slip",
    "SlipRef",
    "SlipUse",
    "StateError",
    "Target",
    "VoterCategory",
]
