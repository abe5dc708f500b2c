"""Extensions, created unbound and bound in create_app()."""

import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from flask_compress import Compress
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Named constraints so that Alembic can alter them later, also on SQLite (batch mode).
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
compress = Compress()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录"


T = TypeVar("T")


class PerEngine(Generic[T]):
    """One object per database engine of this process, made on first use (``get`` in an app
    context): for caches and queues that must never mix two databases, as two apps in one
    process (tests, embedding) would. Kept weakly: an app and its engine go away together."""

    def __init__(self, make: Callable[[], T]):
        self._make = make
        self._made: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self) -> T:
        engine = db.engine
        found = self._made.get(engine)
        if found is None:
            with self._lock:
                found = self._made.get(engine)
                if found is None:
                    found = self._made[engine] = self._make()
        return found
