"""Helpers shared by the benchmarks: machine description and result recording."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "docs", "performance.md")


def machine() -> str:
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def record(section: str, lines: list[str]) -> None:
    """Append a dated section to docs/performance.md and echo it."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    text = [f"\n### {section} — {stamp}, commit {commit()}", f"Machine: {machine()}", ""] + lines + [""]
    print("\n".join(text))
    if os.environ.get("BENCH_NO_RECORD") != "1":
        with open(RESULTS, "a", encoding="utf-8") as fh:
            fh.write("\n".join(text))
