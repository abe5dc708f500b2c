"""Benchmark: a burst of ballots through the JSON API against gunicorn (2 workers × 16
threads, gthread), as documented for production in docs/deploy.md.

    .venv/bin/python bench/cast_burst.py [--db sqlite|postgresql] [--slips 500] [--targets 30] [--clients 1,16,64]

Seeds a meeting with N slips and a T-target round, starts gunicorn on 127.0.0.1, and casts
every slip's ballot once per concurrency level (a fresh round each time), reporting ballots/s
and latency percentiles. Each ballot marks every target. Loopback only; bounded in count.
"""

from __future__ import annotations

import argparse
import asyncio
from contextlib import contextmanager
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
    """Cast one ballot per code from ``clients`` keep-alive connections; ``acks`` receives the
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
    asyncio.run(main())
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_THREAD)
    burst.cpu_seconds = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return seconds, latencies, errors


def start_server(url: str, instance: str, extra_env: dict | None = None, app: str = "wsgi:app") -> tuple[int, subprocess.Popen]:
    """gunicorn as docs/deploy.md runs it (2 workers × 16 threads, gthread), once booted;
    BENCH_WORKERS / BENCH_THREADS try other shapes."""
    port = free_port()
    env = dict(os.environ, SECRET_KEY=SECRET, DATABASE_URL=url, CEPING_INSTANCE_PATH=instance, **(extra_env or {}))
    server = subprocess.Popen(
        [os.path.join(ROOT, ".venv", "bin", "gunicorn"), "--no-control-socket", "-w", os.environ.get("BENCH_WORKERS", "2"), "-k", "gthread", "--threads", os.environ.get("BENCH_THREADS", "16"),
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--slips", type=int, default=1000)
    parser.add_argument("--targets", type=int, default=30)
    parser.add_argument("--clients", default="1,16,64")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]

    instance = tempfile.mkdtemp(prefix="ceping-bench-")
    url = "sqlite:///" + os.path.join(instance, "bench.sqlite3") if args.db == "sqlite" else pg_url()
    codes, round_ids, target_ids = seed(url, instance, args.slips, args.targets, len(levels))
    with serving(url, instance, cleanup=False) as port:
        lines = [
            f"{args.slips} ballots × {args.targets} targets per level, JSON API, gunicorn 2 workers × 16 threads (gthread), {args.db}",
            "",
            "| clients | ballots/s | p50 ms | p95 ms | p99 ms | max ms | errors | CPU ms per ballot: workers / PostgreSQL / machine | load generator |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for clients, round_id in zip(levels, round_ids):
            open_round(round_id)
            cpu0 = cpu_seconds(serving.pid)
            seconds, latencies, errors = burst(port, codes, round_id, target_ids, clients)
            cpu1 = cpu_seconds(serving.pid)
            per_ballot = [(b - a) * 1000 / len(latencies) for a, b in zip(cpu0, cpu1)]
            ms = [x * 1000 for x in latencies]
            lines.append(
                f"| {clients} | {len(latencies) / seconds:.0f} | {statistics.median(ms):.1f} | {pct(ms, 95):.1f} | {pct(ms, 99):.1f} | {max(ms):.1f} | {len(errors)} | {per_ballot[0]:.2f} / {per_ballot[1]:.2f} / {per_ballot[2]:.2f} | {burst.cpu_seconds / seconds:.0%} of a core |"
            )
            if errors:
                lines.append(f"|  | errors: {sorted(set(errors))[:5]} |  |  |  |  |  |  |  |")
        peaks = worker_peak_rss_mb(serving.pid)
        top = max(levels)
        ceiling_rate = ceiling(url, codes, top)
        best = max(float(line.split("|")[2]) for line in lines[4:] if line.startswith("| ") and line.split("|")[2].strip().replace(".", "").isdigit())
        lines += [
            "",
            f"Ceiling (bare Flask + Flask-SQLAlchemy one-row insert, same server and database settings, {top} clients): "
            f"{ceiling_rate:.0f} requests/s; the cast endpoint's best reaches {best / ceiling_rate:.0%} of it.",
            f"Peak RSS per worker during the bursts (B5): {', '.join(f'{p:.0f} MB' for p in peaks)}.",
        ]
        record(f"Ballot burst ({args.db})", lines)
    shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
