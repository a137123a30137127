"""Login, sessions, API tokens, the request gate and the security headers.

Every request resolves its caller first: an ``Authorization: Bearer`` API
token, else the Flask-Login session.  The caller's jurisdiction becomes
``g.scope`` (which every query ANDs into its SQL) and the caller becomes
``g.actor`` (events, audit log).  Anonymous callers see only the login page
(and, when ``PUBLIC_HEAT`` is on, the district heat layer without details).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import unicodedata
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie_session
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ...db import get_session
from ...domain import ROLES
from ...errors import Forbidden
from ...models import ApiToken, AuditLog, User
from ...queries.filters import parse_page_number
from ...services import accounts

LOGGER = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

# Endpoints anyone may reach.
PUBLIC_ENDPOINTS = {"auth.login", "static", "health.healthz", "public.notice"}
# Endpoints published when PUBLIC_HEAT is on (district heat, no enterprise details).
PUBLIC_HEAT_ENDPOINTS = {"map.index", "map.districts", "map.regions_geojson"}
# Writes a read-only account may still make (its own session, password and tokens).
SELF_SERVICE_ENDPOINTS = {"auth.login", "auth.logout", "auth.password", "auth.token_create", "auth.token_revoke"}
# The account's session epoch as it was at login, kept in the signed session cookie.
EPOCH_KEY = "session_epoch"


class LoginUser:
    """The Flask-Login wrapper around an account row."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.id = user.id
        self.is_authenticated = True
        self.is_active = user.active
        self.is_anonymous = False

    def get_id(self) -> str:
        return str(self.user.id)


@login_manager.user_loader
def _load_user(user_id: str) -> LoginUser | None:
    """The session's account, unless it is disabled or its sessions were ended since login."""
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    if user is None or not user.active or cookie_session.get(EPOCH_KEY) != user.session_epoch:
        return None
    return LoginUser(user)


def _sign_in(user: User) -> None:
    """Start a session for ``user`` carrying the account's current session epoch."""
    login_user(LoginUser(user))
    cookie_session[EPOCH_KEY] = user.session_epoch


def _wants_json() -> bool:
    return (
        request.path.startswith(("/api/", "/ogc", "/tiles/"))
        or request.path.endswith((".json", ".geojson", ".pbf"))
        or request.is_json
    )


def _gate() -> Response | None:
    """Resolve the caller and refuse what it may not do."""
    if not current_app.config["LOGIN_REQUIRED"]:
        return None
    endpoint = request.endpoint or ""
    if endpoint == "static" and request.method in ("GET", "HEAD"):
        # public files: a page names some twenty, and resolving the signed-in account
        # would read it from the database for each
        return None
    user: User | None = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = accounts.user_for_token(get_session(), header[7:].strip())
        if user is None:
            return _unauthorised("API 令牌无效或已撤销", json=True)
        get_session().commit()  # last_used_at
        g.via_token = True
    elif current_user.is_authenticated:
        user = current_user.user
    if user is None:
        if endpoint in PUBLIC_ENDPOINTS or (
            current_app.config["PUBLIC_HEAT"] and endpoint in PUBLIC_HEAT_ENDPOINTS
        ):
            if request.method not in ("GET", "HEAD") and endpoint != "auth.login":
                abort(403)
            if endpoint != "auth.login" and endpoint != "static" and endpoint != "health.healthz":
                g.scope = accounts.ALL  # published layer: aggregates only
            _csrf_check()
            return None
        return _unauthorised("请先登录")
    g.user = user
    g.scope = accounts.scope_for(user)
    g.actor = accounts.actor_for(user)
    if (
        request.method not in ("GET", "HEAD", "OPTIONS")
        and not g.actor.may("report_hazard")
        and not g.actor.may("edit_register")
        and endpoint not in SELF_SERVICE_ENDPOINTS
    ):
        raise Forbidden("只读账号不能修改数据")
    if not g.get("via_token"):
        _csrf_check()
    return None


def _csrf_check() -> None:
    if current_app.config["WTF_CSRF_ENABLED"] and request.method not in (
        "GET", "HEAD", "OPTIONS",
    ):
        csrf.protect()


