"""A whole meeting in one file, and back (R25): definition, ballot items, slips and their
states, slip uses, anonymous ballots, receipts, units, the audit log, and the published
figures — so another installation can hold the record and show identical results.

The file is JSON. Each table is a list of rows with the database's own column names, so the
format follows the schema and this module needs no field list to keep up to date. Keys are
remapped on import (the other installation has its own ids); ballots get fresh random ids.

Secrecy is exactly that of the database (R23): slip uses are written in slip order, ballots
in random-id order, receipts in code order, and nothing pairs them. The file therefore holds
no more than the database did — and should be kept like it.

Slip codes derive from the installation's ``SECRET_KEY`` and a nonce per slip. Each slip's
keyed digest is recomputed on import, so the slips work with the importing installation's key
(the same codes only when the key is the same). A meeting whose slips already exist (the same
meeting imported twice, or imported next to its original) is refused: two meetings must never
answer to one code.
"""

from __future__ import annotations

import base64
import secrets
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, LargeBinary, Numeric, insert, select

from ..extensions import db
from ..models import (
    AuditEntry,
    Ballot,
    BallotItem,
    BallotItemMark,
    BallotMark,
    Meeting,
    Receipt,
    Round,
    RoundTarget,
    Slip,
    SlipUse,
    Target,
    Unit,
    UnitGroup,
    VoterCategory,
)
from ..core import codes
from ..models.meeting import new_display_token
from . import audit, slips as slip_service

FORMAT = "ceping-meeting-archive"
VERSION = 1


class ArchiveError(Exception):
    """A file that is not a CePing archive, or that cannot be imported here; ``str()`` is the
    Chinese reason."""


#: (key in the file, model, how its rows are chosen by meeting id, sort order). Order matters
#: on import: parents before children.
def _tables(meeting_id: int):
    round_ids = select(Round.id).where(Round.meeting_id == meeting_id)
    ballot_ids = select(Ballot.id).where(Ballot.round_id.in_(round_ids))
    return [
        ("meeting", Meeting, Meeting.id == meeting_id, Meeting.id),
        ("voter_category", VoterCategory, VoterCategory.meeting_id == meeting_id, VoterCategory.id),
        ("target", Target, Target.meeting_id == meeting_id, Target.id),
        ("round", Round, Round.meeting_id == meeting_id, Round.id),
        ("round_target", RoundTarget, RoundTarget.round_id.in_(round_ids), (RoundTarget.round_id, RoundTarget.position)),
        ("ballot_item", BallotItem, BallotItem.round_id.in_(round_ids), BallotItem.id),
        ("unit_group", UnitGroup, UnitGroup.meeting_id == meeting_id, UnitGroup.id),
        ("unit", Unit, Unit.meeting_id == meeting_id, Unit.id),
        ("slip", Slip, Slip.meeting_id == meeting_id, Slip.id),
        ("slip_use", SlipUse, SlipUse.round_id.in_(round_ids), (SlipUse.round_id, SlipUse.slip_id)),
        ("ballot", Ballot, Ballot.round_id.in_(round_ids), Ballot.id),
        ("ballot_mark", BallotMark, BallotMark.ballot_id.in_(ballot_ids), (BallotMark.ballot_id, BallotMark.target_id)),
        (
            "ballot_item_mark",
            BallotItemMark,
            BallotItemMark.ballot_id.in_(ballot_ids),
            (BallotItemMark.ballot_id, BallotItemMark.target_id, BallotItemMark.item_id),
        ),
        ("receipt", Receipt, Receipt.round_id.in_(round_ids), (Receipt.round_id, Receipt.code)),
        ("audit_entry", AuditEntry, AuditEntry.meeting_id == meeting_id, AuditEntry.id),
    ]


#: Integer keys that point at a row of another table (column → table it points at).
_REFERENCES = {
    "meeting_id": "meeting",
    "category_id": "voter_category",
    "target_id": "target",
    "round_id": "round",
    "runoff_of_id": "round",
    "item_id": "ballot_item",
    "slip_id": "slip",
    "replaces_id": "slip",
    "ballot_id": "ballot",
}


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _decode(column, value: Any) -> Any:
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    if isinstance(kind, Numeric):
        return Decimal(value)
    if isinstance(kind, LargeBinary):
        return base64.b64decode(value)
    if isinstance(kind, Boolean):
        return bool(value)
    return value


