"""Accounts, passwords, API tokens, login throttling and the audit log.

Passwords are hashed with scrypt (Werkzeug's default); API tokens are random
and only their SHA-256 is stored, so a database dump reveals neither.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import secrets
from collections.abc import Mapping
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..domain import ROLES, Actor
from ..errors import Forbidden, GeoServiceError, InvalidParameter, NotFound
from ..models import ApiToken, AuditLog, Enterprise, Hazard, LoginAttempt, Region, User
from ..queries.scope import ALL, Scope

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "LoginThrottled",
    "BadCredentials",
    "clean_unit",
    "create_user",
    "check_new_password",
    "set_password",
    "change_password",
    "set_active",
    "end_sessions",
    "warm_up",
    "authenticate",
    "create_token",
    "revoke_token",
    "user_for_token",
    "scope_for",
    "actor_for",
    "audit",
    "audit_download",
    "audit_refusal",
    "require",
    "DEMO_USERS",
    "ensure_demo_users",
]

LOGGER = logging.getLogger(__name__)

# Default of the MIN_PASSWORD_LENGTH setting (config.Config reads it from here).
MIN_PASSWORD_LENGTH = 10
# Throttling: this many failures for one username (or from one address)
# within the window refuse further attempts until the window has passed.
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
TOKEN_PREFIX = "gs_"


class LoginThrottled(GeoServiceError):
    http_status = 429
    code = "login_throttled"
    user_msg = "登录失败次数过多，请15分钟后再试"


class BadCredentials(GeoServiceError):
    http_status = 401
    code = "bad_credentials"
    user_msg = "用户名或密码错误"


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def clean_unit(unit: str | None) -> str | None:
    """An account's 填报单位: trimmed, None when blank (at most 100 characters).

    >>> clean_unit("  红河州应急管理局 "), clean_unit("  ")
    ('红河州应急管理局', None)
    """
    text = (unit or "").strip()
    if len(text) > 100:
        raise InvalidParameter("unit", "填报单位不超过100个字符")
    return text or None


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str | None = None,
    region_code: str | None = None,
    enterprise_id: int | None = None,
    unit: str | None = None,
    min_password_length: int = MIN_PASSWORD_LENGTH,
    demo: bool = False,
) -> User:
    """Add an account.  A regulator or read-only account needs a region, an
    enterprise account an enterprise; an admin needs neither.  ``unit`` is the
    填报单位 its returns carry by default; ``demo`` (the demo loader only)
    allows the published demo passwords."""
    if role not in ROLES:
        raise InvalidParameter("role", f"未知角色 {role}，可选：{', '.join(ROLES)}")
    if not username or len(username) > 60:
        raise InvalidParameter("username", "用户名不能为空且不超过60个字符")
    if role in ("regulator", "readonly"):
        if not region_code or session.get(Region, region_code) is None:
            raise InvalidParameter("region", "监管人员和只读账号需要一个已存在的行政区划代码")
    if role == "enterprise":
        if enterprise_id is None or session.get(Enterprise, enterprise_id) is None:
            raise InvalidParameter("enterprise", "企业用户需要一个已存在的企业")
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise InvalidParameter("username", f"用户名 {username} 已存在")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash="",
        role=role,
        region_code=region_code if role in ("regulator", "readonly") else None,
        enterprise_id=enterprise_id if role == "enterprise" else None,
        unit=clean_unit(unit),
    )
    set_password(user, password, min_length=min_password_length, demo=demo)
    session.add(user)
    session.flush()
    return user


def check_new_password(password: str, *, min_length: int = MIN_PASSWORD_LENGTH, demo: bool = False) -> None:
    """Refuse a password shorter than ``min_length`` or, outside the demo, a demo password.

    >>> check_new_password("admin-demo-2026")
    Traceback (most recent call last):
    ...
    geo_service.errors.InvalidParameter: 参数 password 无效：不能使用公开的演示密码
    """
    if len(password) < min_length:
        raise InvalidParameter("password", f"密码至少 {min_length} 位")
    if not demo and password in DEMO_PASSWORDS:
        raise InvalidParameter("password", "不能使用公开的演示密码")


def set_password(user: User, password: str, *, min_length: int = MIN_PASSWORD_LENGTH,
                 demo: bool = False) -> None:
    """Hash and set a new password (see :func:`check_new_password`); ends the
    account's earlier sessions."""
    check_new_password(password, min_length=min_length, demo=demo)
    user.password_hash = generate_password_hash(password)
    end_sessions(user)


