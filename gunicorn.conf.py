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

# At most 40 connections per worker, of every kind: being served, waiting for a thread, idle
# between two requests of one client (keep-alive: gunicorn keeps at most 40 - 16 = 24 of
# those, and closes a connection after its response rather than keep more), or accepted but
# silent so far. A worker at its bound stops accepting; new connections wait in the kernel's
# listen queue, which both workers take from in arrival order. Without the bound (gunicorn's
# default is 1,000), whichever worker happened to accept a connection kept it queued behind
# its own 16 threads, and the workers' queues grew unevenly. Interleaved A/B on PostgreSQL at
# 64 clients: 1,000 → 40, 570 → 671 ballots/s and p99 212 → 164 ms; 24 did the same as 40
# (676 and 674/s), so the bound leaves room for keep-alive and for silent connections (a
# phone's speculative pre-connect holds a slot for up to 7 s). SQLite: unchanged within the
# noise.
worker_connections = 40

# gunicorn 27 opens a control socket in the home folder by default; nothing here uses it.
control_socket_disable = True

# A phone that leaves the hall's Wi-Fi in the middle of sending a request leaves its thread
# waiting for the rest, and gthread reads without a time limit: the thread would be lost for
# good, and 16 such phones would stop a worker. TCP keepalive on the listening socket (each
# accepted connection inherits it) asks a silent peer after 20 s, every 5 s, and gives up
# after 3 unanswered probes: the read fails and the thread is free again after about 35 s.
# A phone that is still there answers the probes and keeps its connection.
KEEPALIVE_IDLE_SECONDS, KEEPALIVE_INTERVAL_SECONDS, KEEPALIVE_PROBES = 20, 5, 3


def when_ready(server):
    import socket

    for listener in server.LISTENERS:
        if listener.family in (socket.AF_INET, socket.AF_INET6):
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE_SECONDS)
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL_SECONDS)
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_PROBES)
