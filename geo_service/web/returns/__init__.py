"""The returns surface: the monthly statistics return of a region.

* ``/returns`` — pick a region and a month;
* ``/returns/<region>/<YYYY-MM>`` — the numbers, the month-over-month view,
  the archived returns and their difference from a fresh computation, and the
  button that produces the whole ZIP (with a progress bar);
* ``/api/returns/<region>/<YYYY-MM>`` — the numbers as JSON.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from ... import jobs
from ...db import get_read_session, get_session, replica_reads
from ...errors import Conflict, Forbidden, InvalidParameter, NotFound
from ...models import Region
from ...queries.regions import region_refused, regions_select
from ...services import returns as returns_service
from ...services.maprender import PAPERS, MapStyle, load_map_data, render_map
from ...services.statistics import (
    CHANGE_ITEMS,
    DISPATCH_ITEMS,
    TABLE_COLUMNS,
    compute_return,
)
from ...services.statistics import parse_month as _parse_month
from ...services.workbook import cn_date, cn_datetime, dispatch_blank_note, dispatch_heading
from ..changes import answer_key, cover_region, read_tokens
from ..context import current_actor, current_scope, record_download
from ..jobqueue import start
from ..tiles import response_cache

bp = Blueprint("returns", __name__)


def _region(code: str, *, write: bool = False) -> Region:
    region = get_read_session().get(Region, code)  # the replica in numbers_json only (db.replica_reads)
    if region is None:
        raise region_refused(code)
    returns_service.check_scope(code, current_scope(), write=write)
    return region


def _numbers(region: str, period: Any, *, scope: Any, unit: str = "") -> dict[str, Any]:
    """:func:`compute_return`, kept per worker under the change tokens of the counties
    it covers (:mod:`geo_service.tokens`): a repeated view answers from memory until
    a write in one of those counties; a write elsewhere leaves it valid.  Stored only
    under the tokens read before the numbers, on the same session (never newer)."""
    parts = ("return", region, tuple(period), scope, unit, dt.date.today())
    coverage = cover_region(region, scope)
    cache = response_cache(current_app, "return_cache", int(current_app.config["RETURN_CACHE_MB"]))
    text = cache.get(answer_key(parts, coverage.tokens))
    if text is None:
        snapshot = read_tokens(coverage.selection)
        text = json.dumps(compute_return(get_read_session(), region, period, scope=scope, unit=unit),
                          ensure_ascii=False)
        cache.put(answer_key(parts, snapshot), text, len(text))
    numbers: dict[str, Any] = json.loads(text)  # a fresh copy: callers may change it
    return numbers


def _style() -> MapStyle:
    layers = current_app.extensions.get("map_layers")
    return MapStyle.from_config(current_app.config, layers=layers)


def _unit() -> str:
    """填报单位: as typed on the page, else the signed-in account's unit, else ``ISSUING_UNIT``."""
    user = g.get("user")
    return (request.values.get("unit") or getattr(user, "unit", None)
            or current_app.config["ISSUING_UNIT"] or "").strip()[:100]


def parse_month(text: str) -> Any:
    """The period of ``YYYY-MM`` with this deployment's campaign start (``CAMPAIGN_START``)."""
    return _parse_month(text, current_app.config["CAMPAIGN_START"])


