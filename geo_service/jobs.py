"""Long work on a real job queue: procrastinate, kept in PostgreSQL.

A return's ZIP (a whole prefecture's takes a couple of minutes), a large
import and a large list export do not run inside a web request.  The web records a job in
``background_job`` (its jurisdiction, its parameters, its progress) and
defers it on procrastinate's queue; worker processes (``geo-service
worker``, started beside gunicorn by ``geo-service serve``) run it and
report progress and outcome to that row, so any web worker on any machine
answers the progress poll and serves the result.

* A return holds the lock ``return:<region>:<month>``: two workers never
  build the same return at once, and the same lock as ``queueing_lock``
  keeps one waiting job per return (a second click is answered with the
  job already waiting).
* A job that fails on a lost database connection is retried once
  (:data:`RETRY`); a refusal (:class:`~geo_service.errors.GeoServiceError`)
  is the job's outcome, shown to the user, never retried.
* A worker that dies (killed, machine lost) stops its heartbeat.  Any live
  worker checks every few seconds, and at its start, for jobs of workers
  silent for ``JOB_STALLED_SECONDS``: such a job is run again once, and
  failed the second time, with :data:`STALE_ERRORS` on the page.  A job
  whose last attempt committed its result is never run twice (its row is
  ``done``).
* Every hour a worker removes results older than an hour and finished
  queue entries (:func:`prune_jobs`).

``JOBS_INLINE`` (the tests' rolled-back transactions, which no worker
process can see) runs the same job body inside the request instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import procrastinate
import sqlalchemy as sa
from procrastinate import exceptions as queue_errors
from procrastinate import jobs as queue_jobs
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .domain import Actor
from .errors import Conflict, GeoServiceError
from .models import BackgroundJob
from .queries.scope import Scope

__all__ = [
    "STALE_ERRORS",
    "FAILED_ERROR",
    "KEEP_SECONDS",
    "JobStatus",
    "Outcome",
    "WorkerContext",
    "build_queue",
    "create_job",
    "defer_job",
    "get_job",
    "job_payload",
    "run_job",
    "run_worker",
    "prune_jobs",
    "recover_stalled",
    "session_progress",
    "RUNNERS",
]

LOGGER = logging.getLogger(__name__)

QUEUE = "geo"
KEEP_SECONDS = 3600  # a finished job's result is kept this long
RETRIES = 1  # a job is run at most twice: once, and once more after a lost worker or connection
# a database that went away mid-job: worth one more attempt
RETRY = procrastinate.RetryStrategy(max_attempts=RETRIES, wait=5,
                                    retry_exceptions={sa.exc.OperationalError, sa.exc.InterfaceError})
STALE_ERRORS = {
    "return": "生成任务已中断（处理进程已停止或重启），未生成月报，请重新生成",
    "import": "导入任务已中断（处理进程已停止或重启），未导入任何数据，请重新导入",
    "export": "导出任务已中断（处理进程已停止或重启），请重新导出",
}
FAILED_ERROR = "处理失败，请稍后重试或联系管理员"
RETRYING = "处理进程已中断，正在重新处理"
TASKS = {"return": "return_bundle", "import": "import_file", "export": "export_list"}

# progress(done, total, message)
Progress = Callable[[int, int, str], None]

_QUEUE_JOBS = sa.table("procrastinate_jobs", sa.column("id"), sa.column("status"), sa.column("queueing_lock"),
                       sa.column("attempts"))
_QUEUE_WORKERS = sa.table("procrastinate_workers", sa.column("id"), sa.column("last_heartbeat"))


@dataclass(frozen=True)
class WorkerContext:
    """What a job body needs besides its session: the engine (progress is
    written in its own short transactions) and the settings (``app.config``
    or :meth:`Config.as_flask`)."""

    engine: Engine
    config: Mapping[str, Any]


class Outcome(NamedTuple):
    """What a finished job leaves: the file to download, a submitted archive, a summary."""

    filename: str | None = None
    payload: bytes | None = None
    archive_id: int | None = None
    result: dict[str, Any] | None = None


# kind → body(session, job, context, progress), see the end of this module
Runner = Callable[[Session, BackgroundJob, WorkerContext, Progress], Outcome]


@dataclass(frozen=True)
class JobStatus:
    """A job as the progress page and its poll see it."""

    id: str
    kind: str
    region: str | None
    month: str | None
    scope: Scope
    state: str  # running | done | error
    done: int
    total: int
    message: str
    error: str | None
    filename: str | None
    archive_id: int | None
    params: dict[str, Any]
    result: dict[str, Any] | None
    seconds: float
    attempts: int

    @property
    def submit(self) -> bool:
        return bool(self.params.get("submit"))

    @property
    def paper(self) -> str:
        return str(self.params.get("paper", "A4"))

    @property
    def by(self) -> str:
        return str(self.params.get("by", ""))

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "region": self.region, "month": self.month, "state": self.state,
            "done": self.done, "total": self.total, "message": self.message, "error": self.error,
            "archive_id": self.archive_id, "filename": self.filename, "submit": self.submit,
            "seconds": self.seconds, "attempts": self.attempts, "result": self.result,
        }


# ---------------------------------------------------------------- the job row


def _delete_expired() -> sa.Delete:
    """Finished jobs older than :data:`KEEP_SECONDS`, their results with them."""
    return sa.delete(BackgroundJob).where(
        BackgroundJob.created_at < sa.func.now() - dt.timedelta(seconds=KEEP_SECONDS),
        BackgroundJob.state != "running")


def create_job(session: Session, kind: str, *, scope: Scope, params: dict[str, Any], by: str = "",
               region: str | None = None, month: str | None = None, upload: bytes | None = None) -> BackgroundJob:
    """Record a new job (flushed; the caller commits or defers), after removing expired ones."""
    if kind not in TASKS:
        raise ValueError(f"unknown job kind {kind!r}")
    session.execute(_delete_expired())
    job = BackgroundJob(id=uuid.uuid4().hex, kind=kind, region_code=region, month=month,
                        scope_region=scope.region, scope_enterprise=scope.enterprise_id, params=params,
                        upload=upload, created_by=by[:100], state="running", done=0, total=1, message="排队中")
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: str) -> JobStatus | None:
    """The job ``job_id`` as its page shows it, or None if unknown or expired.

    A job still marked running whose queue entry ended without it (failed,
    cancelled, aborted: its last worker died) is answered as failed; one
    that waits while no worker is alive says so."""
    if len(job_id) != 32 or any(c not in "0123456789abcdef" for c in job_id):
        return None
    row = session.execute(
        sa.select(BackgroundJob, _QUEUE_JOBS.c.status, _QUEUE_JOBS.c.attempts)
        .outerjoin(_QUEUE_JOBS, _QUEUE_JOBS.c.id == BackgroundJob.queue_job_id)
        .where(BackgroundJob.id == job_id)
    ).one_or_none()
    if row is None:
        return None
    job, queue_status, queue_attempts = row
    state, message, error = job.state, job.message, job.error
    if state == "running" and queue_status in ("failed", "cancelled", "aborted"):
        state, error = "error", STALE_ERRORS[job.kind]
    elif state == "running" and queue_status == "todo" and not _workers_alive(session):
        message = "排队中（暂无处理进程，请联系管理员启动 geo-service worker）"
    end = job.finished_at or session.execute(sa.select(sa.func.now())).scalar_one()
    return JobStatus(
        id=job.id, kind=job.kind, region=job.region_code, month=job.month,
        scope=Scope(region=job.scope_region, enterprise_id=job.scope_enterprise),
        state=state, done=job.done, total=job.total, message=message, error=error, filename=job.filename,
        archive_id=job.archive_id, params=dict(job.params or {}), result=job.result,
        seconds=round((end - job.created_at).total_seconds(), 1), attempts=max(job.attempts, queue_attempts or 0),
    )


def _workers_alive(session: Session) -> bool:
    return session.execute(sa.select(sa.exists().where(
        _QUEUE_WORKERS.c.last_heartbeat > sa.func.now() - dt.timedelta(minutes=2)))).scalar_one()


def job_payload(session: Session, job_id: str) -> bytes | None:
    """The produced file of a finished job."""
    return session.execute(sa.select(BackgroundJob.payload).where(BackgroundJob.id == job_id)).scalar_one_or_none()


def _set(conn: sa.Connection | Session, job_id: str, **values: Any) -> None:
    conn.execute(sa.update(BackgroundJob).where(BackgroundJob.id == job_id)
                 .values(updated_at=sa.func.now(), **values))


def _throttled(write: Callable[[dict[str, Any]], None]) -> Progress:
    last = 0.0

    def progress(done: int, total: int, message: str) -> None:
        nonlocal last
        if time.monotonic() - last > 0.3 or done >= total or done == 0:
            write({"done": done, "total": total, "message": message})
            last = time.monotonic()

    return progress


def engine_progress(engine: Engine, job_id: str) -> Progress:
    """Progress written at once, in its own short transactions (a worker's job
    runs in one long transaction no poll could see into)."""

    def write(values: dict[str, Any]) -> None:
        with engine.begin() as conn:
            _set(conn, job_id, **values)

    return _throttled(write)


def session_progress(session: Session, job_id: str) -> Progress:
    """Progress written on ``session`` (a job run inside the request)."""
    return _throttled(lambda values: _set(session, job_id, **values))


# ---------------------------------------------------------------- running


def run_job(session: Session, job_id: str, ctx: WorkerContext, progress: Progress, *,
            attempt: int = 0, reraise: bool = True) -> None:
    """Run the job ``job_id`` on ``session`` and record its outcome (committed).

    A refusal becomes the job's error in Chinese; an unexpected exception
    too (logged), and is re-raised when ``reraise`` so the queue retries or
    fails it.  A job already finished (its worker died after committing) is
    left as it is."""
    job = session.get(BackgroundJob, job_id)
    if job is None or job.state != "running":
        LOGGER.info("job %s: nothing to do (%s)", job_id, "unknown" if job is None else job.state)
        return
    kind = job.kind
    _set(session, job_id, attempts=attempt + 1, message=RETRYING if attempt else "开始处理")
    session.commit()
    try:
        out = RUNNERS[kind](session, job, ctx, progress)
        _set(session, job_id, state="done", message="完成", done=BackgroundJob.total, filename=out.filename,
             payload=out.payload,
             archive_id=out.archive_id, result=out.result, upload=None, finished_at=sa.func.now())
        session.commit()
    except GeoServiceError as err:
        session.rollback()
        LOGGER.warning("job %s (%s) refused: %s", job_id, kind, err.detail)
        _set(session, job_id, state="error", error=err.user_msg, result={"http_status": err.http_status},
             upload=None, finished_at=sa.func.now())
        session.commit()
    except Exception as err:
        session.rollback()
        if reraise and isinstance(err, tuple(RETRY.retry_exceptions or ())) and attempt < RETRIES:
            LOGGER.warning("job %s (%s) attempt %d failed, to be retried: %s", job_id, kind, attempt + 1, err)
            _set(session, job_id, message="数据库连接中断，稍后自动重试")
        else:
            LOGGER.exception("job %s (%s) failed", job_id, kind)
            _set(session, job_id, state="error", error=FAILED_ERROR, upload=None, finished_at=sa.func.now())
        session.commit()
        if reraise:
            raise


def _fail_stale(engine: Engine, job_id: str) -> None:
    with engine.begin() as conn:
        kind = conn.execute(sa.select(BackgroundJob.kind).where(BackgroundJob.id == job_id)).scalar_one_or_none()
        if kind is not None:
            conn.execute(sa.update(BackgroundJob)
                         .where(BackgroundJob.id == job_id, BackgroundJob.state == "running")
                         .values(state="error", error=STALE_ERRORS[kind], upload=None, finished_at=sa.func.now(),
                                 updated_at=sa.func.now()))


async def recover_stalled(queue: procrastinate.App, ctx: WorkerContext, stalled_seconds: float) -> list[int]:
    """Jobs of workers silent for ``stalled_seconds``: run again once, else failed.

    Returns the ids of the queue jobs handed back to the queue."""
    retried = []
    for job in await queue.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_seconds):
        assert job.id is not None
        if job.attempts < RETRIES:
            LOGGER.warning("job %s (%s) lost its worker: running it again", job.id, job.task_name)
            await queue.job_manager.retry_job(job)
            retried.append(job.id)
        else:
            LOGGER.warning("job %s (%s) lost its worker again: failed", job.id, job.task_name)
            await queue.job_manager.finish_job(job, status=queue_jobs.Status.FAILED, delete_job=False)
            if "job_id" in job.task_kwargs:
                await asyncio.to_thread(_fail_stale, ctx.engine, str(job.task_kwargs["job_id"]))
    return retried


async def prune_jobs(queue: procrastinate.App, ctx: WorkerContext) -> None:
    """Forget what no page needs any more: results older than :data:`KEEP_SECONDS`
    and finished queue entries (succeeded after an hour, failed after a day)."""
    await queue.job_manager.delete_old_jobs(nb_hours=1, queue=QUEUE)
    await queue.job_manager.delete_old_jobs(nb_hours=24, queue=QUEUE, include_failed=True, include_cancelled=True,
                                            include_aborted=True)

    def expired() -> None:
        with ctx.engine.begin() as conn:
            conn.execute(_delete_expired())

    await asyncio.to_thread(expired)


def build_queue(connector: Any, *, stalled_seconds: float = 30.0) -> procrastinate.App:
    """The procrastinate app with our tasks, on ``connector`` (an async
    psycopg one for workers, the web engine's SQLAlchemy one for deferring)."""
    queue = procrastinate.App(connector=connector)

    def body(context: procrastinate.JobContext, job_id: str) -> None:
        ctx: WorkerContext = context.additional_context["geo"]
        with Session(ctx.engine) as session:
            run_job(session, job_id, ctx, engine_progress(ctx.engine, job_id), attempt=context.job.attempts)

    for name in TASKS.values():
        queue.task(name=name, queue=QUEUE, pass_context=True, retry=RETRY)(body)

    every = max(1, round(stalled_seconds / 3))

    @queue.periodic(cron=f"* * * * * */{every}" if every < 60 else "* * * * *")
    @queue.task(name="recover_stalled", queue=QUEUE, queueing_lock="recover_stalled", pass_context=True)
    async def stalled(context: procrastinate.JobContext, timestamp: int) -> None:
        await recover_stalled(queue, context.additional_context["geo"], stalled_seconds)

    @queue.periodic(cron="7 * * * *")  # hourly
    @queue.task(name="prune_jobs", queue=QUEUE, queueing_lock="prune_jobs", pass_context=True)
    async def prune(context: procrastinate.JobContext, timestamp: int) -> None:
        await prune_jobs(queue, context.additional_context["geo"])

    return queue


def defer_job(queue: procrastinate.App, session: Session, job: BackgroundJob, *,
              lock: str | None = None, queueing_lock: str | None = None) -> BackgroundJob:
    """Commit the recorded ``job`` and put it on the queue under ``lock``
    (no two jobs with one lock run at once).

    When a job with the same ``queueing_lock`` is already waiting, ``job`` is
    dropped and the waiting one returned (:class:`Conflict` if it started meanwhile)."""
    job_id = job.id
    session.commit()
    try:
        queue_id = queue.configure_task(TASKS[job.kind], lock=lock, queueing_lock=queueing_lock).defer(job_id=job_id)
    except queue_errors.AlreadyEnqueued as err:
        session.execute(sa.delete(BackgroundJob).where(BackgroundJob.id == job_id))
        waiting = session.scalars(
            sa.select(BackgroundJob).join(_QUEUE_JOBS, _QUEUE_JOBS.c.id == BackgroundJob.queue_job_id)
            .where(_QUEUE_JOBS.c.queueing_lock == queueing_lock, _QUEUE_JOBS.c.status == "todo")).first()
        session.commit()
        if waiting is None:
            raise Conflict("同一任务正在排队，请稍后再试") from err
        return waiting
    _set(session, job_id, queue_job_id=queue_id)
    session.commit()
    session.refresh(job)
    return job


def actor_params(actor: Actor) -> dict[str, Any]:
    """An actor as a job's parameter (see :func:`actor_of`)."""
    return {"name": actor.name, "user_id": actor.user_id, "role": actor.role}


def actor_of(params: Mapping[str, Any]) -> Actor:
    return Actor(str(params["name"]), params.get("user_id"), str(params.get("role", "system")))


# ---------------------------------------------------------------- workers


def psycopg_conninfo(url: str) -> str:
    """A libpq URI from a SQLAlchemy URL (the driver suffix dropped).

    >>> psycopg_conninfo("postgresql+psycopg2://geo:pw@db/geo")
    'postgresql://geo:pw@db/geo'
    """
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}" if sep else url


