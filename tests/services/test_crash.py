"""H3: kill the production server mid-burst, restart it — every acknowledged ballot is there,
no ballot is partial, the counts agree (R19). Durability: docs/deploy.md."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Ballot, BallotMark, Slip, SlipUse
from app.services import live, slips as slip_service

from .conftest import post_json


@pytest.mark.slow
def test_sigkill_mid_burst_loses_no_acknowledged_ballot(gunicorn, make_meeting, codes_of):
    meeting = make_meeting(open=True, expected=60, slips={"A": 60, "B": 60, "C": 60})
    meeting_id, round_id = meeting.id, meeting.rounds[0].id
    targets = [t.id for t in meeting.rounds[0].targets]
    codes = codes_of(meeting)
    gunicorn.start()
    acknowledged: list[str] = []
    failed: list[str] = []
    lock = threading.Lock()
    queue = list(codes)

    def caster():
        while True:
            with lock:
                if not queue:
                    return
                code = queue.pop()
            try:
                status = post_json(gunicorn.port, f"/api/v1/ballot/{code}/rounds/{round_id}", {"marks": {str(t): 1 for t in targets}})
            except OSError:
                status = None
            with lock:
                (acknowledged if status == 201 else failed).append(code)

    threads = [threading.Thread(target=caster) for _ in range(16)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(acknowledged) < 40:
        time.sleep(0.005)
    gunicorn.kill()  # mid-burst: SIGKILL to master and workers
    for t in threads:
        t.join(timeout=60)
    assert 40 <= len(acknowledged) < len(codes), (len(acknowledged), len(failed))

    gunicorn.start()  # restart on the same database
    db.session.remove()
    used = set(db.session.scalars(select(SlipUse.slip_id).where(SlipUse.round_id == round_id)))
    ack_ids = {slip_service.find_by_code(c).id for c in acknowledged}
    assert ack_ids <= used, "an acknowledged ballot was lost"
    ballots = db.session.scalar(select(func.count()).select_from(Ballot).where(Ballot.round_id == round_id))
    assert ballots == len(used) == live.turnout(meeting_id)[round_id]  # R19: 收回 agrees everywhere
    per_ballot = db.session.execute(
        select(BallotMark.ballot_id, func.count()).join(Ballot, Ballot.id == BallotMark.ballot_id).where(Ballot.round_id == round_id).group_by(BallotMark.ballot_id)
    ).all()
    assert len(per_ballot) == ballots and all(n == len(targets) for _, n in per_ballot), "a partial ballot survived"
    # the restarted server serves the rest of the hall
    rest = [c for c in codes if slip_service.find_by_code(c).id not in used][:5]
    assert all(post_json(gunicorn.port, f"/api/v1/ballot/{c}/rounds/{round_id}", {"marks": {}}) == 201 for c in rest)
    assert db.session.scalar(select(func.count()).select_from(Slip)) == 180
