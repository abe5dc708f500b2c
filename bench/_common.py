"""Helpers shared by the benchmarks: machine description and result recording."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "docs", "performance.md")


def machine() -> str:
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def speed_probe_ms() -> float:
    """How long a fixed pure-Python loop takes now, in ms (lower is faster).

    This machine is shared, and its speed moves by ±40% from minute to minute: the probe,
    taken when a result is recorded, says which kind of minute the figures come from."""
    start = time.perf_counter()
    total = 0
    for i in range(2_000_000):
        total += i * i
    return (time.perf_counter() - start) * 1000


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def record(section: str, lines: list[str]) -> None:
    """Append a dated section to docs/performance.md and echo it."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    text = [f"\n### {section} — {stamp}, commit {commit()}", f"Machine: {machine()}; speed probe {speed_probe_ms():.0f} ms", ""] + lines + [""]
    print("\n".join(text))
    if os.environ.get("BENCH_NO_RECORD") != "1":
        with open(RESULTS, "a", encoding="utf-8") as fh:
            fh.write("\n".join(text))


def open_ballot(n: int, with_items: bool = False) -> str:
    """Seed (in the current app context) a meeting whose open round asks ``n`` leaders, with
    the issue-5 items when asked (德能勤绩廉 weighted, the default 逆向测评 and 使用意向 lists,
    at most 10 优秀); return a slip code for it. Used by page_size.py and lighthouse.py."""
    from app.services import items, meetings, slips as slip_service

    meeting = meetings.import_definition(
        {
            "title": "2026年度领导班子和领导干部民主测评大会",
            "expected": 3,
            "categories": [{"code": "A", "name": "全体", "weight": 100}],
            "targets": [{"kind": "person", "unit": f"区第{i}局", "name": f"测评对象{i}", "title": "副局长"} for i in range(n)],
            "rounds": [{"title": "领导干部民主测评", "targets": "all"}],
        },
        "bench",
    )
    if with_items:
        _, preset = items.DIMENSION_PRESETS["dnqjl_weighted"]
        items.set_kind_items(
            meeting.rounds[0], "person", dimensions=list(preset["person"]), reverse=list(items.DEFAULT_REVERSE["person"]),
            intent=list(items.DEFAULT_INTENT), top_cap=10, actor="bench",
        )
    slip = slip_service.issue(meeting, meeting.categories[0], 3, "bench")[0]
    meetings.open_round(meeting.rounds[0], "bench")
    return slip_service.code_of(slip)