def run_worker(config: Any, *, name: str | None = None, wait: bool = True) -> None:
    """Run one worker in this process until stopped (SIGTERM/SIGINT), or,
    with ``wait=False``, until the queue is empty.  ``config`` is a
    :class:`~geo_service.config.Config` with ``DATABASE_URL`` set."""
    from procrastinate import PsycopgConnector

    from .db import make_engine

    settings = config.as_flask()
    url = settings["DATABASE_URL"]
    stalled_seconds = float(settings["JOB_STALLED_SECONDS"])
    engine = make_engine(url, pool_size=2, statement_timeout_ms=int(settings["STATEMENT_TIMEOUT_MS"]))
    ctx = WorkerContext(engine=engine, config=settings)
    queue = build_queue(PsycopgConnector(conninfo=psycopg_conninfo(url), min_size=1, max_size=4),
                        stalled_seconds=stalled_seconds)

    async def main() -> None:
        async with queue.open_async():
            await recover_stalled(queue, ctx, stalled_seconds)
            await queue.run_worker_async(
                queues=[QUEUE], name=name, wait=wait, concurrency=1, additional_context={"geo": ctx},
                update_heartbeat_interval=max(0.2, stalled_seconds / 3), stalled_worker_timeout=stalled_seconds,
                fetch_job_polling_interval=2.0)

    try:
        asyncio.run(main())
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the job bodies


