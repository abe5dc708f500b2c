"""The production server's settings: ``gunicorn -c gunicorn.conf.py -b 0.0.0.0:8000 wsgi:app``.

Measured in bench/cast_burst.py (B1, docs/performance.md); the figures below are interleaved
A/B runs at 64 clients, each ballot on a fresh connection as phones make them.
"""

# One process per core. A process per core more only adds switching on two cores.
workers = 2

# Threads, because event streams (the hall display, the organizer's consoles) each hold one
# for as long as they are open (docs/deploy.md), and a cast waits in its thread while its
# batch is written (services.group_commit): 16 leave room for both.
worker_class = "gthread"
threads = 16

# At most 24 connections per worker: the 16 being served and 8 idle keep-alive ones (gunicorn
# closes a connection after its response rather than keep more). Beyond that a worker stops
# accepting and new connections wait in the kernel's listen queue, which both workers take
# from in arrival order. Without the bound (gunicorn's default is 1,000), whichever worker
# happened to accept a connection kept it queued behind its own 16 threads, and the workers'
# queues grew unevenly: PostgreSQL, 437 → 504 ballots/s and p99 276 → 209 ms with the bound;
# SQLite unchanged within the noise (885 and 839/s, p99 148 and 142 ms).
worker_connections = 24

# gunicorn 27 opens a control socket in the home folder by default; nothing here uses it.
control_socket_disable = True
