"""Login, sessions, API tokens, the request gate and the security headers.

Every request resolves its caller first: an ``Authorization: Bearer`` API
token, else the Flask-Login session.  The caller's jurisdiction becomes
``g.scope`` (which every query ANDs into its SQL) and the caller becomes
``g.actor`` (events, audit log).  Anonymous callers see only the login page
(and, when ``PUBLIC_HEAT`` is on, the district heat layer without details).
"""

from __future__ import annotations

import datetime as dt
import secrets
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
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from ...db import get_session
from ...domain import ROLES
from ...errors import Forbidden
from ...models import ApiToken, AuditLog, User
from ...services import accounts

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

# Endpoints anyone may reach.
PUBLIC_ENDPOINTS = {"auth.login", "static", "health.healthz", "public.notice"}
# Endpoints published when PUBLIC_HEAT is on (district heat, no enterprise details).
PUBLIC_HEAT_ENDPOINTS = {"map.index", "map.districts", "map.regions_geojson"}
# Writes a read-only account may still make (its own session and tokens).
SELF_SERVICE_ENDPOINTS = {"auth.login", "auth.logout", "auth.token_create", "auth.token_revoke"}


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
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    return LoginUser(user) if user is not None and user.active else None


def _wants_json() -> bool:
    return (
        request.path.startswith(("/api/", "/ogc", "/tiles/"))
        or request.path.endswith((".json", ".geojson", ".pbf"))
        or request.is_json
    )


def _gate() -> Response | None:
    """Resolve the caller and refuse what it may not do."""
    if not current_app.config.get("LOGIN_REQUIRED", True):
        return None
    endpoint = request.endpoint or ""
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
            current_app.config.get("PUBLIC_HEAT") and endpoint in PUBLIC_HEAT_ENDPOINTS
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
    if current_app.config.get("WTF_CSRF_ENABLED", True) and request.method not in (
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


def _security_headers(resp: Response) -> Response:
    nonce = g.get("csp_nonce")
    script_src = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    img_src = "'self' data: blob:"
    basemap = current_app.config.get("BASEMAP", "none")
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
    app.config.setdefault("LOGIN_REQUIRED", True)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked in the gate (tokens are exempt)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    app.before_request(_gate)
    app.after_request(_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["role_names"] = ROLES

    @app.errorhandler(CSRFError)
    def _csrf_error(err: CSRFError):  # type: ignore[no-untyped-def]
        message = "表单已过期或来源无效，请刷新页面后重试"
        if _wants_json():
            return jsonify({"error": "csrf", "message": message}), 400
        return render_template("error.html", status=400, message=message), 400


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
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
        login_user(LoginUser(user))
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", error=error, username=username)


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    """退出登录。"""
    logout_user()
    return redirect(url_for("auth.login"))


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
    date_from = _date_arg("from")
    date_to = _date_arg("to")
    if person:
        q = q.where(AuditLog.actor.contains(person))
    if obj_type:
        q = q.where(AuditLog.object_type == obj_type)
    if obj_id:
        q = q.where(AuditLog.object_id == obj_id)
    if date_from:
        q = q.where(AuditLog.at >= date_from)
    if date_to:
        q = q.where(AuditLog.at < date_to + dt.timedelta(days=1))
    page = max(1, request.args.get("page", 1, type=int) or 1)
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
