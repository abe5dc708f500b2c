"""The production server's settings (gunicorn.conf.py) as a phone on weak hall Wi-Fi meets
them."""

from __future__ import annotations

import socket
import time

import pytest


def _server_side_timer(port: int, client_port: int) -> str | None:
    """The kernel's timer field ("tr:when") of the server's end of our connection."""
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path, encoding="ascii") as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote = int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16)
            if local == port and remote == client_port:
                return fields[5]
    return None


def test_a_connection_stuck_mid_request_is_probed_by_tcp_keepalive(server):
    """A phone that leaves the Wi-Fi halfway through sending its ballot must not hold a server
    thread for good: the accepted connection carries TCP keepalive (timer type 2), which asks
    a silent peer after 20 s and frees the thread when nobody answers."""
    phone = socket.create_connection(("127.0.0.1", server))
    try:
        phone.sendall(b"POST /api/v1/ballot/X/rounds/1 HTTP/1.1\r\nHost: hall\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{\"marks\":")  # and then the phone is gone
        deadline = time.monotonic() + 5
        timer = None
        while timer is None and time.monotonic() < deadline:
            time.sleep(0.1)
            timer = _server_side_timer(server, phone.getsockname()[1])
        if timer is None:
            pytest.skip("/proc/net/tcp does not list the connection here")
        kind, when = timer.split(":")
        assert int(kind, 16) == 2  # the keepalive timer is armed
        assert 0 < int(when, 16) <= 20 * 100  # first probe within 20 s (clock ticks of 1/100 s)
    finally:
        phone.close()
