"""Response headers, error pages and template helpers shared by every blueprint."""

from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

from flask import Flask, Response, abort, current_app, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
#: Ids are INTEGER columns (32 bits on PostgreSQL); <int:…> in a URL has no upper bound.
MAX_ID = 2**31 - 1


_MARK_FIELD = re.compile(r"^t(\d{1,9})$")
_DIMENSION_FIELD = re.compile(r"^d(\d{1,9})_(\d{1,9})$")
_TICK_FIELD = re.compile(r"^([ri])(\d{1,9})$")


def ballot_from_form(form: MultiDict) -> tuple[dict[str, str], dict[str, dict]]:
    """A ballot form's fields (templates/voting/_ballot_fields.html, used by phones and by the
    staff's paper entry) as ``voting.check_ballot`` takes them:

    - ``t<target>`` → overall level as text ("" = 弃权); in a 差额票决 ballot each checked
      ``c`` (a candidate's target id) is a 同意 mark;
    - ``d<target>_<item>`` → a dimension's level (R15); ``r<target>`` → each ticked 逆向测评
      item (R9); ``i<target>`` → the chosen 使用意向 item (R18).
    """
    marks: dict[str, str] = {}
    items: dict[str, dict] = {}
    for key in form:
        if m := _MARK_FIELD.match(key):
            marks[m.group(1)] = form[key]
        elif m := _DIMENSION_FIELD.match(key):
            items.setdefault(m.group(1), {}).setdefault("dimensions", {})[m.group(2)] = form[key]
        elif m := _TICK_FIELD.match(key):
            values = form.getlist(key)
            if m.group(1) == "r":
                items.setdefault(m.group(2), {})["reverse"] = values
            else:
                items.setdefault(m.group(2), {})["intent"] = values[0] if len(values) == 1 else values
    for chosen in form.getlist("c"):
        marks[chosen] = "0"
    return marks, items


def live_stream_response(meeting_id: int) -> Response:
    """The event stream of a meeting's hall state (display and console share it)."""
    from .services import live

    app = current_app._get_current_object()
    stream = live.event_stream(app, meeting_id, interval=app.config["LIVE_POLL_SECONDS"], max_seconds=app.config["LIVE_STREAM_SECONDS"])
    response = Response(stream, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a reverse proxy must not buffer the stream
    return response


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus the work for a request that brings no cookie.

    Phones vote without a session (cookies may be off in WeChat), yet Flask built the cookie
    signer for every request and parsed the Cookie header to find nothing: about a tenth of
    the framework's share of a cast (B1, docs/performance.md). No cookie, no session: an
    empty one, as Flask itself would open.
    """

    def open_session(self, app, request):
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)


def wants_json() -> bool:
    return request.path.startswith("/api/")


def register_web(app: Flask) -> None:
    app.session_interface = CookieSessions()

    @app.url_value_preprocessor
    def ids_in_range(_endpoint, values):
        # An id beyond the column's range cannot exist, but the database raises (out of range)
        # instead of finding nothing: answer 404 like for any other unknown id.
        if values and any(isinstance(v, int) and not 0 <= v <= MAX_ID for v in values.values()):
            abort(404)

    from .core.scales import plain_number

    app.jinja_env.filters["plain_number"] = plain_number
    from .core.times import local

    # Stored times are naive UTC; people read them in the meeting's zone (app/core/times.py).
    app.jinja_env.filters["local_time"] = lambda dt: local(dt).strftime("%Y-%m-%d %H:%M") if dt else ""
    from .organizer.permissions import can

    # Templates hide what the current role may not use: {% if can('organizer.add_round') %}.
    app.jinja_env.globals["can"] = can

    @app.after_request
    def security_headers(response):
        # No inline scripts anywhere, so the policy can forbid them; no page may frame us.
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # Voting URLs carry the slip code: never send them on as a referrer.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.blueprint in ("voting", "api", "display") and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response

    def error_page(code: int, message: str):
        def handler(_error):
            if wants_json():
                return jsonify(error=message), code
            return render_template("error.html", code=code, message=message), code

        return handler

    app.register_error_handler(400, error_page(400, "请求有误，请返回重试"))
    app.register_error_handler(403, error_page(403, "没有权限"))
    app.register_error_handler(404, error_page(404, "页面不存在"))
    app.register_error_handler(405, error_page(405, "不支持此操作"))
    app.register_error_handler(413, error_page(413, "文件太大"))
    app.register_error_handler(500, error_page(500, "服务器出错，请稍后重试或联系工作人员"))

    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def csrf_error(_error):
        return render_template("error.html", code=400, message="页面已过期或缺少安全令牌，请返回刷新后重试"), 400
