"""Background jobs that any web worker can follow: the slip sheet PDF (B2).

A 1,000-slip sheet takes a second or two (more on a busy machine), so the console starts a
job and shows its progress. In
production gunicorn runs two worker processes, and the page that polls may reach the worker
that did not start the job: a job's state therefore lives on disk, not in memory nor in the
database, under the instance folder:

- ``instance/jobs/<id>.json`` — kind, meeting, file name, state, progress, times;
- ``instance/jobs/<id>.pdf`` — the result, once done.

Every write goes to a temporary file that is then renamed over the old one, so a reader sees
the whole old state or the whole new one. The job itself runs in a thread of the process that
started it (services.slip_sheet does the work in that thread), and writes its progress as it
goes. A job whose process died (a worker restarted mid-job) stops updating its
file; after ``STALE_SECONDS`` it reads as failed. Files older than ``MAX_AGE_SECONDS`` are
removed whenever a new job starts.

Job ids are 128 random bits (``secrets.token_urlsafe(16)``): unguessable, and the only way to
a job's file. Who may see a job is the caller's business (the organizer blueprint's log-in
and permission table).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

log = logging.getLogger(__name__)

#: What ``secrets.token_urlsafe(16)`` makes; anything else is not a job id (and never a path).
JOB_ID = re.compile(r"[A-Za-z0-9_-]{22}")
#: Job files older than this are removed when a job starts.
MAX_AGE_SECONDS = 24 * 3600
#: A running job whose file has not changed for this long has lost its process.
STALE_SECONDS = 120
#: Progress is written at most this often (and always at the end).
WRITE_INTERVAL_SECONDS = 0.2

RUNNING, DONE, FAILED = "running", "done", "failed"

FAILED_MESSAGE = "生成失败：服务器处理时出错。请返回重新生成；如一再失败，请联系技术人员。"
STALE_MESSAGE = "生成中断：处理此任务的服务器进程已停止（可能已重启）。请返回重新生成。"

#: ``work(progress)`` does the job and returns its file; it calls ``progress(done, total)``.
Work = Callable[[Callable[[int, int], None]], bytes]


@dataclass(frozen=True)
class Job:
    """A job as stored: what it makes (``label``, in Chinese, and the ``filename`` it is
    downloaded as); ``state`` is running, done or failed; ``done`` of ``total`` units (slips)
    are finished; ``error`` is the Chinese reason of a failure; times are Unix seconds."""

    id: str
    kind: str
    meeting_id: int | None
    label: str
    filename: str
    state: str
    done: int
    total: int
    error: str
    created: float
    updated: float

    @property
    def is_running(self) -> bool:
        return self.state == RUNNING

    @property
    def is_done(self) -> bool:
        return self.state == DONE

    @property
    def is_failed(self) -> bool:
        return self.state == FAILED

    @property
    def percent(self) -> int:
        """Whole percent done; 100 only once the file is there."""
        if self.is_done:
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0

    def public(self) -> dict:
        """What the progress page polls."""
        return {"state": self.state, "done": self.done, "total": self.total, "percent": self.percent, "error": self.error}


def jobs_dir(instance_path: str) -> Path:
    return Path(instance_path) / "jobs"


def start(
    instance_path: str, *, kind: str, meeting_id: int | None, label: str, filename: str, total: int, work: Work
) -> Job:
    """Record a new running job and run ``work`` in a background thread of this process.

    Old job files (``MAX_AGE_SECONDS``) are removed first.

    :param label: what the job makes, as the page names it (全部测评码).
    :param filename: the name the result is downloaded as.
    :param total: the units ``work`` reports progress in (slips).
    :param work: called as ``work(progress)``; returns the file's bytes. Whatever it raises
        makes the job fail with ``FAILED_MESSAGE`` (the details go to the log).
    :return: the job as first written.
    """
    folder = jobs_dir(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    remove_old(instance_path)
    now = time.time()
    job = Job(secrets.token_urlsafe(16), kind, meeting_id, label, filename, RUNNING, 0, total, "", now, now)
    _write_state(folder, job)
    thread = threading.Thread(target=_run, args=(folder, job, work), name=f"job-{kind}-{job.id[:6]}", daemon=True)
    thread.start()
    return job


def get(instance_path: str, job_id: str) -> Job | None:
    """The job, or None for an id that is malformed or unknown here.

    A running job that has not written for ``STALE_SECONDS`` is returned as failed.
    """
    if not JOB_ID.fullmatch(job_id or ""):
        return None
    try:
        data = json.loads((jobs_dir(instance_path) / f"{job_id}.json").read_text(encoding="utf-8"))
        job = Job(**data)
    except (OSError, ValueError, TypeError):
        return None
    if job.is_running and time.time() - job.updated > STALE_SECONDS:
        return replace(job, state=FAILED, error=STALE_MESSAGE)
    return job


def result_path(instance_path: str, job: Job) -> Path:
    """Where a done job's file is."""
    return jobs_dir(instance_path) / f"{job.id}.pdf"


def remove_old(instance_path: str, max_age: float = MAX_AGE_SECONDS) -> int:
    """Remove job files (state, result, leftover temporary files) older than ``max_age``.

    :return: how many files were removed.
    """
    folder = jobs_dir(instance_path)
    cutoff = time.time() - max_age
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        stem = entry.name.split(".", 1)[0]
        if not (JOB_ID.fullmatch(stem) or entry.name.startswith(".tmp-")) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:  # another worker cleaned it up first
            pass
    return removed


def _run(folder: Path, job: Job, work: Work) -> None:
    last_write = 0.0
    current = job

    def progress(done: int, total: int) -> None:
        nonlocal last_write, current
        now = time.monotonic()
        if done < current.done:  # never show the bar going back
            return
        current = replace(current, done=done, total=total, updated=time.time())
        if done >= total or now - last_write >= WRITE_INTERVAL_SECONDS:
            _write_state(folder, current)
            last_write = now

    try:
        data = work(progress)
        _write_atomic(folder / f"{job.id}.pdf", data)
    except Exception:  # noqa: BLE001  (any failure is the job's, shown on its page)
        log.exception("job %s (%s, meeting %s) failed", job.id, job.kind, job.meeting_id)
        _write_state(folder, replace(current, state=FAILED, error=FAILED_MESSAGE, updated=time.time()))
        return
    _write_state(folder, replace(current, state=DONE, done=current.total, updated=time.time()))


def _write_state(folder: Path, job: Job) -> None:
    _write_atomic(folder / f"{job.id}.json", json.dumps(asdict(job), ensure_ascii=False).encode("utf-8"))


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file in the same folder, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
