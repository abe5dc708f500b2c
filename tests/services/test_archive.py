"""A whole meeting to one file and back, with identical results (R25)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import AuditEntry, Ballot, Meeting, Round, Slip, SlipUse
from app.services import archive, items as item_service, meetings, selection, slips as slip_service, units, voting
from app.services.exports import round_figures


def _without_ids(value):
    """Figures with the installation's own keys left out (ids differ after an import)."""
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in ("id", "generated_at")}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def _remove(meeting) -> None:
    """Delete a meeting and everything of it (the database cascades)."""
    db.session.execute(delete(Meeting).where(Meeting.id == meeting.id))
    db.session.commit()
    db.session.expire_all()


@pytest.fixture
def finished(make_meeting, codes_of):
    """A meeting with everything an archive must carry: a 测评 round with items, phone and paper
    ballots (one invalid), published; a 差额票决 round with a tie and its runoff; units; a voided
    slip and its replacement; the audit log."""
    meeting = make_meeting(expected=30)
    round_ = meeting.rounds[0]
    item_service.set_kind_items(round_, "person", dimensions=[("德", 50), ("能", 50)], reverse=["协作不好"], intent=["提拔", "继任"], top_cap=2, actor="t")
    units.import_units(
        meeting, [{"name": n, "group": "部门组", "target_score": 90 + i, "vetoed": False, "staff": 5} for i, n in enumerate("甲乙丙丁")], "t"
    )
    codes = codes_of(meeting)
    slip_service.void(voting.resolve(codes[-1]), "遗失", "t", replace=True)
    codes = codes_of(meeting)
    meetings.open_round(round_, "t")
    people = [t for t in round_.targets if t.kind == "person"]
    ids = {i.label: i.id for i in round_.items}
    for n, code in enumerate(codes[:12]):
        voting.cast(
            voting.resolve(code),
            round_.id,
            {people[0].id: n % 4, people[1].id: (n + 1) % 4},
            {people[0].id: {"dimensions": {ids["德"]: n % 3, ids["能"]: 1}, "reverse": [ids["协作不好"]] if n % 2 else [], "intent": ids["提拔"]}},
        )
    voting.cast(voting.resolve(codes[12]), round_.id, {p.id: 0 for p in people}, is_paper=True)  # over the cap: 废票
    meetings.close_round(round_, "t")
    meetings.publish_round(round_, "t")
    vote = selection.create_selection_round(meeting, "部门组", list("甲乙丙丁"), "t", seats=1)
    meetings.open_round(vote, "t")
    candidates = [rt.target_id for rt in vote.round_targets]
    for n, code in enumerate(codes[:6]):
        voting.cast(voting.resolve(code), vote.id, {candidates[n % 2]: 0})
    meetings.close_round(vote, "t")
    runoff = selection.start_runoff(vote, "t")
    meetings.open_round(runoff, "t")
    for code in codes[:3]:
        voting.cast(voting.resolve(code), runoff.id, {runoff.round_targets[0].target_id: 0})
    meetings.close_round(runoff, "t")
    meetings.publish_round(runoff, "t")
    return meeting


def _counts(meeting_id: int) -> dict:
    rounds = select(Round.id).where(Round.meeting_id == meeting_id)
    return {
        "slips": db.session.scalar(select(func.count()).select_from(Slip).where(Slip.meeting_id == meeting_id)),
        "void": db.session.scalar(select(func.count()).select_from(Slip).where(Slip.meeting_id == meeting_id, Slip.voided_dt.isnot(None))),
        "uses": db.session.scalar(select(func.count()).select_from(SlipUse).where(SlipUse.round_id.in_(rounds))),
        "ballots": db.session.scalar(select(func.count()).select_from(Ballot).where(Ballot.round_id.in_(rounds))),
        "audit": db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.meeting_id == meeting_id)),
    }


