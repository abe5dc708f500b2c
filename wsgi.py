"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi …``."""

import gc

from app import create_app

app = create_app()

# The garbage collector, tuned for a burst of ballots (B1, docs/performance.md):
# - the objects made while loading (Flask, SQLAlchemy, the app: most of a worker's heap) live
#   as long as the process; frozen, they stay out of the collector's full passes. Unfrozen,
#   each full pass stopped a worker for 65–85 ms during a burst; frozen, 2–4 ms (p99 at 64
#   clients: SQLite 285 → 246 ms, PostgreSQL 400 → 321 ms, interleaved A/B);
# - a request makes thousands of short-lived objects, nearly all freed by reference counting;
#   collecting the youngest generation every 20,000 allocations instead of 700 cost 3–4% less
#   CPU per ballot on both databases.
gc.freeze()
gc.set_threshold(20_000, 20, 10)
