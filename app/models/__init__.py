"""Models, one module per aggregate. Import from here."""

from .audit import AuditEntry
from .ballot import Ballot, BallotMark
from .meeting import RESULT_HIDDEN, RESULT_LIVE, RESULT_MODES, Meeting, Round, RoundState, RoundTarget, StateError, Target, VoterCategory
from .organizer import Organizer
from .slip import Slip, SlipUse

__all__ = [
    "RESULT_HIDDEN",
    "RESULT_LIVE",
    "RESULT_MODES",
    "AuditEntry",
    "Ballot",
    "BallotMark",
    "Meeting",
    "Organizer",
    "Round",
    "RoundState",
    "RoundTarget",
    "Slip",
    "SlipUse",
    "StateError",
    "Target",
    "VoterCategory",
]
