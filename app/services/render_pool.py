"""Rendering one long PDF on several cores: page runs in worker processes, merged in order.

WeasyPrint lays a document out in pure Python, so one process uses one core; the 1,000-slip
sheet (84 pages) took 19–25 s that way (docs/performance.md, B2). Cut into runs of a few pages,
rendered by a pool of worker processes and merged with pypdf, it takes both cores, and the
caller learns of each finished run (the progress bar, the CLI's lines).

The workers are forked from multiprocessing's fork server, which imports the renderer once
(``set_forkserver_preload``): forking the web worker itself could copy a lock that one of its
other threads holds, and a fresh interpreter per job would import for 1.4 s every time. The
first job in a process starts the server (about 1.5 s); later jobs fork from it in
milliseconds.

Where worker processes cannot be started (no ``/dev/shm``, a sandbox), the runs are rendered
one after the other in the calling process, with the same progress.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

log = logging.getLogger(__name__)

#: More processes than this gain little for one document and cost ~100 MB each.
MAX_WORKERS = 4

#: Modules the fork server imports once, so that every worker starts with them (the parent
#: merges, so pypdf is not among them).
PRELOAD = ["app.services.documents", "weasyprint"]


def default_workers() -> int:
    """Processes to render in: the cores this process may use, at most ``MAX_WORKERS``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover  (not Linux)
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


def _context():
    try:
        context = multiprocessing.get_context("forkserver")
    except ValueError:  # pragma: no cover  (no fork server on this platform)
        return multiprocessing.get_context("spawn")
    context.set_forkserver_preload(PRELOAD)
    return context


def render_merged(
    render: Callable[..., bytes],
    runs: Sequence[tuple[Any, ...]],
    *,
    workers: int,
    on_run_done: Callable[[int], None] | None = None,
) -> bytes:
    """``render(*run)`` for every run, merged into one PDF in run order.

    :param render: a module-level function (worker processes import it by name) returning the
        PDF of one run.
    :param runs: the arguments of each run; they travel to the workers by pickle.
    :param workers: processes to use; 1 (or a single run) renders in the calling process.
    :param on_run_done: called in the calling thread with a run's index as soon as that run is
        rendered, in the order the runs finish.
    :return: the merged PDF.
    :raises Exception: whatever ``render`` raised for the first failing run, or
        ``BrokenProcessPool`` when a worker died (killed, out of memory).
    """
    done = on_run_done or (lambda _index: None)
    if workers <= 1 or len(runs) <= 1:
        return _inline(render, runs, done)
    try:
        pool = ProcessPoolExecutor(max_workers=min(workers, len(runs)), mp_context=_context())
        try:
            futures = {pool.submit(render, *run): index for index, run in enumerate(runs)}
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    except (OSError, NotImplementedError, ImportError) as error:  # no worker process can start here
        log.warning("rendering in this process: worker processes unavailable (%s)", error)
        return _inline(render, runs, done)
    try:
        merger = _Merger()
        finished: dict[int, bytes] = {}
        pending: set[Future] = set(futures)
        while pending:
            completed, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in completed:
                index = futures[future]
                finished[index] = future.result()
                done(index)
            # Merge the runs that are next in order while the workers go on: most of the
            # merging then overlaps the rendering.
            while merger.count in finished:
                merger.add(finished.pop(merger.count))
        return merger.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _inline(render: Callable[..., bytes], runs: Sequence[tuple[Any, ...]], done: Callable[[int], None]) -> bytes:
    merger = _Merger()
    for index, run in enumerate(runs):
        merger.add(render(*run))
        done(index)
    return merger.result()


class _Merger:
    """PDFs appended in order; one PDF is returned as it is."""

    def __init__(self) -> None:
        self.count = 0
        self._first: bytes | None = None
        self._writer = None

    def add(self, pdf: bytes) -> None:
        self.count += 1
        if self.count == 1:
            self._first = pdf
            return
        if self._writer is None:
            from pypdf import PdfWriter

            self._writer = PdfWriter()
            first = self._append(self._first)
            # The first run's document information (its title, the producer) is the whole's.
            if first.metadata:
                self._writer.add_metadata({key: str(value) for key, value in first.metadata.items()})
        self._append(pdf)

    def _append(self, pdf: bytes):
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(pdf))
        for page in reader.pages:
            self._writer.add_page(page)
        return reader

    def result(self) -> bytes:
        if self._writer is None:
            return self._first or b""
        out = io.BytesIO()
        self._writer.write(out)
        return out.getvalue()
