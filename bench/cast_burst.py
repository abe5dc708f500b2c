"""Benchmark: a burst of ballots through the JSON API against gunicorn as documented for
production in docs/deploy.md (``-c gunicorn.conf.py``; the table names the shape it sets).

    .venv/bin/python bench/cast_burst.py [--db sqlite|postgresql] [--slips 1000] [--targets 30] [--clients 1,16,64] [--repeat 3]

Seeds a meeting with N slips and a T-target round per burst, starts gunicorn on 127.0.0.1,
and casts every slip's ballot once per burst (a fresh round each time), reporting ballots/s,
latency percentiles and the CPU each ballot cost. Each ballot marks every target.

- **Clients.** A client is a connection that casts ballots one after another. Each ballot
  comes on a fresh connection, as in the hall, where every phone casts once, minutes after
  loading its page (``BENCH_KEEPALIVE=1`` keeps connections open instead).
- **The load generator** is asyncio in this process, writing raw HTTP/1.1: it shares the
  server's two cores, and its CPU share is reported (64 ``http.client`` threads took a large
  share of both cores).
- **Repeats.** This machine is shared and its speed varies by ±40% from minute to minute (a
  fixed CPU loop measured 390–650 ms in one minute), so every level is run ``--repeat`` times
  (each on a fresh round) and the table gives the median burst, the spread of ballots/s and
  of p99. The ceiling (a bare one-row insert) is measured the same way.

Loopback only; bounded in count.
"""

from __future__ import annotations

import argparse
import asyncio
from contextlib import contextmanager
from dataclasses import dataclass
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench._common import record  # noqa: E402

try:  # uvloop (libuv, in C) makes the client's connections cheaper, leaving more CPU to the server
    from uvloop import run
except ImportError:  # pragma: no cover
    from asyncio import run