def change_password(session: Session, user: User, old_password: str, new_password: str, *,
                    ip: str | None, min_length: int = MIN_PASSWORD_LENGTH) -> None:
    """The signed-in user's own change: the current password must be right.

    The old password is checked as a login is (recorded and throttled, so a
    left-open session cannot be used to guess it): :class:`LoginThrottled`
    after too many failures, :class:`InvalidParameter` naming
    ``old_password`` for a wrong one.  Nothing but the attempt is written
    unless the change succeeds.
    """
    try:
        authenticate(session, user.username, old_password, ip)
    except BadCredentials as err:
        raise InvalidParameter("old_password", "原密码不正确") from err
    if new_password == old_password:
        raise InvalidParameter("password", "新密码不能与原密码相同")
    set_password(user, new_password, min_length=min_length)


def end_sessions(user: User) -> None:
    """End every session issued to ``user`` so far (the epoch each one carries no longer matches)."""
    user.session_epoch = (user.session_epoch or 0) + 1


def set_active(user: User, active: bool) -> None:
    """Disable or enable an account; either ends its earlier sessions."""
    user.active = active
    end_sessions(user)


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password with the same scheme as real ones (for unknown users)."""
    return generate_password_hash(secrets.token_urlsafe(16))


def warm_up() -> None:
    """Make the dummy hash now, so that the first unknown user name costs no more than later ones."""
    _dummy_hash()


def _recent_failures(session: Session, column: Any, value: str, now: dt.datetime) -> int:
    return session.scalar(
        sa.select(sa.func.count())
        .select_from(LoginAttempt)
        .where(column == value, LoginAttempt.at > now - FAILURE_WINDOW, ~LoginAttempt.succeeded)
    ) or 0


def authenticate(session: Session, username: str, password: str, ip: str | None) -> User:
    """The active user with these credentials; records the attempt.

    Raises :class:`LoginThrottled` after MAX_FAILURES recent failures for the
    username or the address (checked before the password, so a correct
    password does not get through either), :class:`BadCredentials` otherwise.
    """
    now = session.scalar(sa.select(sa.func.now()))
    throttled = _recent_failures(session, LoginAttempt.username, username, now) >= MAX_FAILURES
    if ip and not throttled:
        throttled = _recent_failures(session, LoginAttempt.ip, ip, now) >= MAX_FAILURES * 4
    if throttled:
        LOGGER.warning("login throttled for %r from %s", username, ip)
        raise LoginThrottled()
    user = session.scalar(sa.select(User).where(User.username == username))
    # Exactly one hash check whether or not the account exists or is active,
    # so the answer's timing does not tell which user names exist.
    matches = check_password_hash(user.password_hash if user is not None else _dummy_hash(), password)
    ok = user is not None and user.active and matches
    session.add(LoginAttempt(username=username[:60], ip=ip, succeeded=ok))
    session.flush()
    if not ok or user is None:
        raise BadCredentials()
    return user


def create_token(session: Session, user: User, name: str) -> str:
    """A new API token for ``user``; the plain token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name[:60] or "token", token_hash=_hash_token(token)))
    session.flush()
    return token


def revoke_token(session: Session, token_id: int, *, user: User | None = None) -> None:
    """Revoke a token (only the owner's own tokens when ``user`` is given)."""
    token = session.get(ApiToken, token_id)
    if token is None or (user is not None and token.user_id != user.id and user.role != "admin"):
        raise NotFound("令牌不存在")
    if token.revoked_at is None:
        token.revoked_at = session.scalar(sa.select(sa.func.now()))
        session.flush()


def user_for_token(session: Session, token: str) -> User | None:
    """The active user owning an unrevoked token, or None."""
    row = session.execute(
        sa.select(User, ApiToken)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == _hash_token(token), ApiToken.revoked_at.is_(None), User.active)
    ).first()
    if row is None:
        return None
    user, api_token = row
    api_token.last_used_at = sa.func.now()
    return user


def scope_for(user: User) -> Scope:
    """The jurisdiction of an account."""
    if user.role == "admin":
        return ALL
    if user.role == "enterprise":
        return Scope(enterprise_id=user.enterprise_id)
    return Scope(region=user.region_code)


