"""Accounts: login throttling table, the application's database role and its grants.

The service connects as ``geo_app``, which may read and write the register but
only SELECT and INSERT the append-only tables (``hazard_event``,
``audit_log``): no UPDATE, DELETE or TRUNCATE grant.  Migrations run as the
owner.  Creating the role needs CREATEROLE; on a server where the migrating
user lacks it the role step is skipped and the triggers still forbid changes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APP_ROLE = "geo_app"

DDL = """
CREATE TABLE login_attempt (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    username   varchar(60) NOT NULL,
    ip         varchar(64),
    succeeded  boolean NOT NULL
);
CREATE INDEX ix_login_attempt_username_at ON login_attempt (username, at);
CREATE INDEX ix_login_attempt_ip_at ON login_attempt (ip, at);
"""

GRANTS = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
            CREATE ROLE {APP_ROLE} LOGIN;
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO {APP_ROLE}', current_database());
        GRANT USAGE ON SCHEMA public TO {APP_ROLE};
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE};
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE};
        REVOKE UPDATE, DELETE, TRUNCATE ON hazard_event, audit_log FROM {APP_ROLE};
        -- Tables made by later migrations get the same grants (the append-only
        -- ones are revoked again by the migration that makes them).
        ALTER DEFAULT PRIVILEGES IN SCHEMA public
            GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE};
        ALTER DEFAULT PRIVILEGES IN SCHEMA public
            GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE};
    END IF;
END $$;
"""


def upgrade() -> None:
    op.execute(DDL)
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute("DROP TABLE login_attempt")
    op.execute(
        f"""
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE};
                REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE};
                ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {APP_ROLE};
                ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {APP_ROLE};
                REVOKE ALL ON SCHEMA public FROM {APP_ROLE};
                EXECUTE format('REVOKE ALL ON DATABASE %I FROM {APP_ROLE}', current_database());
            END IF;
        END $$;
        """
    )
