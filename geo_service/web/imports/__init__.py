"""The import surface: regulators upload enterprise, risk-point and hazard
spreadsheets in the browser.

The file is received and checked by :mod:`geo_service.services.uploads`
(size, type by content, the XLSX zip-bomb guard), then imported as a job on
the queue (:mod:`geo_service.jobs`; a large file takes minutes): the importer
of :mod:`geo_service.services.importers` parses it with the caller as actor
and its jurisdiction as scope (rows outside it are row errors).  The job's
page shows a progress bar until the result — counts, row errors and the
rejected rows to download — is there.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, send_file, url_for

from ... import geo, jobs
from ...db import get_session
from ...errors import Forbidden, NotFound
from ...services import importers, uploads
from ..context import current_actor, current_scope
from ..jobqueue import start

bp = Blueprint("imports", __name__)

KIND_TITLES = {"enterprises": "企业", "risk-points": "风险点", "hazards": "隐患"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Row errors shown on the page; the rest are in the rejected-rows download.
MAX_SHOWN_ERRORS = 500


def _require_editor() -> None:
    if not current_actor().may("edit_register"):
        raise Forbidden("只有监管人员和管理员可以导入数据")


def _limits() -> uploads.UploadLimits:
    return uploads.UploadLimits.from_mb(float(current_app.config["MAX_IMPORT_MB"]))


def _owner() -> str:
    user = g.get("user")
    return str(user.id) if user is not None else "anonymous"


def _form_values() -> dict[str, Any]:
    return {
        "kind": request.form.get("kind", "enterprises"),
        "datum": request.form.get("datum", "wgs84"),
        "skip_bad": request.form.get("skip_bad") == "1",
        "dry_run": request.form.get("dry_run") == "1",
    }


def _render(values: dict[str, Any], *, error: str | None = None, result: Any = None,
            rejects_url: str | None = None, filename: str = "", job: jobs.JobStatus | None = None,
            status: int = 200) -> Any:
    return render_template(
        "imports/index.html", values=values, kinds=KIND_TITLES, datums=geo.DATUMS, error=error,
        result=result, rejects_url=rejects_url, filename=filename, job=job,
        max_mb=f"{float(current_app.config['MAX_IMPORT_MB']):g}", max_shown=MAX_SHOWN_ERRORS,
    ), status


@bp.get("/import")
def index() -> Any:
    """导入数据：上传表单。"""
    _require_editor()
    return _render({"kind": request.args.get("kind", "enterprises"), "datum": "wgs84",
                    "skip_bad": False, "dry_run": False})


@bp.post("/import")
def upload() -> Any:
    """导入数据：检查上传的文件，按所选类别导入（或只检查），显示结果与逐行错误。"""
    _require_editor()
    values = _form_values()
    if values["kind"] not in KIND_TITLES:
        return _render(values, error="请选择导入类别：企业、风险点或隐患", status=400)
    if values["datum"] not in geo.DATUMS:
        return _render(values, error="请选择坐标系", status=400)
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        return _render(values, error="请选择要导入的文件（.xlsx、.csv、.geojson、.gpkg 或 Shapefile 的 .zip）", status=400)
    filename = uploads.safe_filename(upload_file.filename)
    with tempfile.TemporaryDirectory(prefix="geo-import-") as tmp:
        try:
            path = uploads.save_upload(upload_file.stream, upload_file.filename, tmp, _limits())
        except uploads.UploadRejected as err:
            return _render(values, error=err.user_msg, filename=filename, status=err.http_status)
        finally:
            upload_file.close()
        data, stored_name = path.read_bytes(), path.name
    actor = current_actor()
    recorded = jobs.create_job(
        get_session(), "import", scope=current_scope(), by=actor.name, upload=data,
        params={**values, "filename": stored_name, "owner": _owner(), "actor": jobs.actor_params(actor)})
    job = start(recorded, lock=f"import:{values['kind']}")  # one import of a kind at a time
    if job.state != "running":  # finished inside the request (JOBS_INLINE)
        return _job_view(_import_job(job.id))
    return redirect(url_for("imports.job_page", job_id=job.id), 303)


def _import_job(job_id: str) -> jobs.JobStatus:
    """The caller's own import job (another account's is "not found")."""
    job = jobs.get_job(get_session(), job_id)
    if (job is None or job.kind != "import" or job.scope != current_scope()
            or job.params.get("owner") != _owner()):
        raise NotFound("该导入任务不存在或已过期")
    return job


def _job_view(job: jobs.JobStatus) -> Any:
    values = {k: job.params.get(k) for k in ("kind", "datum", "skip_bad", "dry_run")}
    filename = str(job.params.get("filename", ""))
    if job.state == "running":
        return _render(values, job=job, filename=filename)
    if job.state == "error":
        status = (job.result or {}).get("http_status", 500)
        return _render(values, error=job.error, filename=filename, status=status)
    result = importers.ImportResult.from_dict(job.result or {})
    rejects_url = url_for("imports.job_rejects", job_id=job.id) if job.filename else None
    status = 422 if result.errors and not result.written and not result.dry_run else 200
    return _render(values, result=result, rejects_url=rejects_url, filename=filename, status=status)


@bp.get("/import/jobs/<job_id>")
def job_page(job_id: str) -> Any:
    """导入任务：进度（每 2 秒刷新），完成后显示结果与逐行错误。"""
    _require_editor()
    return _job_view(_import_job(job_id))


@bp.get("/import/jobs/<job_id>/rejects.xlsx")
def job_rejects(job_id: str) -> Any:
    """下载本人该次导入中被拒绝的行（附“错误原因”列）。"""
    _require_editor()
    job = _import_job(job_id)
    payload = jobs.job_payload(get_session(), job.id) if job.filename else None
    if payload is None:
        raise NotFound("该文件不存在或已过期")
    return send_file(io.BytesIO(payload), mimetype=XLSX, as_attachment=True, download_name="被拒绝的行.xlsx")


@bp.get("/import/template/<kind>.xlsx")
def template(kind: str) -> Any:
    """下载空白导入模板（中文表头与填写说明）。"""
    _require_editor()
    if kind not in KIND_TITLES:
        raise NotFound(f"没有“{kind}”的导入模板")
    with tempfile.TemporaryDirectory(prefix="geo-template-") as tmp:
        data = importers.write_template(kind, Path(tmp) / "template.xlsx").read_bytes()
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                     download_name=f"{KIND_TITLES[kind]}导入模板.xlsx")