def export_meeting(meeting: Meeting) -> dict:
    """The whole meeting as plain JSON data (see the module docstring), with the figures of
    every counted round as published, for checking after an import."""
    data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "tables": {}}
    for key, model, where, order in _tables(meeting.id):
        table = model.__table__
        order_by = order if isinstance(order, tuple) else (order,)
        rows = db.session.execute(select(table).where(where).order_by(*order_by)).mappings().all()
        data["tables"][key] = [{name: _encode(value) for name, value in row.items()} for row in rows]
    data["figures"] = figures_of(meeting)
    return data


def figures_of(meeting: Meeting) -> dict[str, dict]:
    """Round id (as text) → the figures of every counted round (closed or published)."""
    from ..models import RoundState
    from .exports import round_figures

    return {
        str(r.id): round_figures(r) for r in meeting.rounds if r.state in (RoundState.CLOSED, RoundState.PUBLISHED)
    }


def import_meeting(data: Any, actor: str) -> Meeting:
    """Recreate an exported meeting here, all or nothing.

    :raises ArchiveError: for a file that is not an archive of a known version, or whose
        slips already exist here.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("tables"), dict):
        raise ArchiveError("这不是 CePing 会议归档文件")
    if data.get("version") != VERSION:
        raise ArchiveError(f"归档文件版本 {data.get('version')} 不受支持（本系统支持版本 {VERSION}）")
    tables = data["tables"]
    meetings_rows = tables.get("meeting") or []
    if len(meetings_rows) != 1:
        raise ArchiveError("归档文件应恰好包含一个会议")
    secret = slip_service._secret()
    digests = []
    for row in tables.get("slip", []):
        nonce = base64.b64decode(row["nonce"])
        digests.append(slip_service.digest_of(codes.derive_code(secret, nonce)))
    if digests and db.session.scalar(select(Slip.id).where(Slip.code_digest.in_(digests)).limit(1)) is not None:
        raise ArchiveError("本系统中已有此会议的测评码（该会议已导入过，或原会议就在本系统中），不能重复导入")

    new_ids: dict[str, dict[Any, Any]] = {name: {} for name in _REFERENCES.values()}
    try:
        for key, model, _, _ in _tables(0):
            table = model.__table__
            rows = tables.get(key, [])
            if not isinstance(rows, list):
                raise ArchiveError(f"归档文件中「{key}」格式不正确")
            for index, raw in enumerate(rows):
                if not isinstance(raw, dict):
                    raise ArchiveError(f"归档文件中「{key}」第 {index + 1} 行格式不正确")
                values = {}
                for column in table.columns:
                    if column.name not in raw:
                        continue
                    value = _decode(column, raw[column.name])
                    if column.name in _REFERENCES and value is not None:
                        value = new_ids[_REFERENCES[column.name]][value]
                    values[column.name] = value
                old_id = raw.get("id")
                if key == "ballot":
                    values["id"] = new_ids["ballot"][old_id] = _new_ballot_id()
                else:
                    values.pop("id", None)
                if key == "meeting":
                    values["display_token"] = new_display_token()
                if key == "slip":
                    values["code_digest"] = digests[index]
                result = db.session.execute(insert(table).values(**values))
                if key in new_ids and key != "ballot" and old_id is not None:
                    new_ids[key][old_id] = result.inserted_primary_key[0]
    except (KeyError, ValueError, TypeError) as error:
        db.session.rollback()
        raise ArchiveError(f"归档文件内容不完整或不一致：{error!r}") from None
    except ArchiveError:
        db.session.rollback()
        raise
    meeting = db.session.get(Meeting, new_ids["meeting"][meetings_rows[0]["id"]])
    audit.log(actor, "meeting.archive_import", meeting.id, title=meeting.title, rounds=len(tables.get("round", [])))
    db.session.commit()
    return meeting


def _new_ballot_id() -> str:
    return secrets.token_hex(16)
