"""Starting a long job from a request: on the queue, or inline under ``JOBS_INLINE``."""

from __future__ import annotations

from typing import Any

import procrastinate
from flask import current_app

from .. import jobs
from ..db import get_session
from ..models import BackgroundJob

__all__ = ["start", "job_queue"]


def job_queue() -> procrastinate.App:
    """This app's procrastinate app, deferring through the app's own engine (made once)."""
    app: Any = current_app._get_current_object()  # type: ignore[attr-defined]
    queue = app.extensions.get("job_queue")
    if queue is None:
        from procrastinate.contrib.sqlalchemy import SQLAlchemyPsycopg2Connector

        queue = jobs.build_queue(SQLAlchemyPsycopg2Connector(),
                                 stalled_seconds=float(app.config["JOB_STALLED_SECONDS"]))
        queue.open(app.extensions["geo_engine"])
        app.extensions["job_queue"] = queue
    return queue


def start(job: BackgroundJob, *, lock: str | None = None, queueing_lock: str | None = None) -> BackgroundJob:
    """Put the recorded ``job`` on the queue (or, with ``JOBS_INLINE``, run it
    now on the request's session); returns the job the caller should follow
    (another one when one with the same ``queueing_lock`` is already waiting)."""
    session = get_session()
    if not current_app.config["JOBS_INLINE"]:
        return jobs.defer_job(job_queue(), session, job, lock=lock, queueing_lock=queueing_lock)
    ctx = jobs.WorkerContext(engine=current_app.extensions["geo_engine"], config=current_app.config)
    jobs.run_job(session, job.id, ctx, jobs.session_progress(session, job.id), reraise=False)
    session.refresh(job)
    return job
