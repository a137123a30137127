"""Request context helpers shared by the blueprints."""

from __future__ import annotations

import json
from typing import Any

from flask import g, request

from ..db import autocommit_session, get_session
from ..domain import Actor
from ..queries.scope import ALL, Scope
from ..services import accounts

__all__ = ["current_scope", "current_actor", "record_download"]

# A posted search polygon larger than this is noted, not copied into the audit log.
_MAX_LOGGED_BODY = 20_000


def current_scope() -> Scope:
    """The caller's jurisdiction (set by the accounts layer; ALL until it exists)."""
    return g.get("scope", ALL)


def current_actor() -> Actor:
    """The caller as an :class:`~geo_service.domain.Actor` for events and the audit log."""
    return g.get("actor", Actor("匿名用户"))


def _request_filter() -> dict[str, Any]:
    """The query string (a name given twice keeps both values) and a posted search polygon."""
    out: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in request.args.to_dict(flat=False).items()}
    if request.method == "POST" and request.is_json:
        raw = request.get_data(cache=True)
        out["polygon"] = json.loads(raw) if len(raw) <= _MAX_LOGGED_BODY else f"（{len(raw)} 字节，未记录）"
    return out


def record_download(what: str, fmt: str, rows: int | None, *, object_id: object = None) -> None:
    """Write and commit the audit row of a download of register data (before the file is sent).

    In a marked read on the primary the row is one ``INSERT`` on the request's
    autocommit session (:func:`~geo_service.db.autocommit_session`): committed
    when it returns, on the connection the data was read with.  Elsewhere it is
    written in the request's session and committed (with the replica, the
    primary's)."""
    session = autocommit_session()
    if session is not None:
        accounts.audit_download(session, current_actor(), what, fmt, rows, _request_filter(), object_id=object_id)
        return
    session = get_session()
    accounts.audit_download(session, current_actor(), what, fmt, rows, _request_filter(), object_id=object_id)
    session.commit()