def actor_for(user: User) -> Actor:
    return Actor(user.display_name, user.id, user.role)


def require(actor: Actor, permission: str) -> None:
    """Raise :class:`Forbidden` unless ``actor``'s role grants ``permission``."""
    if not actor.may(permission):
        raise Forbidden(f"{ROLES.get(actor.role, actor.role)}无权执行此操作")


def audit(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Append one row to the audit log (never updated or deleted)."""
    session.add(
        AuditLog(
            user_id=actor.user_id,
            actor=actor.name,
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            before=_jsonable(before),
            after=_jsonable(after),
        )
    )
    session.flush()


def audit_download(
    session: Session,
    actor: Actor,
    what: str,
    fmt: str,
    rows: int | None,
    filters: Mapping[str, Any],
    object_id: object = None,
) -> None:
    """Record a bulk read: who downloaded ``what`` (a list such as ``hazards``,
    a ledger, a return), with which filter, how many rows, in which format.

    The register's downloads carry 法定代表人 and telephone numbers, so each
    one is accounted for like a write (action ``download``).  One Core
    ``INSERT`` (a download is not a unit of work: no ORM object, no flush);
    committed by the caller, or when it returns on a session in autocommit.
    """
    session.execute(sa.insert(AuditLog.__table__), {
        "user_id": actor.user_id, "actor": actor.name, "action": "download", "object_type": what,
        "object_id": None if object_id is None else str(object_id), "before": None,
        "after": _jsonable({"format": fmt, "rows": rows, "filter": dict(filters)}),
    })


def audit_refusal(session: Session, actor: Actor, method: str, path: str, message: str) -> None:
    """Record a refused request (403) of a signed-in account (action ``forbidden``)."""
    audit(session, actor, "forbidden", "request", None,
          after={"method": method, "path": path[:500], "message": message[:200]})


def _jsonable(data: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        elif value is not None and not isinstance(value, (str, int, float, bool, list, dict)):
            value = str(value)
        out[key] = value
    return out


class DemoUser(NamedTuple):
    username: str
    password: str
    role: str
    display_name: str
    region_code: str | None = None


# Documented in the README; created with the demo register only.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "admin-demo-2026", "admin", "系统管理员"),
    DemoUser("zhou", "regulator-demo-2026", "regulator", "州应急局 周监管", "532500"),
    DemoUser("mengzi", "county-demo-2026", "regulator", "蒙自市应急局 李监管", "532503"),
    DemoUser("viewer", "readonly-demo-2026", "readonly", "州安委办 只读", "532500"),
    DemoUser("qiye", "enterprise-demo-2026", "enterprise", "企业安全员"),
)
# Published in the README: refused for any account the demo loader does not create.
DEMO_PASSWORDS = frozenset(d.password for d in DEMO_USERS)


def _demo_enterprise(session: Session) -> int | None:
    """The 蒙自市 enterprise with the most open hazards (else any enterprise)."""
    open_count = (
        sa.select(sa.func.count())
        .select_from(Hazard)
        .where(Hazard.enterprise_id == Enterprise.id, Hazard.state != "closed")
        .scalar_subquery()
    )
    return session.scalar(
        sa.select(Enterprise.id)
        .where(Enterprise.region_code.like("532503%"))
        .order_by(open_count.desc(), Enterprise.id)
        .limit(1)
    ) or session.scalar(sa.select(Enterprise.id).order_by(Enterprise.id).limit(1))


def ensure_demo_users(session: Session) -> list[str]:
    """Create the demo accounts that are missing; returns the names created.

    The enterprise account is attached to the first enterprise of 蒙自市 that
    has open hazards (or any enterprise), so it has something to do.
    """
    created: list[str] = []
    for demo in DEMO_USERS:
        if session.scalar(sa.select(User.id).where(User.username == demo.username)):
            continue
        region = demo.region_code
        if region is not None and session.get(Region, region) is None:
            continue
        enterprise_id = None
        if demo.role == "enterprise":
            enterprise_id = _demo_enterprise(session)
            if enterprise_id is None:
                continue
        create_user(
            session,
            demo.username,
            demo.password,
            demo.role,
            display_name=demo.display_name,
            region_code=region,
            enterprise_id=enterprise_id,
            demo=True,
        )
        created.append(demo.username)
    return created
