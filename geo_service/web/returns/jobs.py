"""Background production of a return's ZIP, with progress the page can poll.

A job runs in a thread with its own database session (the bundle takes some
seconds per region) unless ``RETURN_JOBS_INLINE`` is set — the tests set it,
and then the job runs inside the request on the request's session.  Jobs live
in the process (one worker is enough for a regulator's office; with several
gunicorn workers use sticky sessions) and are dropped after an hour.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from ...errors import GeoServiceError
from ...queries.scope import Scope
from ...services.returns import Bundle, Progress

__all__ = ["Job", "start_job", "get_job"]

LOGGER = logging.getLogger(__name__)
KEEP_SECONDS = 3600
MAX_JOBS = 50

# work(session, progress) → (bundle, archive id or None)
Work = Callable[[Session, Progress], tuple[Bundle, int | None]]


@dataclass
class Job:
    id: str
    region: str
    month: str
    scope: Scope
    state: str = "running"  # running | done | error
    done: int = 0
    total: int = 1
    message: str = "排队中"
    error: str | None = None
    bundle: Bundle | None = None
    archive_id: int | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "region": self.region, "month": self.month, "state": self.state,
            "done": self.done, "total": self.total, "message": self.message, "error": self.error,
            "archive_id": self.archive_id,
            "filename": self.bundle.filename if self.bundle else None,
            "seconds": round((self.finished or time.time()) - self.started, 1),
        }


_LOCK = threading.Lock()


def _jobs(app: Flask) -> dict[str, Job]:
    return app.extensions.setdefault("return_jobs", {})


def _prune(jobs: dict[str, Job]) -> None:
    now = time.time()
    for key in [k for k, j in jobs.items() if j.finished and now - j.finished > KEEP_SECONDS]:
        del jobs[key]
    while len(jobs) > MAX_JOBS:
        del jobs[min(jobs, key=lambda k: jobs[k].started)]


def get_job(app: Flask, job_id: str) -> Job | None:
    with _LOCK:
        return _jobs(app).get(job_id)


def _run(job: Job, session: Session, work: Work) -> None:
    def progress(done: int, total: int, message: str) -> None:
        job.done, job.total, job.message = done, total, message

    try:
        job.bundle, job.archive_id = work(session, progress)
        session.commit()
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
        job.finished = time.time()


def start_job(app: Flask, region: str, month: str, scope: Scope, work: Work,
              request_session: Session) -> Job:
    """Register a job and run ``work``: inline on ``request_session`` or in a thread."""
    job = Job(id=uuid.uuid4().hex, region=region, month=month, scope=scope)
    with _LOCK:
        jobs = _jobs(app)
        _prune(jobs)
        jobs[job.id] = job
    if app.config.get("RETURN_JOBS_INLINE") or app.testing:
        _run(job, request_session, work)
        return job

    engine = app.extensions["geo_engine"]

    def target() -> None:
        with Session(bind=engine) as session:
            _run(job, session, work)

    threading.Thread(target=target, name=f"return-{job.id[:8]}", daemon=True).start()
    return job
