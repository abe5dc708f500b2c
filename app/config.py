"""Configuration from the environment.

SQLite under ``instance/`` by default; PostgreSQL when ``DATABASE_URL`` is set
(``postgresql+psycopg://user@host/db``; a plain ``postgresql://`` URL is accepted too).
"""

from __future__ import annotations

import os


def _database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "ceping.sqlite3")
    return normalize_url(url)


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver for any PostgreSQL URL."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Config:
    #: Required outside demo/debug/testing; create_app refuses to start without it.
    SECRET_KEY = os.environ.get("SECRET_KEY")
    #: Demo mode (the README's first command): a secret key is generated and kept in instance/.
    DEMO = os.environ.get("CEPING_DEMO") == "1"
    #: The address QR codes carry, e.g. http://192.168.1.20:8000. Empty: the address the
    #: organizer reached the server on (the LAN address in a hall).
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
    SQLALCHEMY_DATABASE_URI: str | None = None  # filled in by create_app from the instance path
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    #: A pooled database connection unused for longer is checked before use (app/pool.py).
    DB_PING_IDLE_SECONDS = 1.0
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE") == "1"
    REMEMBER_COOKIE_HTTPONLY = True
    WTF_CSRF_TIME_LIMIT = None  # an organizer console stays open through a whole meeting
    WTF_I18N_ENABLED = False  # WTForms' own Chinese catalogue, see app/forms.py
    MAX_CONTENT_LENGTH = 8 * 1024 * 1024  # the largest import file we accept
    #: Reverse proxies in front of the app that set X-Forwarded-For (0: none, the default).
    TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
    #: Event streams poll the database this often (events cross gunicorn workers that way).
    LIVE_POLL_SECONDS = float(os.environ.get("LIVE_POLL_SECONDS", "0.1"))
    #: …and end after this long, freeing their thread; EventSource reconnects by itself.
    LIVE_STREAM_SECONDS = float(os.environ.get("LIVE_STREAM_SECONDS", "300"))
    #: gzip pages, JSON, CSS and JS on the wire (phones on weak hall Wi-Fi). gzip only: every
    #: phone browser takes it, over plain HTTP too; never event streams (each event must leave
    #: at once, not when a compressor's buffer fills).
    COMPRESS_ALGORITHM = "gzip"
    COMPRESS_STREAMS = False
    COMPRESS_LEVEL = 6
    COMPRESS_MIN_SIZE = 1024
    TESTING = False

    @classmethod
    def database_url(cls, instance_path: str) -> str:
        return cls.SQLALCHEMY_DATABASE_URI or _database_url(instance_path)


class TestConfig(Config):
    TESTING = True
    LIVE_POLL_SECONDS = 0.05
    LIVE_STREAM_SECONDS = 1.0
    SECRET_KEY = "test-secret-key"
    WTF_CSRF_ENABLED = True
    SQLALCHEMY_DATABASE_URI = None  # conftest sets it per test
    PUBLIC_BASE_URL = ""