def _month_of(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


@bp.route("/returns")
def index() -> Any:
    """选择区划和月份。"""
    session = get_session()
    scope = current_scope()
    if request.args.get("region") and request.args.get("month"):
        code = request.args["region"].strip()
        parse_month(request.args["month"].strip())
        return redirect(url_for("returns.page", region=code, month=request.args["month"].strip()))
    regions = session.execute(
        regions_select(scope=scope).where(Region.level.in_(("province", "prefecture", "county")))
    ).all()
    last_month = dt.date.today().replace(day=1) - dt.timedelta(days=1)
    default = current_app.config["DEFAULT_REGION"]
    return render_template("returns/index.html", regions=regions, month=_month_of(last_month),
                           default_region=default)


@bp.route("/api/returns/<region>/<month>")
@replica_reads
def numbers_json(region: str, month: str) -> Response:
    """本月报的全部统计数字（JSON）。"""
    period = parse_month(month)
    _region(region)
    return jsonify(_numbers(region, period, scope=current_scope(), unit=_unit()))


@bp.route("/returns/<region>/<month>")
def page(region: str, month: str) -> str:
    """统计月报页面。"""
    period = parse_month(month)
    reg = _region(region)
    session = get_session()
    scope = current_scope()
    numbers = _numbers(region, period, scope=scope, unit=_unit())
    archived = returns_service.archives(session, region, period, scope=scope)
    diff = returns_service.diff_numbers(archived[0].numbers, numbers) if archived else None
    prev_month = _month_of(period.month_start - dt.timedelta(days=1))
    next_month = _month_of(period.end + dt.timedelta(days=1))
    return render_template(
        "returns/page.html", region=reg, month=month, numbers=numbers, archives=archived, diff=diff,
        prev_month=prev_month, next_month=next_month, table_columns=[c for c in TABLE_COLUMNS if c.answerable],
        dispatch_items=DISPATCH_ITEMS, change_items=CHANGE_ITEMS, papers=sorted(PAPERS),
        cn_date=cn_date, cn_datetime=cn_datetime, dispatch_heading=dispatch_heading(numbers),
        dispatch_blank=dispatch_blank_note(numbers),
        may_submit=current_actor().may("submit_return"), actor=current_actor(),
        # producing the bundle is a write (a job, the map records): not for read-only accounts
        may_bundle=current_actor().may("report_hazard") or current_actor().may("edit_register"),
    )


@bp.route("/returns/<region>/<month>/changes.png")
def changes_map(region: str, month: str) -> Response:
    """环比变化图（PNG 预览，不计入电子图绘制统计）。"""
    period = parse_month(month)
    _region(region)
    session = get_session()
    scope = current_scope()
    numbers = _numbers(region, period, scope=scope)
    changes = {r["code"]: r["changes"] for r in numbers["regions"][1:]}
    data = load_map_data(session, region, period, scope=scope, changes=changes, as_of_month=True)
    rendered = render_map(data, "changes", style=_style(), unit=_unit(), paper="A4")
    resp = Response(rendered.png, mimetype="image/png")
    resp.headers["Cache-Control"] = "private, max-age=60"
    return resp


@bp.route("/returns/<region>/<month>/bundle", methods=["POST"])
def bundle(region: str, month: str) -> Any:
    """生成整套月报 ZIP（submit=1 时同时提交归档）。"""
    parse_month(month)
    _region(region, write=True)
    scope = current_scope()
    actor = current_actor()
    submit = request.form.get("submit") == "1"
    paper = request.form.get("paper", "A4")
    if paper not in PAPERS:
        raise InvalidParameter("paper", "纸张应为 A4 或 A3")
    by = (request.form.get("by") or actor.name).strip()[:100]
    if submit and not actor.may("submit_return"):
        raise Forbidden("本账号无权提交月报")
    session = get_session()
    recorded = jobs.create_job(
        session, "return", scope=scope, region=region, month=month, by=actor.name,
        params={"submit": submit, "paper": paper, "by": by, "unit": _unit(), "actor": jobs.actor_params(actor)})
    # one return built at a time; the same request while one waits follows the waiting job
    followed = start(recorded, lock=f"return:{region}:{month}",
                     queueing_lock=f"return:{region}:{month}:{paper}:{'submit' if submit else 'zip'}")
    job = _job(followed.id, refused=Conflict("该月报正在由其他账号生成，请稍后再试"))
    body = {**job.as_dict(), "status_url": url_for("returns.job_status", job_id=job.id),
            "download_url": url_for("returns.job_download", job_id=job.id),
            "page_url": url_for("returns.job_page", job_id=job.id)}
    if request.accept_mimetypes.best == "application/json" or request.headers.get("X-Requested-With"):
        return jsonify(body), 202
    return redirect(body["page_url"])


def _job(job_id: str, *, refused: Exception | None = None) -> jobs.JobStatus:
    job = jobs.get_job(get_session(), job_id)
    if job is None or job.kind != "return" or job.scope != current_scope():
        raise refused or NotFound("该生成任务不存在或已过期")
    return job


@bp.route("/api/returns/jobs/<job_id>")
def job_status(job_id: str) -> Response:
    """生成任务的进度（JSON）。"""
    job = _job(job_id)
    return jsonify({**job.as_dict(), "download_url": url_for("returns.job_download", job_id=job.id)})


@bp.route("/returns/jobs/<job_id>")
def job_page(job_id: str) -> str:
    """生成任务的进度页（不用脚本时每 2 秒刷新）。"""
    return render_template("returns/job.html", job=_job(job_id))


@bp.route("/returns/jobs/<job_id>/download")
def job_download(job_id: str) -> Response:
    """下载生成好的 ZIP。"""
    job = _job(job_id)
    payload = jobs.job_payload(get_session(), job.id) if job.state == "done" else None
    if payload is None:
        raise NotFound("月报尚未生成完成")
    record_download("return", "zip", None, object_id=f"{job.region} {job.month}")
    return send_file(io.BytesIO(payload), mimetype="application/zip", as_attachment=True,
                     download_name=job.filename)


@bp.route("/returns/archive/<int:archive_id>.zip")
def archive_zip(archive_id: int) -> Response:
    """下载已归档（冻结）的月报 ZIP。"""
    archive = returns_service.get_archive(get_session(), archive_id, scope=current_scope())
    name = f"{archive.region_code}_{_month_of(archive.period)}_已归档{archive.id}.zip"
    record_download("return_archive", "zip", None, object_id=archive.id)
    return send_file(io.BytesIO(bytes(archive.bundle_zip)), mimetype="application/zip", as_attachment=True,
                     download_name=name)


@bp.route("/api/returns/archive/<int:archive_id>")
def archive_json(archive_id: int) -> Response:
    """已归档月报的数字，以及与当前重新计算的差异（JSON）。"""
    session = get_session()
    scope = current_scope()
    archive = returns_service.get_archive(session, archive_id, scope=scope)
    y, m = archive.period.year, archive.period.month
    fresh = compute_return(session, archive.region_code, parse_month(f"{y:04d}-{m:02d}"), scope=scope,
                           unit=archive.numbers.get("unit", ""))
    return jsonify({
        "id": archive.id, "region": archive.region_code, "period": _month_of(archive.period),
        "submitted_at": archive.submitted_at.isoformat(), "submitted_by": archive.submitted_by,
        "data_as_of": archive.data_as_of.isoformat(), "bundle_sha256": archive.bundle_sha256,
        "numbers": archive.numbers, "diff": returns_service.diff_numbers(archive.numbers, fresh),
    })

