"""B1's ceiling: a bare Flask endpoint that inserts one row through Flask-SQLAlchemy, served
exactly like the product (gunicorn.conf.py, SQLite WAL with synchronous=FULL, or
PostgreSQL). Same URL shape as the cast endpoint so the burst harness drives both."""

from __future__ import annotations

import os
import sqlite3

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column


@event.listens_for(Engine, "connect")
def _pragmas(dbapi_connection, _record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=15000", "synchronous=FULL"):
            dbapi_connection.execute(f"PRAGMA {pragma}")


app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
db = SQLAlchemy(app)


class Row(db.Model):
    __tablename__ = "ceiling_row"
    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(64))


@app.post("/api/v1/ballot/<code>/rounds/<int:round_id>")
def insert(code: str, round_id: int):
    db.session.add(Row(value=code))
    db.session.commit()
    return "", 201


@app.get("/v")
def ready():
    return "ok"
