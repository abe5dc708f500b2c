"""Issuing, printing, voiding and finding one-time slips (DOMAIN §7, R23)."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Sequence

from flask import current_app, has_request_context, request
from sqlalchemy import func, select

from ..core import codes
from ..core.scales import plain_number
from ..extensions import db
from ..models import Meeting, Slip, VoterCategory
from ..models._time import now_utc
from . import audit
from .documents import SlipPrint

#: Below this many slips a category's ballots could be attributed to a person (R23).
SMALL_CATEGORY = 3
MAX_SLIPS_PER_ISSUE = 5000


class SlipError(Exception):
    """A refused slip operation; ``str()`` is the Chinese reason."""


def _secret() -> bytes:
    return current_app.config["SECRET_KEY"].encode("utf-8")


def code_of(slip: Slip) -> str:
    """The slip's canonical code, derived from its nonce and the server secret."""
    return codes.derive_code(_secret(), slip.nonce)


def digest_of(code: str) -> str:
    return codes.code_digest(_secret(), code)


def find_by_code(text: str) -> Slip | None:
    """The slip a typed or scanned code belongs to, or None.

    :raises codes.CodeError: when the text cannot be a code (length, characters, check symbol).
    """
    canonical = codes.normalize(text)
    return db.session.scalar(select(Slip).where(Slip.code_digest == digest_of(canonical)))


def issue(meeting: Meeting, category: VoterCategory, count: int, actor: str) -> list[Slip]:
    """Issue ``count`` new slips for a category, committed with an audit entry.

    :raises SlipError: for a count out of range or a category of another meeting.
    """
    if category.meeting_id != meeting.id:
        raise SlipError("类别不属于本次会议")
    if not 1 <= count <= MAX_SLIPS_PER_ISSUE:
        raise SlipError(f"一次可生成 1–{MAX_SLIPS_PER_ISSUE} 张测评码")
    slips = [_new_slip(meeting, category) for _ in range(count)]
    db.session.add_all(slips)
    audit.log(actor, "slips.issue", meeting.id, category=category.code, count=count)
    db.session.commit()
    return slips


def _new_slip(meeting: Meeting, category: VoterCategory, replaces: Slip | None = None) -> Slip:
    nonce = codes.new_nonce()
    return Slip(
        meeting_id=meeting.id,
        category_id=category.id,
        nonce=nonce,
        code_digest=digest_of(codes.derive_code(_secret(), nonce)),
        replaces_id=replaces.id if replaces else None,
    )


def void(slip: Slip, reason: str, actor: str, *, replace: bool = True) -> Slip | None:
    """Void a slip (lost, damaged, handed out twice) and optionally issue its replacement in
    the same category. Ballots it already cast stay counted: they cannot be found anyway (R23).

    :return: the replacement slip, or None.
    :raises SlipError: when the slip is already void.
    """
    if slip.is_void:
        raise SlipError("此测评码已作废")
    slip.voided_dt = now_utc()
    slip.void_reason = (reason or "").strip()[:200]
    replacement = None
    if replace:
        replacement = _new_slip(slip.category.meeting, slip.category, replaces=slip)
        db.session.add(replacement)
    audit.log(actor, "slip.void", slip.meeting_id, slip_id=slip.id, reason=slip.void_reason, replaced=replace)
    db.session.commit()
    return replacement


def record_print(meeting: Meeting, printed: Sequence[Slip], actor: str, *, slip_id: int | None = None) -> None:
    """Log a slip sheet being made, and commit: whoever holds a printout can vote, so the log
    says who printed how many slips of which categories — never a code.

    Callers log before they write the sheet: the log may then name a sheet that a failed job
    never made, but never miss one that exists. Only usable slips are ever printed (callers
    leave voided ones out), so the entry needs no word on voided slips.

    :param printed: the slips on the sheet.
    :param slip_id: the slip, when the sheet is one replacement slip.
    """
    categories = list(dict.fromkeys(slip.category.code for slip in printed))  # sheet order
    detail = {"category": categories, "count": len(printed)}
    if slip_id is not None:
        detail["slip_id"] = slip_id
    audit.log(actor, "slips.print", meeting.id, **detail)
    db.session.commit()


def counts_by_category(meeting: Meeting) -> dict[int, int]:
    """Usable (not void) slips per category id."""
    return dict(
        db.session.execute(
            select(Slip.category_id, func.count())
            .where(Slip.meeting_id == meeting.id, Slip.voided_dt.is_(None))
            .group_by(Slip.category_id)
        ).all()
    )


def category_warnings(meeting: Meeting) -> list[str]:
    """Warnings the organizer should see before printing (R14, R23)."""
    warnings = []
    counts = counts_by_category(meeting)
    for category in meeting.categories:
        n = counts.get(category.id, 0)
        if 0 < n < SMALL_CATEGORY:
            warnings.append(
                f"类别「{category.label}」只有 {n} 张测评码：少于 {SMALL_CATEGORY} 人的类别，其选票可能被推断出是谁投的。"
                "建议与其他类别合并，或增加人数。"
            )
    total = sum((c.weight for c in meeting.categories), start=0)
    if meeting.categories and total != 100:
        warnings.append(f"各类别权重合计为 {plain_number(total)}%，不是 100%；计分时按比例换算。")
    return warnings


def public_base_url() -> str:
    """The address QR codes carry: PUBLIC_BASE_URL, else the address the organizer reached
    the server on (in a hall, its LAN address), else this machine's LAN address.

    An organizer at the server's own keyboard reaches it as localhost; phones cannot, so a
    loopback host is replaced by the LAN address (same port).
    """
    configured = current_app.config.get("PUBLIC_BASE_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        host = request.host.rsplit(":", 1)[0].strip("[]") if not request.host.endswith("]") else request.host.strip("[]")
        if not _is_loopback(host):
            return request.host_url.rstrip("/")
        port = request.host.rsplit(":", 1)[1] if ":" in request.host and not request.host.endswith("]") else ""
        return f"{request.scheme}://{lan_address()}{':' + port if port else ''}"
    return f"http://{lan_address()}:{os.environ.get('PORT', '8000')}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def lan_address() -> str:
    """This machine's address on the local network, found without sending a packet (a UDP
    socket's connect() only picks a route)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.254.254.254", 9))
        return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


def vote_url(base_url: str, code: str) -> str:
    return f"{base_url}/v/{code}"


def printable(meeting: Meeting, slips: Sequence[Slip], base_url: str) -> list[SlipPrint]:
    """What each slip shows on paper (§7): category, QR URL and the code in groups."""
    out = []
    for slip in slips:
        code = code_of(slip)
        out.append(SlipPrint(category_label=slip.category.label, code_pretty=codes.pretty(code), url=vote_url(base_url, code)))
    return out