def _unauthorised(message: str, *, json: bool = False) -> Response:
    if json or _wants_json():
        resp = jsonify({"error": "unauthorised", "message": message})
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="geo-service"'
        return resp
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _record_refusal(resp: Response) -> Response:
    """Write an audit row for every 403 answered to a signed-in account.

    The refused request's own transaction is rolled back, so the row is
    written in a session and transaction of its own (its own connection from
    the pool; in the tests, a savepoint of the test's connection).
    """
    user = g.get("user")
    if resp.status_code != 403 or user is None:
        return resp
    message = ""
    if resp.is_json:
        message = str((resp.get_json(silent=True) or {}).get("message", ""))
    request_session = g.get("db_session")
    if request_session is not None:
        request_session.rollback()  # nothing of a refused request is kept (the page is already rendered)
    try:
        with Session(bind=current_app.extensions["geo_bind"], join_transaction_mode="create_savepoint") as own:
            accounts.audit_refusal(own, g.actor, request.method, request.full_path.rstrip("?"), message)
            own.commit()
    except SQLAlchemyError:  # the refusal stands even if it cannot be recorded
        LOGGER.exception("could not record the refusal of %s %s for %s", request.method, request.path,
                         user.username)
    return resp


def _security_headers(resp: Response) -> Response:
    nonce = g.get("csp_nonce")
    script_src = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    img_src = "'self' data: blob:"
    basemap = current_app.config["BASEMAP"]
    if basemap not in ("none", ""):
        host = "https://*.tianditu.gov.cn" if basemap == "tianditu" else _origin(basemap)
        if host:
            img_src += " " + host
    resp.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'self'; script-src {script_src}; style-src 'self' 'unsafe-inline'; "
        f"img-src {img_src}; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    )
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    return resp


def _origin(url: str) -> str | None:
    parts = urlsplit(url.replace("{s}", "a"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname
    if "{s}" in url:
        host = "*." + host.split(".", 1)[1] if "." in host else host
    return f"{parts.scheme}://{host}"


def csp_nonce() -> str:
    """A per-response nonce for the inline scripts a page must have (folium's)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    app.before_request(_gate)
    app.after_request(_security_headers)
    app.after_request(_record_refusal)
    accounts.warm_up()  # the dummy hash of unknown users, made before the first login
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["role_names"] = ROLES

    @app.errorhandler(CSRFError)
    def _csrf_error(err: CSRFError):  # type: ignore[no-untyped-def]
        message = "表单已过期或来源无效，请刷新页面后重试"
        if _wants_json():
            return jsonify({"error": "csrf", "message": message}), 400
        return render_template("error.html", status=400, message=message), 400


def safe_next(target: str | None) -> str | None:
    r"""``target`` if it is a path on this site, else None.

    Refused: anything not starting with exactly one ``/`` (``//host``, a
    scheme), backslashes (``/\host``, which browsers read as ``//host``),
    and control characters (a tab or a newline after ``/``, which browsers
    drop, turning ``/%09/host`` into ``//host``).

    >>> safe_next("/hazards?region=532500"), safe_next("/\t/evil.example"), safe_next("/\\evil")
    ('/hazards?region=532500', None, None)
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(unicodedata.category(ch) == "Cc" for ch in target):  # C0, DEL, C1
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _next_page() -> str:
    target = safe_next(request.args.get("next"))
    if target is not None:
        return target
    return url_for("map.index") if "map.index" in current_app.view_functions else "/"


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    """登录页。"""
    error = None
    username = ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        session = get_session()
        try:
            user = accounts.authenticate(session, username, password, request.remote_addr)
        except (accounts.BadCredentials, accounts.LoginThrottled) as err:
            session.commit()  # keep the failed attempt
            error = err.user_msg
            status = err.http_status
            return render_template("auth/login.html", error=error, username=username), status
        session.commit()
        _sign_in(user)
        return redirect(_next_page())
    return render_template("auth/login.html", error=error, username=username)


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    """退出登录（本账号在所有设备上的登录都随之失效）。"""
    if current_user.is_authenticated:
        accounts.end_sessions(current_user.user)
        get_session().commit()
    logout_user()
    cookie_session.pop(EPOCH_KEY, None)
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def password():  # type: ignore[no-untyped-def]
    """修改本人密码（原密码 + 两次新密码）；其他会话随之失效。"""
    user = g.user
    min_length = int(current_app.config["MIN_PASSWORD_LENGTH"])
    error = None
    status = 200
    if request.method == "POST":
        new = request.form.get("password") or ""
        session = get_session()
        try:
            if new != (request.form.get("password2") or ""):
                raise accounts.InvalidParameter("password2", "两次输入的新密码不一致")
            accounts.change_password(session, user, request.form.get("old_password") or "", new,
                                     ip=request.remote_addr, min_length=min_length)
        except accounts.InvalidParameter as err:
            session.commit()  # only the recorded attempt at the old password (throttling)
            error, status = err.extra.get("reason", err.user_msg), 400
        except accounts.LoginThrottled as err:
            session.commit()
            error, status = err.user_msg, err.http_status
        else:
            accounts.audit(session, g.actor, "set_password", "app_user", user.id)
            session.commit()
            if not g.get("via_token"):
                _sign_in(user)  # this browser stays signed in with the new epoch
            flash("密码已修改；本账号在其他设备和浏览器上的登录已全部失效")
            return redirect(url_for("auth.account"), 303)
    return render_template("auth/password.html", user=user, error=error, min_length=min_length), status


@bp.get("/account")
def account():  # type: ignore[no-untyped-def]
    """本人账号与 API 令牌。"""
    session = get_session()
    tokens = session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == g.user.id).order_by(ApiToken.id.desc())
    ).all()
    return render_template("auth/account.html", user=g.user, tokens=tokens, new_token=None)


@bp.post("/account/tokens")
def token_create():  # type: ignore[no-untyped-def]
    """新建 API 令牌（明文只显示这一次）。"""
    session = get_session()
    name = (request.form.get("name") or "脚本").strip()[:60]
    token = accounts.create_token(session, g.user, name)
    accounts.audit(session, g.actor, "create", "api_token", None, after={"name": name})
    session.commit()
    tokens = session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == g.user.id).order_by(ApiToken.id.desc())
    ).all()
    return render_template("auth/account.html", user=g.user, tokens=tokens, new_token=token)