def _return_bundle(session: Session, job: BackgroundJob, ctx: WorkerContext, progress: Progress) -> Outcome:
    """The return's ZIP of ``job.region_code`` for ``job.month``; submitted (archived) with ``submit``."""
    from .services import returns
    from .services.maprender import MapStyle
    from .services.statistics import parse_month

    p = job.params
    assert job.region_code is not None and job.month is not None
    period = parse_month(job.month, ctx.config["CAMPAIGN_START"])
    scope = Scope(region=job.scope_region, enterprise_id=job.scope_enterprise)
    style = MapStyle.from_config(ctx.config)
    common = {"scope": scope, "style": style, "unit": p.get("unit", ""), "paper": p.get("paper", "A4"),
              "by": p.get("by", ""), "progress": progress}
    if p.get("submit"):
        archive, bundle = returns.submit_return(session, job.region_code, period, actor=actor_of(p["actor"]),
                                                **common)
        return Outcome(filename=bundle.filename, payload=bundle.zip_bytes, archive_id=archive.id)
    bundle = returns.build_bundle(session, job.region_code, period, **common)
    return Outcome(filename=bundle.filename, payload=bundle.zip_bytes)


def _import_file(session: Session, job: BackgroundJob, ctx: WorkerContext, progress: Progress) -> Outcome:
    """The uploaded file of ``job`` imported (or only checked) as its caller;
    the rejected rows as a workbook to download."""
    import tempfile
    from pathlib import Path

    from .services import importers, uploads

    p = job.params
    upload = session.execute(sa.select(BackgroundJob.upload).where(BackgroundJob.id == job.id)).scalar_one()
    if upload is None:
        raise GeoServiceError("上传的文件已不存在，请重新导入")
    scope = Scope(region=job.scope_region, enterprise_id=job.scope_enterprise)
    with tempfile.TemporaryDirectory(prefix="geo-import-") as tmp:
        path = Path(tmp) / p["filename"]
        path.write_bytes(upload)
        result = importers.import_records(
            session, p["kind"], path, datum=p["datum"], skip_bad=p["skip_bad"], dry_run=p["dry_run"],
            actor=actor_of(p["actor"]), scope=scope,
            limits=uploads.UploadLimits.from_mb(float(ctx.config["MAX_IMPORT_MB"])),
            evidence_for_general=bool(ctx.config["SIGNOFF_EVIDENCE_GENERAL"]), on_progress=progress)
        rejects = (importers.write_rejects(result, Path(tmp) / "rejects.xlsx").read_bytes()
                   if result.rejected_rows else None)
    if not result.written:
        session.rollback()  # nothing of a refused or checked-only file is kept
    return Outcome(filename="被拒绝的行.xlsx" if rejects else None, payload=rejects, result=result.as_dict())


