"""Pure domain core: standard library only.

Everything here takes plain values and returns frozen dataclasses, so the results page, the
projector, the PDF, the spreadsheet and the JSON API all share one arithmetic. A test
(tests/core/test_purity.py) fails if anything here imports Flask, SQLAlchemy or the models.
"""
