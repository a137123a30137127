"""Background production of a return's ZIP, with progress the page can poll.

A job runs in a thread with its own database session (a whole prefecture's
bundle takes a couple of minutes) unless ``RETURN_JOBS_INLINE`` is set — the
tests set it, and then the job runs inside the request on the request's
session.  A job's state and its ZIP live in ``VAR_DIR/return-jobs/`` so that
any gunicorn worker can answer the progress poll and serve the download, not
only the one that started it; files older than an hour are removed.

While a job runs, a companion thread refreshes its ``heartbeat`` every few
seconds.  A worker that dies (killed, restarted by gunicorn) stops the
heartbeat, and a running job whose heartbeat is older than
``RETURN_JOB_STALE_SECONDS`` (60 by default) is reported failed, so the page
offers to generate it again instead of showing "running" until the file
expires.  (A later change moves these jobs to a real queue.)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from ...errors import GeoServiceError
from ...queries.scope import Scope
from ...services.returns import Bundle, Progress

__all__ = ["Job", "start_job", "get_job"]

LOGGER = logging.getLogger(__name__)
KEEP_SECONDS = 3600
HEARTBEAT_SECONDS = 5.0  # how often a running job says it is alive
STALE_ERROR = "生成任务已中断（处理进程已停止或重启），未生成月报，请重新生成"
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")

# work(session, progress) → (bundle, archive id or None)
Work = Callable[[Session, Progress], tuple[Bundle, int | None]]


@dataclass
class Job:
    id: str
    region: str
    month: str
    scope_region: str | None
    scope_enterprise: int | None
    state: str = "running"  # running | done | error
    done: int = 0
    total: int = 1
    message: str = "排队中"
    error: str | None = None
    filename: str | None = None
    archive_id: int | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    heartbeat: float | None = None  # last sign of life of the running thread
    # what to do again on 重新生成
    submit: bool = False
    paper: str = "A4"
    by: str = ""

    @property
    def scope(self) -> Scope:
        return Scope(region=self.scope_region, enterprise_id=self.scope_enterprise)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "region": self.region, "month": self.month, "state": self.state,
            "done": self.done, "total": self.total, "message": self.message, "error": self.error,
            "archive_id": self.archive_id, "filename": self.filename, "submit": self.submit,
            "seconds": round((self.finished or time.time()) - self.started, 1),
        }


def _root(app: Flask) -> Path:
    root = Path(app.config["VAR_DIR"]) / "return-jobs"
    root.mkdir(parents=True, exist_ok=True)
    return root


def zip_path(app: Flask, job: Job) -> Path:
    """Where the finished ZIP of ``job`` is kept."""
    return _root(app) / f"{job.id}.zip"


def _save(app: Flask, job: Job) -> None:
    path = _root(app) / f"{job.id}.json"
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(job), ensure_ascii=False))
    tmp.replace(path)  # atomic: a poll never reads half a file


def _prune(app: Flask) -> None:
    cutoff = time.time() - KEEP_SECONDS
    for path in _root(app).iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:  # another worker pruned it first
            pass


def get_job(app: Flask, job_id: str) -> Job | None:
    """The job ``job_id`` (any worker's), or None if unknown or expired.

    A running job whose heartbeat is older than ``RETURN_JOB_STALE_SECONDS``
    lost its worker: it is answered as failed."""
    if not _JOB_ID.match(job_id):
        return None
    try:
        data = json.loads((_root(app) / f"{job_id}.json").read_text())
    except FileNotFoundError:
        return None
    known = {f.name for f in dataclasses.fields(Job)}
    job = Job(**{k: v for k, v in data.items() if k in known})
    stale_after = float(app.config["RETURN_JOB_STALE_SECONDS"])
    if job.state == "running" and time.time() - (job.heartbeat or job.started) > stale_after:
        job.state, job.error = "error", STALE_ERROR
    return job


def _beat(app: Flask, job: Job, stop: threading.Event) -> None:
    """Refresh ``job.heartbeat`` until ``stop`` is set."""
    while not stop.wait(HEARTBEAT_SECONDS):
        job.heartbeat = time.time()
        _save(app, job)


def _run(app: Flask, job: Job, session: Session, work: Work) -> None:
    last_save = 0.0

    def progress(done: int, total: int, message: str) -> None:
        nonlocal last_save
        job.done, job.total, job.message = done, total, message
        if time.monotonic() - last_save > 0.3 or done >= total:
            _save(app, job)
            last_save = time.monotonic()

    stop = threading.Event()
    beat = threading.Thread(target=_beat, args=(app, job, stop), name=f"beat-{job.id[:8]}", daemon=True)
    beat.start()
    try:
        bundle, job.archive_id = work(session, progress)
        session.commit()
        zip_path(app, job).write_bytes(bundle.zip_bytes)
        job.filename = bundle.filename
        job.state, job.message = "done", "完成"
    except GeoServiceError as err:
        session.rollback()
        job.state, job.error = "error", err.user_msg
        LOGGER.warning("return job %s failed: %s", job.id, err.detail)
    except Exception:  # noqa: BLE001 - a failed job reports, the worker thread must not die silently
        session.rollback()
        job.state, job.error = "error", "生成失败，请稍后重试或联系管理员"
        LOGGER.exception("return job %s failed", job.id)
    finally:
        stop.set()
        beat.join()
        job.finished = time.time()
        _save(app, job)


def start_job(app: Flask, region: str, month: str, scope: Scope, work: Work,
              request_session: Session, *, submit: bool = False, paper: str = "A4", by: str = "") -> Job:
    """Register a job and run ``work``: inline on ``request_session`` or in a thread.

    ``submit``, ``paper`` and ``by`` are kept with the job for 重新生成."""
    _prune(app)
    job = Job(id=uuid.uuid4().hex, region=region, month=month,
              scope_region=scope.region, scope_enterprise=scope.enterprise_id,
              heartbeat=time.time(), submit=submit, paper=paper, by=by)
    _save(app, job)
    if app.config["RETURN_JOBS_INLINE"] or app.testing:
        _run(app, job, request_session, work)
        return job

    engine = app.extensions["geo_engine"]

    def target() -> None:
        with Session(bind=engine) as session:
            _run(app, job, session, work)

    threading.Thread(target=target, name=f"return-{job.id[:8]}", daemon=True).start()
    return job
