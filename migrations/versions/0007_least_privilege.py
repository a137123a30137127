"""Least privilege for the application's database role ``geo_app``.

Migrations 0002/0003 granted ``geo_app`` SELECT, INSERT, UPDATE and DELETE on
every table (and, through default privileges, on every later one): the web
application could delete submitted returns, promote an account to admin,
clear the login throttle, and rewrite ``alembic_version``, ``spatial_ref_sys``,
``industry`` and ``region``.  This migration revokes all of that and grants,
one line each, only what the web application writes, with the reason.

Who connects as whom: the web application (``geo-service serve``) connects as
``geo_app``.  Migrations, the command line (imports, users, returns, backup)
and the demo loader connect as the owner, so reference data (regions,
industries) and accounts are maintained there, not from the web.

The triggers that keep derived data (the automatic grade, the tile and
summary aggregates, the change token) now run as the owner (SECURITY DEFINER
with a fixed search_path): the application reads those tables but cannot
write, and so cannot forge, them.

Grants are by column where a table is only partly updatable: an UPDATE grant
on the whole table would also cover a column added later.  Tables not named
below get nothing; ``tests/test_privileges.py`` reads ``APP_GRANTS`` and
compares it with the grants the database actually holds.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

APP_ROLE = "geo_app"

# One GRANT per line, each with its reason.  The test parses these lines.
APP_GRANTS = """
GRANT SELECT ON industry TO geo_app;  -- vocabulary, written only by migrations
GRANT SELECT ON region TO geo_app;  -- boundaries, imported only from the command line (geo-service import regions)
GRANT SELECT ON spatial_ref_sys TO geo_app;  -- PostGIS reads it to transform coordinates
GRANT SELECT, INSERT ON enterprise TO geo_app;  -- API/form create and web imports
GRANT UPDATE (credit_code, name, address, industry_code, region_code, geom, legal_rep, contact_phone, complaint_phone, supervising_dept, grade_override, grade_override_note, version, updated_at) ON enterprise TO geo_app;  -- API/form edit and web imports (never id, created_at, nor grade_auto: the trigger keeps it)
GRANT SELECT, INSERT ON risk_point TO geo_app;  -- API/form create and web imports
GRANT UPDATE (name, location_desc, accident_type, grade, method, score, method_params, control_measures, controls_implemented, responsible_person, assessed_on, version) ON risk_point TO geo_app;  -- API/form edit and web imports (never id, enterprise_id, created_at)
GRANT SELECT, INSERT ON hazard TO geo_app;  -- API/form registration and web imports
GRANT UPDATE (description, level, category, criterion, source, found_on, found_by, deadline, state, resp_person, measures, funds_wan, emergency_plan, supervision_doc_no, rectified_on, verified_on, verifier, verification_note, rectification_note, rectified_by_id, verifier_id, geom, version, updated_at) ON hazard TO geo_app;  -- edits and lifecycle transitions, with the accounts that recorded 整改完成 and signed off (never id, enterprise_id, created_at, nor origin and created_by_id: set once on insert)
GRANT SELECT, INSERT ON hazard_event TO geo_app;  -- append-only lifecycle log
GRANT SELECT, INSERT ON hazard_evidence TO geo_app;  -- evidence uploads; files are never deleted from the record
GRANT SELECT ON app_user TO geo_app;  -- login and the session's user; accounts are made from the command line
GRANT UPDATE (password_hash, session_epoch) ON app_user TO geo_app;  -- 修改密码 page of the signed-in user, and logout ending every earlier session (never role, region, enterprise, active, unit)
GRANT SELECT, INSERT ON api_token TO geo_app;  -- the account page makes tokens
GRANT UPDATE (revoked_at, last_used_at) ON api_token TO geo_app;  -- revoking a token; noting its last use
GRANT SELECT, INSERT ON audit_log TO geo_app;  -- append-only audit log, read on the admin page
GRANT SELECT, INSERT ON login_attempt TO geo_app;  -- throttling counts recent failures; no DELETE, so it cannot be reset
GRANT SELECT, INSERT ON map_export TO geo_app;  -- record of printed maps
GRANT SELECT, INSERT ON return_archive TO geo_app;  -- submitted returns are append-only: a resubmission is a new row
GRANT SELECT ON enterprise_cell TO geo_app;  -- low-zoom tiles read the aggregates (the owner's triggers keep them)
GRANT SELECT ON risk_tally TO geo_app;  -- summaries read the tallies (the owner's triggers keep them)
GRANT SELECT ON hazard_tally TO geo_app;  -- summaries read the tallies (the owner's triggers keep them)
GRANT SELECT ON data_change TO geo_app;  -- the tile cache's change token (the owner's triggers append it)
GRANT USAGE ON SEQUENCE enterprise_id_seq TO geo_app;  -- ids of new enterprises
GRANT USAGE ON SEQUENCE risk_point_id_seq TO geo_app;  -- ids of new risk points
GRANT USAGE ON SEQUENCE hazard_id_seq TO geo_app;  -- ids of new hazards
GRANT USAGE ON SEQUENCE hazard_event_id_seq TO geo_app;  -- ids of lifecycle events
GRANT USAGE ON SEQUENCE hazard_evidence_id_seq TO geo_app;  -- ids of evidence files
GRANT USAGE ON SEQUENCE api_token_id_seq TO geo_app;  -- ids of API tokens
GRANT USAGE ON SEQUENCE audit_log_id_seq TO geo_app;  -- ids of audit rows
GRANT USAGE ON SEQUENCE login_attempt_id_seq TO geo_app;  -- ids of login attempts
GRANT USAGE ON SEQUENCE map_export_id_seq TO geo_app;  -- ids of map exports
GRANT USAGE ON SEQUENCE return_archive_id_seq TO geo_app;  -- ids of submitted returns
"""

# Tables of the schema the application may not touch at all.
NO_GRANTS = ("alembic_version",)

# Triggers that maintain derived data (the automatic grade, the tile and
# summary aggregates, the change token) run as the owner, with a fixed
# search_path, so the application needs no write grant on what they maintain
# and cannot forge it.  Trigger functions cannot be called directly.
OWNER_TRIGGERS = (
    "risk_point_grade_trigger",
    "enterprise_cell_trigger",
    "data_change_note",
    "risk_point_tally_trigger",
    "hazard_tally_trigger",
    "enterprise_tally_trigger",
)

UPGRADE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        RETURN;  -- no role (the migrating user could not create it): nothing to narrow
    END IF;
    REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE};
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE};
    -- A table made later gets nothing until its migration grants it.
    ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {APP_ROLE};
    ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {APP_ROLE};
    {APP_GRANTS}
END $$;
"""

# What 0002/0003 left behind.
DOWNGRADE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        RETURN;
    END IF;
    REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE};
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE};
    REVOKE UPDATE, DELETE, TRUNCATE ON hazard_event, audit_log FROM {APP_ROLE};
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE};
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE};
END $$;
"""


def upgrade() -> None:
    for fn in OWNER_TRIGGERS:
        op.execute(f"ALTER FUNCTION {fn}() SECURITY DEFINER SET search_path = public, pg_temp")
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
    for fn in OWNER_TRIGGERS:
        op.execute(f"ALTER FUNCTION {fn}() SECURITY INVOKER RESET search_path")
