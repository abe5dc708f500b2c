"""Background jobs on disk (B2): any process can read a job's state; old files go away."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from app.services import jobs


def _wait(instance: str, job_id: str, timeout: float = 30.0) -> jobs.Job:
    deadline = time.monotonic() + timeout
    while True:
        job = jobs.get(instance, job_id)
        if not job.is_running:
            return job
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_job_runs_in_the_background_and_leaves_its_file(tmp_path):
    """The state is written as the work goes (running, progress), then done with the file;
    no temporary file is left behind."""
    instance = str(tmp_path)
    gate, reported = threading.Event(), threading.Event()

    def work(progress):
        progress(3, 10)
        reported.set()
        gate.wait(10)
        progress(10, 10)
        return b"%PDF-1.7 test"

    job = jobs.start(instance, kind="test", meeting_id=7, label="测试", filename="t.pdf", total=10, work=work)
    assert jobs.JOB_ID.fullmatch(job.id)
    assert reported.wait(10)
    time.sleep(0.05)
    running = jobs.get(instance, job.id)
    assert running.is_running and (running.done, running.total, running.percent) == (3, 10, 30)
    assert not jobs.result_path(instance, job).exists()
    gate.set()
    done = _wait(instance, job.id)
    assert done.is_done and (done.done, done.percent, done.meeting_id, done.label) == (10, 100, 7, "测试")
    assert jobs.result_path(instance, done).read_bytes() == b"%PDF-1.7 test"
    assert sorted(p.name for p in jobs.jobs_dir(instance).iterdir()) == sorted([f"{job.id}.json", f"{job.id}.pdf"])


def test_progress_on_disk_never_goes_back(tmp_path):
    """Reports are written in order and a late smaller one is ignored: the bar only moves forward."""
    instance = str(tmp_path)
    seen: list[int] = []

    def work(progress):
        (state_file,) = jobs.jobs_dir(instance).glob("*.json")
        for done in (1, 2, 5, 4, 8):
            progress(done, 8)
            seen.append(json.loads(state_file.read_text(encoding="utf-8"))["done"])
            time.sleep(jobs.WRITE_INTERVAL_SECONDS)
        return b"x"

    job = jobs.start(instance, kind="test", meeting_id=None, label="", filename="x.pdf", total=8, work=work)
    assert _wait(instance, job.id).is_done
    assert seen == [1, 2, 5, 5, 8]


def test_a_failing_job_reads_as_failed_in_chinese(tmp_path):
    def work(progress):
        raise OSError("disk on fire")

    job = jobs.start(str(tmp_path), kind="test", meeting_id=None, label="", filename="x.pdf", total=1, work=work)
    failed = _wait(str(tmp_path), job.id)
    assert failed.is_failed and failed.error == jobs.FAILED_MESSAGE and "disk" not in failed.error
    assert not jobs.result_path(str(tmp_path), failed).exists()


def test_a_job_whose_process_died_reads_as_failed(tmp_path):
    """A running job that stopped writing (its process was restarted) is failed after a while."""
    folder = jobs.jobs_dir(str(tmp_path))
    folder.mkdir()
    old = time.time() - jobs.STALE_SECONDS - 5
    state = {"id": "S" * 22, "kind": "test", "meeting_id": 1, "label": "", "filename": "x.pdf", "state": "running",
             "done": 12, "total": 100, "error": "", "created": old, "updated": old}
    (folder / f"{'S' * 22}.json").write_text(json.dumps(state), encoding="utf-8")
    job = jobs.get(str(tmp_path), "S" * 22)
    assert job.is_failed and job.error == jobs.STALE_MESSAGE and job.done == 12


@pytest.mark.parametrize("job_id", ["", "short", "A" * 21, "A" * 23, "../" + "A" * 19, "A" * 21 + "."])
def test_malformed_or_unknown_ids_find_nothing(tmp_path, job_id):
    assert jobs.get(str(tmp_path), job_id) is None
    assert jobs.get(str(tmp_path), "B" * 22) is None


def test_old_job_files_are_removed_when_a_job_starts(tmp_path):
    """Files older than a day go (state, result, leftover temporary file); recent ones and
    files that are not a job's stay."""
    instance = str(tmp_path)
    folder = jobs.jobs_dir(instance)
    folder.mkdir()
    two_days = time.time() - 2 * 24 * 3600
    old = [folder / f"{'O' * 22}.json", folder / f"{'O' * 22}.pdf", folder / ".tmp-abandoned"]
    recent = [folder / f"{'R' * 22}.json", folder / f"{'R' * 22}.pdf"]
    other = folder / "README"
    for path in old + recent + [other]:
        path.write_bytes(b"x")
    for path in old + [other]:
        os.utime(path, (two_days, two_days))
    job = jobs.start(instance, kind="test", meeting_id=None, label="", filename="x.pdf", total=0, work=lambda progress: b"")
    _wait(instance, job.id)
    assert not any(path.exists() for path in old)
    assert all(path.exists() for path in recent) and other.exists()