def _export_list(session: Session, job: BackgroundJob, ctx: WorkerContext, progress: Progress) -> Outcome:
    """A filtered list of the caller's jurisdiction as a file (the API's download, for large lists)."""
    from . import registry
    from .queries.filters import parse_filters
    from .services import exports

    p = job.params
    kind, fmt, args = p["collection"], p["format"], p["args"]
    scope = Scope(region=job.scope_region, enterprise_id=job.scope_enterprise)
    progress(0, 2, "查询")
    f = parse_filters(args, max_bbox_area_deg2=float(ctx.config["MAX_BBOX_AREA_DEG2"]))
    stmt = registry.get(kind).statement(f, scope, dt.date.fromisoformat(p["as_of"]), args)
    rows = [registry.decorate(kind, r._mapping)
            for r in session.execute(stmt.limit(int(ctx.config["MAX_EXPORT_ROWS"])))]
    progress(1, 2, f"写入文件（{len(rows)}行）")
    warnings: list[str] = []
    data, _mimetype, ext = exports.export_rows(kind, rows, fmt, warnings)
    return Outcome(filename=f"{kind}-{p['as_of']}.{ext}", payload=data,
                   result={"rows": len(rows), "format": fmt, "warnings": warnings})


RUNNERS: dict[str, Runner] = {"return": _return_bundle, "import": _import_file, "export": _export_list}
