#!/usr/bin/env bash
# Run every benchmark and append the figures to docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY bench/slips_pdf.py 12 200 1000
$PY bench/cast_burst.py --db sqlite --slips 1000
$PY bench/cast_burst.py --db postgresql --slips 1000
$PY bench/results_speed.py --db sqlite
$PY bench/results_speed.py --db postgresql
$PY bench/page_size.py
$PY bench/display_latency.py --db sqlite
$PY bench/display_latency.py --db postgresql
$PY bench/lighthouse.py
