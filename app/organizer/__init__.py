"""The organizer's console (blueprint ``organizer``, defined in views.py)."""

# The slip sheet job pages join the blueprint from their own module.
from . import jobs  # noqa: F401
