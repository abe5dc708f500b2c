"""The application factory and its configuration (issue: foundation)."""

import pytest

from app import create_app
from app.config import Config, normalize_url


def test_secret_key_is_required_outside_demo_and_debug(tmp_path, monkeypatch):
    monkeypatch.setenv("CEPING_INSTANCE_PATH", str(tmp_path))

    class Production(Config):
        SECRET_KEY = None
        DEMO = False
        SQLALCHEMY_DATABASE_URI = "sqlite:///" + str(tmp_path / "x.sqlite3")

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Production)


def test_demo_mode_generates_and_keeps_a_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("CEPING_INSTANCE_PATH", str(tmp_path))

    class Demo(Config):
        SECRET_KEY = None
        DEMO = True
        SQLALCHEMY_DATABASE_URI = "sqlite:///" + str(tmp_path / "x.sqlite3")

    first = create_app(Demo).config["SECRET_KEY"]
    assert len(first) == 64 and create_app(Demo).config["SECRET_KEY"] == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_database_urls_use_psycopg3():
    assert normalize_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_url("sqlite:///x") == "sqlite:///x"


def test_sqlite_runs_in_wal_with_foreign_keys_and_full_sync(app):
    from app.extensions import db

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_qr_base_url_replaces_loopback_with_the_lan_address(app):
    """QR codes must carry an address phones can reach (PUBLIC_BASE_URL, else the host)."""
    from app.services.slips import lan_address, public_base_url

    with app.test_request_context("/", base_url="http://192.168.1.20:8000"):
        assert public_base_url() == "http://192.168.1.20:8000"
    with app.test_request_context("/", base_url="http://localhost:8000"):
        assert public_base_url() == f"http://{lan_address()}:8000"
    app.config["PUBLIC_BASE_URL"] = "http://10.0.0.5:9000/"
    with app.test_request_context("/", base_url="http://localhost:8000"):
        assert public_base_url() == "http://10.0.0.5:9000"
