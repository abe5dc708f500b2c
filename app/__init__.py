"""CePing 测评票决: create_app() is the only way to build the application."""

from __future__ import annotations

import os
import secrets
import sqlite3

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .config import Config
from .extensions import compress, csrf, db, login_manager, migrate

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite: WAL so readers never block the writer; foreign keys on; wait for the write
    lock instead of failing at once; synchronous=FULL so a commit that was acknowledged to a
    voter survives a power cut (see docs/deploy.md)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()


def _secret_key(app: Flask) -> str:
    """SECRET_KEY is required, except in demo/debug/testing where one is generated once and
    kept in instance/secret_key (slip codes derive from it: changing it voids every slip)."""
    key = app.config.get("SECRET_KEY")
    if key:
        return key
    if not (app.config.get("DEMO") or app.debug or app.testing):
        raise RuntimeError(
            "SECRET_KEY is not set. Set it to a long random value and keep it: slip codes are "
            "derived from it (python -c 'import secrets; print(secrets.token_hex(32))')."
        )
    path = os.path.join(app.instance_path, "secret_key")
    if not os.path.exists(path):
        with open(path, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32))
        os.chmod(path, 0o600)
    with open(path, encoding="ascii") as fh:
        return fh.read().strip()


def create_app(config_class: type[Config] = Config) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("CEPING_INSTANCE_PATH") or os.path.join(ROOT, "instance"),
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    app.config.from_object(config_class)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config["SECRET_KEY"] = _secret_key(app)
    app.config["SQLALCHEMY_DATABASE_URI"] = config_class.database_url(app.instance_path)
    # Enough connections for a worker's threads (16) plus the one writing a batch of ballots
    # (services.group_commit), so that no cast waits for a connection. Errors and logs never
    # show a statement's parameters: a cast's are a slip and a ballot's contents (R23). The
    # most recently used connection goes out first, so idle ones stay idle (app/pool.py).
    pool = {"pool_size": 20, "max_overflow": 5, "pool_timeout": 30, "hide_parameters": True, "pool_use_lifo": True}
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"], **pool}

    proxies = int(app.config.get("TRUSTED_PROXY_COUNT") or 0)
    if proxies:
        # Behind a reverse proxy, take the client's address from X-Forwarded-For (rate limits,
        # docs/deploy.md); never trust the header without a proxy that sets it.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    db.init_app(app)
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):  # a file cannot go stale
        from .pool import ping_when_idle

        with app.app_context():
            ping_when_idle(db.engine, app.config["DB_PING_IDLE_SECONDS"])
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"))
    csrf.init_app(app)
    compress.init_app(app)
    login_manager.init_app(app)

    from . import models  # noqa: F401  (register the tables with the metadata)
    from .api.views import bp as api_bp
    from .auth.views import bp as auth_bp
    from .display.views import bp as display_bp
    from .organizer.views import bp as organizer_bp
    from .voting.views import bp as voting_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(organizer_bp)
    app.register_blueprint(voting_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(display_bp)
    # Voters and machines authenticate with the slip code in the URL and have no session
    # (cookies may be off in WeChat), so a CSRF token cannot apply; a forged cross-site post
    # would need the victim's code, which is the credential itself.
    csrf.exempt(voting_bp)
    csrf.exempt(api_bp)

    from .cli import register_cli
    from .web import register_web

    register_cli(app)
    register_web(app)
    return app