@bp.post("/account/tokens/<int:token_id>/revoke")
def token_revoke(token_id: int):  # type: ignore[no-untyped-def]
    """撤销 API 令牌。"""
    session = get_session()
    accounts.revoke_token(session, token_id, user=g.user)
    accounts.audit(session, g.actor, "revoke", "api_token", token_id)
    session.commit()
    flash("令牌已撤销")
    return redirect(url_for("auth.account"))


@bp.get("/admin/audit")
def audit_log():  # type: ignore[no-untyped-def]
    """审计日志（管理员）：按人员、对象、日期筛选。"""
    accounts.require(g.actor, "admin")
    session = get_session()
    q = sa.select(AuditLog).order_by(AuditLog.id.desc())
    person = (request.args.get("person") or "").strip()
    obj_type = (request.args.get("object_type") or "").strip()
    obj_id = (request.args.get("object_id") or "").strip()
    action = (request.args.get("action") or "").strip()
    date_from = _date_arg("from")
    date_to = _date_arg("to")
    if person:
        q = q.where(AuditLog.actor.contains(person))
    if obj_type:
        q = q.where(AuditLog.object_type == obj_type)
    if obj_id:
        q = q.where(AuditLog.object_id == obj_id)
    if action:
        q = q.where(AuditLog.action == action)
    if date_from:
        q = q.where(AuditLog.at >= date_from)
    if date_to:
        q = q.where(AuditLog.at < date_to + dt.timedelta(days=1))
    page = parse_page_number(request.args, per_page=100)
    total = session.scalar(sa.select(sa.func.count()).select_from(q.order_by(None).subquery()))
    rows = session.scalars(q.limit(100).offset((page - 1) * 100)).all()
    return render_template(
        "auth/audit.html", rows=rows, total=total, page=page, args=request.args
    )


def _date_arg(name: str) -> dt.date | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as err:
        from ...errors import InvalidParameter

        raise InvalidParameter(name, "日期格式应为 YYYY-MM-DD") from err