SECRET = "bench-secret-key"
KEEPALIVE = os.environ.get("BENCH_KEEPALIVE") == "1"
PG_SERVER = os.environ.get("CEPING_BENCH_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
PG_DATABASE = "ceping_bench"  # its own database: the benchmark drops and re-creates its schema


def pg_url() -> str:
    """Create the benchmark's database if needed and return its SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(PG_SERVER + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)).fetchone():
            conn.execute(f"CREATE DATABASE {PG_DATABASE}")
    return PG_SERVER.replace("postgresql://", "postgresql+psycopg://", 1) + "/" + PG_DATABASE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(url: str, instance: str, slips: int, targets: int, rounds: int) -> tuple[list[str], list[int], list[int]]:
    os.environ["SECRET_KEY"] = SECRET
    os.environ["DATABASE_URL"] = url
    os.environ["CEPING_INSTANCE_PATH"] = instance
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db
    from app.services import meetings, slips as slip_service

    app = create_app()
    with app.app_context():
        if url.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        definition = {
            "title": "基准测试会议",
            "expected": slips,
            "categories": [{"code": "A", "name": "甲", "weight": 30}, {"code": "B", "name": "乙", "weight": 40}, {"code": "C", "name": "丙", "weight": 30}],
            "targets": [{"kind": "person", "unit": f"单位{i}", "name": f"对象{i}", "title": "局长"} for i in range(targets)],
            "rounds": [{"title": f"第{i + 1}轮", "targets": "all"} for i in range(rounds)],
        }
        meeting = meetings.import_definition(definition, "bench")
        per = slips // 3
        issued = []
        for i, category in enumerate(meeting.categories):
            issued += slip_service.issue(meeting, category, per if i < 2 else slips - 2 * per, "bench")
        codes = [slip_service.code_of(s) for s in issued]
        round_ids = [r.id for r in meeting.rounds]
        target_ids = [t.id for t in meeting.targets]
        db.session.remove()
        db.engine.dispose()
    return codes, round_ids, target_ids


def open_round(round_id: int) -> None:
    from app import create_app
    from app.extensions import db
    from app.models import Round
    from app.services import meetings

    app = create_app()
    with app.app_context():
        round_ = db.session.get(Round, round_id)
        for other in round_.meeting.rounds:  # rounds run one after another
            if other.is_open:
                meetings.close_round(other, "bench")
        meetings.open_round(round_, "bench")
        db.session.remove()
        db.engine.dispose()


def burst(
    port: int, codes: list[str], round_id: int, target_ids: list[int], clients: int, acks: list[float] | None = None
) -> tuple[float, list[float], list[str]]:
    """Cast one ballot per code from ``clients`` clients, each ballot on a fresh connection
    (``BENCH_KEEPALIVE=1``: one kept-alive connection per client); ``acks`` receives the
    monotonic time each 201 arrived.

    The clients are asyncio connections in this one thread, writing raw HTTP/1.1: the load
    generator shares the server's two cores, and 64 Python threads speaking ``http.client``
    took a large share of them (``burst.cpu_seconds`` tells how much this one takes)."""
    queue = list(codes)
    latencies: list[float] = []
    errors: list[str] = []

    def request_bytes(code: str) -> bytes:
        body = json.dumps({"marks": {str(t): (i + len(code)) % 4 for i, t in enumerate(target_ids)}}).encode()
        head = (
            f"POST /api/v1/ballot/{code}/rounds/{round_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{'' if KEEPALIVE else 'Connection: close' + chr(13) + chr(10)}\r\n"
        )
        return head.encode() + body

    async def read_response(reader) -> int:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next((int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")), 0)
        if length:
            await reader.readexactly(length)
        return status

    async def client():
        reader = writer = None
        while queue:
            code = queue.pop()
            data = request_bytes(code)
            t0 = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(data)
                status = await asyncio.wait_for(read_response(reader), 60)
                if not KEEPALIVE:
                    writer.close()
                    reader = writer = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ValueError) as error:
                status = repr(error)
                if writer is not None:
                    writer.close()
                reader = writer = None
            latencies.append(time.perf_counter() - t0)
            if status != 201:
                errors.append(str(status))
            elif acks is not None:
                acks.append(time.monotonic())
        if writer is not None:
            writer.close()

    async def main():
        await asyncio.gather(*(client() for _ in range(clients)))

    cpu0 = resource.getrusage(resource.RUSAGE_THREAD)
    t0 = time.perf_counter()
    run(main())
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_THREAD)
    burst.cpu_seconds = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return seconds, latencies, errors


#: Environment variables that override gunicorn.conf.py's shape, to try others.
SHAPE = (("BENCH_WORKERS", "-w"), ("BENCH_THREADS", "--threads"), ("BENCH_CONNECTIONS", "--worker-connections"))


def server_description() -> str:
    """The server's shape as gunicorn.conf.py sets it (read from the file), and any override."""
    import runpy

    conf = runpy.run_path(os.path.join(ROOT, "gunicorn.conf.py"))
    shape = f"{conf['workers']} workers × {conf['threads']} threads, {conf['worker_class']}, {conf['worker_connections']} connections per worker"
    overrides = ", ".join(f"{flag} {os.environ[variable]}" for variable, flag in SHAPE if os.environ.get(variable))
    return f"gunicorn.conf.py ({shape})" + (f" overridden by {overrides}" if overrides else "")


def start_server(url: str, instance: str, extra_env: dict | None = None, app: str = "wsgi:app") -> tuple[int, subprocess.Popen]:
    """gunicorn as docs/deploy.md runs it (gunicorn.conf.py), once booted; BENCH_WORKERS,
    BENCH_THREADS and BENCH_CONNECTIONS try other shapes."""
    port = free_port()
    shape = [option for variable, flag in SHAPE if os.environ.get(variable) for option in (flag, os.environ[variable])]
    env = dict(os.environ, SECRET_KEY=SECRET, DATABASE_URL=url, CEPING_INSTANCE_PATH=instance, **(extra_env or {}))
    server = subprocess.Popen(
        [os.path.join(ROOT, ".venv", "bin", "gunicorn"), "-c", "gunicorn.conf.py", *shape,
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--graceful-timeout", "2", app],
        cwd=ROOT, env=env,
    )
    for _ in range(100):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/v")
            conn.getresponse().read()
            break
        except OSError:
            time.sleep(0.1)
        finally:
            conn.close()
    time.sleep(1.0)  # let both workers finish booting
    return port, server


@contextmanager
def serving(url: str, instance: str, extra_env: dict | None = None, app: str = "wsgi:app", cleanup: bool = True):
    """Run gunicorn for the ``with`` block, then stop it (and remove the instance folder)."""
    port, server = start_server(url, instance, extra_env, app)
    serving.pid = server.pid
    try:
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        if cleanup:
            shutil.rmtree(instance, ignore_errors=True)


def _processes() -> list[tuple[str, str, list[str]]]:
    """(pid, command name, the fields of /proc/pid/stat after the name) of every process."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
                head, _, tail = fh.read().rpartition(")")
        except OSError:
            continue
        found.append((pid, head.partition("(")[2], tail.split()))
    return found


def _workers(master_pid: int) -> list[str]:
    """The pids of gunicorn's workers (the master's children)."""
    return [pid for pid, _name, fields in _processes() if fields[1] == str(master_pid)]  # field 4: parent pid


def worker_peak_rss_mb(master_pid: int) -> list[float]:
    """Peak resident memory (VmHWM) of each gunicorn worker, in MB (B5)."""
    peaks = []
    for pid in _workers(master_pid):
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
        peaks.append(int(fields["VmHWM"].split()[0]) / 1024)
    return sorted(peaks)


def cpu_seconds(master_pid: int) -> tuple[float, float, float]:
    """CPU time used so far by gunicorn's workers, by the PostgreSQL server's processes, and by
    the whole machine (also SQLite inside the workers, the load generator, anything else), in
    seconds. Divided by the ballots of a burst: the cost of one ballot, whatever the queueing."""
    tick = os.sysconf("SC_CLK_TCK")
    workers = database = 0
    for _pid, name, fields in _processes():
        used = int(fields[11]) + int(fields[12])  # utime, stime
        if fields[1] == str(master_pid):
            workers += used
        elif name == "postgres":
            database += used
    with open("/proc/stat", encoding="ascii") as fh:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fh.readline().split()[1:9])
    return workers / tick, database / tick, (user + nice + system + irq + softirq + steal) / tick


def ceiling(url: str, codes: list[str], clients: int) -> float:
    """Ballots/s of the bare one-row insert under the same server settings (B1's ceiling)."""
    from sqlalchemy import create_engine, text

    instance = tempfile.mkdtemp(prefix="ceping-ceiling-")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS ceiling_row"))
        conn.execute(text("CREATE TABLE ceiling_row (id INTEGER PRIMARY KEY, value VARCHAR(64) NOT NULL)" if url.startswith("sqlite")
                          else "CREATE TABLE ceiling_row (id SERIAL PRIMARY KEY, value VARCHAR(64) NOT NULL)"))
    engine.dispose()
    with serving(url, instance, app="bench.ceiling_app:app") as port:
        seconds, latencies, errors = burst(port, codes, 1, [], clients)
    return len(latencies) / seconds


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@dataclass(frozen=True)
class Burst:
    rate: float  # ballots/s
    latencies_ms: list[float]
    errors: list[str]
    cpu_ms: list[float]  # per ballot: workers, PostgreSQL, machine
    generator_share: float  # of one core

    @property
    def p99(self) -> float:
        return pct(self.latencies_ms, 99)


def measured_burst(port: int, pid: int, codes: list[str], round_id: int, target_ids: list[int], clients: int) -> Burst:
    open_round(round_id)
    cpu0 = cpu_seconds(pid)
    seconds, latencies, errors = burst(port, codes, round_id, target_ids, clients)
    cpu1 = cpu_seconds(pid)
    return Burst(
        len(latencies) / seconds,
        [x * 1000 for x in latencies],
        errors,
        [(b - a) * 1000 / len(latencies) for a, b in zip(cpu0, cpu1)],
        burst.cpu_seconds / seconds,
    )


def row(clients: int, bursts: list[Burst]) -> str:
    """The median burst (by ballots/s) of a level, with the spread of all of them."""
    bursts = sorted(bursts, key=lambda b: b.rate)
    mid = bursts[len(bursts) // 2]
    ms = mid.latencies_ms
    errors = sum(len(b.errors) for b in bursts)
    spread = f"{bursts[0].rate:.0f}–{bursts[-1].rate:.0f} | {min(b.p99 for b in bursts):.0f}–{max(b.p99 for b in bursts):.0f}"
    return (
        f"| {clients} | {mid.rate:.0f} | {statistics.median(ms):.1f} | {pct(ms, 95):.1f} | {mid.p99:.1f} | {max(ms):.1f} | {errors} | {spread} "
        f"| {mid.cpu_ms[0]:.2f} / {mid.cpu_ms[1]:.2f} / {mid.cpu_ms[2]:.2f} | {mid.generator_share:.0%} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--slips", type=int, default=1000)
    parser.add_argument("--targets", type=int, default=30)
    parser.add_argument("--clients", default="1,16,64")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]

    instance = tempfile.mkdtemp(prefix="ceping-bench-")
    url = "sqlite:///" + os.path.join(instance, "bench.sqlite3") if args.db == "sqlite" else pg_url()
    codes, round_ids, target_ids = seed(url, instance, args.slips, args.targets, len(levels) * args.repeat)
    rounds = iter(round_ids)
    with serving(url, instance, cleanup=False) as port:
        lines = [
            f"{args.slips} ballots × {args.targets} targets per burst, JSON API, a fresh connection per ballot, "
            f"{server_description()}, {args.db}; {args.repeat} bursts per level (each a fresh round): "
            "the median burst, and the spread of all",
            "",
            "| clients | ballots/s | p50 ms | p95 ms | p99 ms | max ms | errors (all bursts) | ballots/s spread | p99 spread "
            "| CPU ms per ballot: workers / PostgreSQL / machine | load generator (of a core) |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        medians = {}
        for clients in levels:
            bursts = [measured_burst(port, serving.pid, codes, next(rounds), target_ids, clients) for _ in range(args.repeat)]
            lines.append(row(clients, bursts))
            medians[clients] = sorted(b.rate for b in bursts)[len(bursts) // 2]
            for b in bursts:
                if b.errors:
                    lines.append(f"|  | errors: {sorted(set(b.errors))[:5]} |" + "  |" * 9)
        peaks = worker_peak_rss_mb(serving.pid)
        top = max(levels)
        ceilings = sorted(ceiling(url, codes, top) for _ in range(args.repeat))
        ceiling_rate = ceilings[len(ceilings) // 2]
        lines += [
            "",
            f"Ceiling (bare Flask + Flask-SQLAlchemy one-row insert, same server and database settings, {top} clients, "
            f"median of {args.repeat}): {ceiling_rate:.0f} requests/s (spread {ceilings[0]:.0f}–{ceilings[-1]:.0f}); "
            f"the cast endpoint at {top} clients reaches {medians[top] / ceiling_rate:.0%} of it.",
            f"Peak RSS per worker during the bursts (B5): {', '.join(f'{p:.0f} MB' for p in peaks)}.",
        ]
        record(f"Ballot burst ({args.db})", lines)
    shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
