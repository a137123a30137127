"""Exception hierarchy and the handlers.

A :class:`GeoServiceError` carries its HTTP status and a Chinese message for
the user, separate from the logged detail.  One handler answers JSON or HTML
by the request, rolls back on 500 and never shows a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

__all__ = [
    "GeoServiceError",
    "InvalidParameter",
    "InvalidBBox",
    "NotFound",
    "Conflict",
    "IllegalTransition",
    "VersionConflict",
    "OutOfJurisdiction",
    "Forbidden",
    "ImportRejected",
    "register_handlers",
]

LOGGER = logging.getLogger(__name__)


class GeoServiceError(Exception):
    """Base of every error the service raises on purpose."""

    http_status = 500
    code = "internal_error"
    user_msg = "服务器内部错误"

    def __init__(self, user_msg: str | None = None, *, detail: str | None = None, **extra: Any):
        self.user_msg = user_msg or self.user_msg
        self.detail = detail or self.user_msg
        self.extra = extra
        super().__init__(self.detail)

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.user_msg, **self.extra}


class InvalidParameter(GeoServiceError):
    """A request parameter is missing, unparsable or out of range (400)."""

    http_status = 400
    code = "invalid_parameter"
    user_msg = "参数无效"

    def __init__(self, parameter: str, reason: str, **extra: Any):
        super().__init__(f"参数 {parameter} 无效：{reason}", parameter=parameter, reason=reason, **extra)


class InvalidBBox(InvalidParameter):
    def __init__(self, reason: str):
        super().__init__("bbox", reason)


class NotFound(GeoServiceError):
    http_status = 404
    code = "not_found"
    user_msg = "未找到"


class Forbidden(GeoServiceError):
    http_status = 403
    code = "forbidden"
    user_msg = "无权执行此操作"


class OutOfJurisdiction(Forbidden):
    user_msg = "超出本账号的管辖范围"


class Conflict(GeoServiceError):
    http_status = 409
    code = "conflict"
    user_msg = "操作冲突"


class IllegalTransition(Conflict):
    code = "illegal_transition"
    user_msg = "不允许的状态变更"


class VersionConflict(Conflict):
    code = "version_conflict"
    user_msg = "该记录已被他人修改，请刷新后重试"


class ImportRejected(GeoServiceError):
    """An import file had bad rows; nothing was written."""

    http_status = 422
    code = "import_rejected"
    user_msg = "导入文件有错误，未写入任何数据"


class DatabaseUnavailable(GeoServiceError):
    http_status = 503
    code = "database_unavailable"
    user_msg = "数据库暂时不可用，请稍后重试"


def _wants_json() -> bool:
    if request.path.startswith(("/api/", "/ogc", "/tiles/", "/healthz")):
        return True
    if request.path.endswith((".json", ".geojson", ".pbf")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


def _rollback() -> None:
    session = g.get("db_session")
    if session is not None:
        session.rollback()


def _respond(status: int, body: dict[str, Any]) -> Response | tuple[Any, int]:
    if _wants_json():
        return jsonify(body), status
    return render_template("error.html", status=status, message=body.get("message", "")), status


def register_handlers(app: Flask) -> None:
    @app.errorhandler(GeoServiceError)
    def _service_error(err: GeoServiceError):  # type: ignore[no-untyped-def]
        _rollback()
        if err.http_status >= 500:
            LOGGER.error("%s: %s", type(err).__name__, err.detail)
        return _respond(err.http_status, err.to_dict())

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):  # type: ignore[no-untyped-def]
        messages = {404: "页面不存在", 405: "不支持的请求方法", 413: "上传内容过大", 400: "请求无效"}
        body = {"error": err.name.lower().replace(" ", "_"),
                "message": messages.get(err.code or 500, err.name)}
        return _respond(err.code or 500, body)

    @app.errorhandler(OperationalError)
    def _db_down(err: OperationalError):  # type: ignore[no-untyped-def]
        _rollback()
        LOGGER.error("database error: %s", err.orig)
        return _respond(503, DatabaseUnavailable().to_dict())

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):  # type: ignore[no-untyped-def]
        _rollback()
        if isinstance(err, DBAPIError) and err.connection_invalidated:
            return _respond(503, DatabaseUnavailable().to_dict())
        LOGGER.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(500, GeoServiceError().to_dict())
