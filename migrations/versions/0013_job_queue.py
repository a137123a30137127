"""The job queue: procrastinate's schema and the progress of our long jobs.

Long work (the return's ZIP, large imports and exports) runs on ``procrastinate``, a job
queue kept in PostgreSQL: no new server, separate worker processes
(``geo-service worker``), retries, a lock per region and month.

* procrastinate's schema is applied from a frozen copy,
  ``migrations/sql/procrastinate-3.10.0-schema.sql`` (procrastinate 3.10.0,
  MIT licence, file ``procrastinate/sql/schema.sql``), not read from the
  installed package: a migration is frozen history, and reading the package
  would make this step depend on whichever procrastinate is installed when
  an old database is upgraded.  A later procrastinate that changes its schema
  gets a later migration applying its own files from
  ``procrastinate/sql/migrations/`` (copied the same way).
* ``background_job`` holds what a user waits for: one row per job with its
  jurisdiction, its progress (done / total / stage), its outcome (an error
  in Chinese, or the produced file and the archive id of a submitted return)
  and the parameters to run it again (an import keeps its uploaded file in
  ``upload`` until it has run).  Any web worker answers the progress
  poll and serves the download from it, wherever the job ran.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from pathlib import Path

from alembic import op

revision = "0013"
down_revision = "0015"
branch_labels = None
depends_on = None

APP_ROLE = "geo_app"
SCHEMA_SQL = Path(__file__).resolve().parent.parent / "sql" / "procrastinate-3.10.0-schema.sql"

DDL = """
CREATE TABLE background_job (
    id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    kind text NOT NULL CHECK (kind IN ('return', 'import', 'export')),
    queue_job_id bigint REFERENCES procrastinate_jobs (id) ON DELETE SET NULL,
    region_code text,
    month text CHECK (month ~ '^[0-9]{4}-[0-9]{2}$'),
    scope_region text,
    scope_enterprise integer,
    params jsonb NOT NULL DEFAULT '{}',
    upload bytea,
    state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'error')),
    done integer NOT NULL DEFAULT 0,
    total integer NOT NULL DEFAULT 1,
    message text NOT NULL DEFAULT '排队中',
    error text,
    result jsonb,
    filename text,
    payload bytea,
    archive_id integer REFERENCES return_archive (id),
    attempts integer NOT NULL DEFAULT 0,
    created_by text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX ix_background_job_created ON background_job (created_at);
CREATE INDEX ix_background_job_queue_job ON background_job (queue_job_id);
COMMENT ON TABLE background_job IS
    'Long jobs a user waits for (returns, imports, exports): progress, outcome, produced file; the queue is procrastinate_jobs';
"""

# The application defers jobs and its workers run them as geo_app
# (procrastinate's functions are SECURITY INVOKER: they need these rights).
APP_GRANTS = """
GRANT SELECT, INSERT, UPDATE, DELETE ON procrastinate_jobs TO geo_app;  -- the web defers jobs, workers fetch, finish, retry and prune them
GRANT SELECT, INSERT ON procrastinate_events TO geo_app;  -- procrastinate's triggers log each job's transitions as the caller
GRANT SELECT, INSERT, UPDATE, DELETE ON procrastinate_workers TO geo_app;  -- workers register, beat and prune dead workers
GRANT SELECT, INSERT, UPDATE, DELETE ON procrastinate_periodic_defers TO geo_app;  -- workers defer the periodic stalled-job check once per tick
GRANT USAGE ON SEQUENCE procrastinate_jobs_id_seq TO geo_app;  -- ids of deferred jobs
GRANT USAGE ON SEQUENCE procrastinate_events_id_seq TO geo_app;  -- ids of job events
GRANT USAGE ON SEQUENCE procrastinate_periodic_defers_id_seq TO geo_app;  -- ids of periodic defers
GRANT SELECT, INSERT, UPDATE, DELETE ON background_job TO geo_app;  -- the web records jobs and reads their progress, workers report it, expired results are removed
"""

GRANTS = f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        {APP_GRANTS}
    END IF;
END $$;
"""


def upgrade() -> None:
    op.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
    op.execute(DDL)
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE background_job;
        DROP TABLE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
                   procrastinate_workers CASCADE;
        DROP FUNCTION IF EXISTS procrastinate_defer_jobs_v1, procrastinate_defer_periodic_job_v2,
                      procrastinate_fetch_job_v2, procrastinate_finish_job_v1, procrastinate_cancel_job_v1,
                      procrastinate_retry_job_v1, procrastinate_retry_job_v2,
                      procrastinate_notify_queue_job_inserted_v1, procrastinate_notify_queue_abort_job_v1,
                      procrastinate_trigger_function_status_events_insert_v1,
                      procrastinate_trigger_function_status_events_update_v1,
                      procrastinate_trigger_function_scheduled_events_v1,
                      procrastinate_trigger_abort_requested_events_procedure_v1,
                      procrastinate_unlink_periodic_defers_v1, procrastinate_register_worker_v1,
                      procrastinate_unregister_worker_v1, procrastinate_update_heartbeat_v1,
                      procrastinate_prune_stalled_workers_v1;
        DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type, procrastinate_job_status;
        """
    )