def test_export_and_import_give_identical_results(finished):
    exported = json.loads(json.dumps(archive.export_meeting(finished), ensure_ascii=False))
    assert len(exported["figures"]) == 3
    before = _counts(finished.id)
    figures = [_without_ids(f) for f in exported["figures"].values()]
    _remove(finished)  # the other installation has no copy of it

    imported = archive.import_meeting(exported, "archivist")
    after = _counts(imported.id)
    assert after == {**before, "audit": before["audit"] + 1}  # + the import itself
    # Every figure, the 票决 digest included (it covers content, not database ids).
    assert [_without_ids(round_figures(r)) for r in imported.rounds] == figures
    assert imported.rounds[2].runoff_of_id == imported.rounds[1].id
    assert sorted(i.label for i in imported.rounds[0].items) == sorted(["德", "能", "协作不好", "提拔", "继任"])
    assert imported.rounds[0].top_cap_person == 2


def test_imported_slips_keep_their_states(finished, codes_of):
    """Slip states travel: a void slip stays void, a used slip cannot vote again in its round."""
    exported = archive.export_meeting(finished)
    _remove(finished)
    imported = archive.import_meeting(exported, "t")
    codes = codes_of(imported)
    assert len(codes) == 30  # usable slips; the voided one is not listed
    assert voting.has_voted(voting.resolve(codes[0]), imported.rounds[0])
    assert not voting.has_voted(voting.resolve(codes[20]), imported.rounds[0])
    void = db.session.scalars(select(Slip).where(Slip.meeting_id == imported.id, Slip.voided_dt.isnot(None))).one()
    assert void.void_reason == "遗失"
    with pytest.raises(voting.VoidSlip):
        voting.resolve(slip_service.code_of(void))


def test_an_archive_is_not_imported_twice(finished):
    """Two meetings must never answer to one code."""
    exported = archive.export_meeting(finished)
    with pytest.raises(archive.ArchiveError, match="不能重复导入"):
        archive.import_meeting(exported, "t")
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == 1


@pytest.mark.parametrize(
    "data, message",
    [
        ({"format": "other"}, "不是 CePing 会议归档文件"),
        ({"format": archive.FORMAT, "version": 99, "tables": {}}, "版本 99 不受支持"),
        ({"format": archive.FORMAT, "version": 1, "tables": {"meeting": []}}, "恰好包含一个会议"),
        ("not even a dict", "不是 CePing 会议归档文件"),
    ],
)
def test_bad_files_are_refused(app, data, message):
    with pytest.raises(archive.ArchiveError, match=message):
        archive.import_meeting(data, "t")


def test_an_inconsistent_file_imports_nothing(finished):
    exported = archive.export_meeting(finished)
    _remove(finished)
    exported["tables"]["ballot_mark"][0]["target_id"] = 999999  # points at no target
    with pytest.raises(archive.ArchiveError, match="不完整或不一致"):
        archive.import_meeting(exported, "t")
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == 0
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0


def test_archive_through_the_console_and_the_cli(finished, client, auth, runner, tmp_path):
    """The console's 下载会议归档 and 导入会议 (the same form as a definition), and the CLI."""
    import io

    from tests.conftest import csrf_token

    response = client.get(f"/organizer/meetings/{finished.id}/archive.json")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    twice = client.post(
        "/organizer/meetings/import",
        data={"file": (io.BytesIO(body), "archive.json"), "csrf_token": csrf_token(client.get("/organizer/").get_data(as_text=True))},
    )
    assert twice.status_code == 400 and "不能重复导入" in twice.get_data(as_text=True)
    path = tmp_path / "meeting.json"
    result = runner.invoke(args=["meeting", "export", str(finished.id), str(path)])
    assert result.exit_code == 0, result.output
    figures = [_without_ids(f) for f in json.loads(path.read_text(encoding="utf-8"))["figures"].values()]
    _remove(finished)
    result = runner.invoke(args=["meeting", "import-archive", str(path)])
    assert result.exit_code == 0 and "已导入会议" in result.output, result.output
    imported = db.session.scalars(select(Meeting)).one()
    assert [_without_ids(round_figures(r)) for r in imported.rounds] == figures
    page = client.post(
        "/organizer/meetings/import",
        data={"file": (io.BytesIO(body), "archive.json"), "csrf_token": csrf_token(client.get("/organizer/").get_data(as_text=True))},
    )
    assert page.status_code == 400  # the CLI import holds these slips now
