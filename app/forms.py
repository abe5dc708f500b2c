"""The base of every organizer form: WTForms' own messages in Chinese.

Flask-WTF would translate through Flask-Babel, which this app does not need; WTForms ships
a Chinese catalogue of its built-in messages ("Not a valid date value." → 不是有效的日期),
so forms take it directly (``WTF_I18N_ENABLED = False`` in the config).
"""

from flask_wtf import FlaskForm


class BaseForm(FlaskForm):
    class Meta:
        locales = ["zh"]
