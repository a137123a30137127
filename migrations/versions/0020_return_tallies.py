"""The monthly return's counts without reading a year of the register.

The province's return read every hazard and risk point of the year (2–3 million rows) to
count *distinct* enterprises; the 重大 columns need only the few 重大 hazards and red risk
points, and the changes of the month only the month's hazards.

``enterprise_activity``, ``activity_tally``
    For each enterprise, kind (``hazard``: found; ``risk``: assessed) and year, the months in
    which it found a hazard / assessed a risk point, as a bit mask (bit m − 1 for month m),
    with its ``region_code`` and ``industry_code``; ``activity_tally`` counts the enterprises
    per (kind, year, region_code, industry_code, months).  "Enterprises with a hazard found
    from 1 January to the end of month M" is then the sum of ``n`` over the masks with any of
    the bits 0 … M − 1 set, and the month's part those with bit M − 1 — a few thousand tally
    rows for a province.  Row triggers on ``hazard`` (``found_on``, ``enterprise_id``),
    ``risk_point`` (``assessed_on``, ``enterprise_id``) and ``enterprise`` (``region_code``,
    ``industry_code``) recompute the mask of each (enterprise, kind, year) a change touches
    from the register (the enterprise's own rows of that year, by index) in the writer's
    transaction, holding that enterprise's activity row locked so concurrent writers
    serialise on it.  ``activity_tally_rebuild()`` recomputes both from scratch.
``ix_hazard_major_found``, ``ix_risk_point_red_assessed``
    The 重大 hazards by found date and the red risk points by assessment date (partial
    indexes): the return's 重大 columns read only those rows.
``ix_hazard_found_on``, ``ix_hazard_verified_on``, ``ix_hazard_open_deadline``
    Rebuilt to carry ``level``/``state`` and ``ent_region``: the changes of a month
    (found, signed off, gone overdue) are index-only counts per region.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

APP_ROLE = "geo_app"
# Frozen copies of the vocabulary when this revision was written (a migration never
# imports geo_service).
MAJOR = "major"
RED = 1
OVERDUE_STATES = ("registered", "rectifying")
CAN_BE_OVERDUE = ", ".join(f"'{s}'" for s in OVERDUE_STATES)

DDL = """
CREATE TABLE enterprise_activity (
    enterprise_id  integer NOT NULL,
    kind           varchar(8) NOT NULL,      -- 'hazard' (found_on) or 'risk' (assessed_on)
    year           smallint NOT NULL,
    months         integer NOT NULL,         -- bit m - 1: at least one in month m
    region_code    varchar(12) NOT NULL,     -- the enterprise's ('' when none)
    industry_code  varchar(40) NOT NULL,
    PRIMARY KEY (enterprise_id, kind, year)
);

CREATE TABLE activity_tally (
    kind           varchar(8) NOT NULL,
    year           smallint NOT NULL,
    region_code    varchar(12) NOT NULL,
    industry_code  varchar(40) NOT NULL,
    months         integer NOT NULL,
    n              integer NOT NULL,
    PRIMARY KEY (kind, year, region_code, industry_code, months)
);
CREATE INDEX ix_activity_tally_region ON activity_tally (kind, year, region_code varchar_pattern_ops)
    INCLUDE (industry_code, months, n);

CREATE FUNCTION activity_tally_add(k varchar, yr smallint, region varchar, industry varchar, mask integer,
                                   sign integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF mask = 0 THEN
        RETURN;
    END IF;
    INSERT INTO activity_tally AS t (kind, year, region_code, industry_code, months, n)
    VALUES (k, yr, region, industry, mask, sign)
    ON CONFLICT (kind, year, region_code, industry_code, months) DO UPDATE SET n = t.n + excluded.n;
    IF sign < 0 THEN
        DELETE FROM activity_tally
         WHERE kind = k AND year = yr AND region_code = region AND industry_code = industry AND months = mask
           AND n <= 0;
    END IF;
END $$;

-- The months of year yr in which enterprise eid found a hazard / assessed a risk point, from the register.
CREATE FUNCTION activity_months(eid integer, k varchar, yr smallint) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT coalesce(bit_or(1 << (extract(month FROM d)::integer - 1)), 0)
      FROM (SELECT found_on AS d FROM hazard
             WHERE k = 'hazard' AND enterprise_id = eid
               AND found_on >= make_date(yr, 1, 1) AND found_on < make_date(yr + 1, 1, 1)
            UNION ALL
            SELECT assessed_on FROM risk_point
             WHERE k = 'risk' AND enterprise_id = eid
               AND assessed_on >= make_date(yr, 1, 1) AND assessed_on < make_date(yr + 1, 1, 1)) s
$$;

-- Recompute one (enterprise, kind, year) and move its tally count.
CREATE FUNCTION activity_refresh(eid integer, k varchar, yr smallint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    prev record;
    e record;
    mask integer;
BEGIN
    IF eid IS NULL OR yr IS NULL THEN
        RETURN;
    END IF;
    -- a placeholder row to lock: a concurrent writer of the same enterprise waits here until
    -- this transaction ends, then recomputes from the register it can then see (and
    -- inserts the row again if that writer removed it)
    LOOP
        INSERT INTO enterprise_activity (enterprise_id, kind, year, months, region_code, industry_code)
        VALUES (eid, k, yr, 0, '', '') ON CONFLICT DO NOTHING;
        SELECT * INTO prev FROM enterprise_activity
         WHERE enterprise_id = eid AND kind = k AND year = yr FOR UPDATE;
        EXIT WHEN FOUND;
    END LOOP;
    SELECT coalesce(region_code, '') AS region_code, industry_code INTO e FROM enterprise WHERE id = eid;
    mask := CASE WHEN e.industry_code IS NULL THEN 0 ELSE activity_months(eid, k, yr) END;
    IF prev.months = mask AND (mask = 0 OR (prev.region_code = e.region_code
                                             AND prev.industry_code = e.industry_code)) THEN
        IF mask = 0 THEN
            DELETE FROM enterprise_activity WHERE enterprise_id = eid AND kind = k AND year = yr;
        END IF;
        RETURN;
    END IF;
    PERFORM activity_tally_add(k, yr, prev.region_code, prev.industry_code, prev.months, -1);
    IF mask = 0 THEN
        DELETE FROM enterprise_activity WHERE enterprise_id = eid AND kind = k AND year = yr;
    ELSE
        PERFORM activity_tally_add(k, yr, e.region_code, e.industry_code, mask, 1);
        UPDATE enterprise_activity SET months = mask, region_code = e.region_code, industry_code = e.industry_code
         WHERE enterprise_id = eid AND kind = k AND year = yr;
    END IF;
END $$;

CREATE FUNCTION hazard_activity_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.enterprise_id = OLD.enterprise_id
       AND extract(year FROM NEW.found_on) = extract(year FROM OLD.found_on)
       AND extract(month FROM NEW.found_on) = extract(month FROM OLD.found_on) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM activity_refresh(OLD.enterprise_id, 'hazard', extract(year FROM OLD.found_on)::smallint);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM activity_refresh(NEW.enterprise_id, 'hazard', extract(year FROM NEW.found_on)::smallint);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER hazard_activity AFTER INSERT OR DELETE OR UPDATE OF enterprise_id, found_on ON hazard
    FOR EACH ROW EXECUTE FUNCTION hazard_activity_trigger();

CREATE FUNCTION risk_point_activity_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.enterprise_id = OLD.enterprise_id
       AND NEW.assessed_on IS NOT DISTINCT FROM OLD.assessed_on THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.assessed_on IS NOT NULL THEN
        PERFORM activity_refresh(OLD.enterprise_id, 'risk', extract(year FROM OLD.assessed_on)::smallint);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.assessed_on IS NOT NULL THEN
        PERFORM activity_refresh(NEW.enterprise_id, 'risk', extract(year FROM NEW.assessed_on)::smallint);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER risk_point_activity AFTER INSERT OR DELETE OR UPDATE OF enterprise_id, assessed_on ON risk_point
    FOR EACH ROW EXECUTE FUNCTION risk_point_activity_trigger();

-- An enterprise that changes region or industry moves its counts.
CREATE FUNCTION enterprise_activity_move() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    a record;
BEGIN
    IF NEW.region_code IS NOT DISTINCT FROM OLD.region_code AND NEW.industry_code = OLD.industry_code THEN
        RETURN NULL;
    END IF;
    FOR a IN SELECT kind, year FROM enterprise_activity WHERE enterprise_id = NEW.id LOOP
        PERFORM activity_refresh(NEW.id, a.kind, a.year);
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER enterprise_activity_move AFTER UPDATE OF region_code, industry_code ON enterprise
    FOR EACH ROW EXECUTE FUNCTION enterprise_activity_move();

CREATE FUNCTION activity_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k varchar := CASE TG_TABLE_NAME WHEN 'hazard' THEN 'hazard' ELSE 'risk' END;
BEGIN
    DELETE FROM enterprise_activity WHERE kind = k;
    DELETE FROM activity_tally WHERE kind = k;
    RETURN NULL;
END $$;
CREATE TRIGGER hazard_activity_truncate AFTER TRUNCATE ON hazard
    FOR EACH STATEMENT EXECUTE FUNCTION activity_truncate();
CREATE TRIGGER risk_point_activity_truncate AFTER TRUNCATE ON risk_point
    FOR EACH STATEMENT EXECUTE FUNCTION activity_truncate();

-- Everything from scratch (after a bulk load with triggers off).
CREATE FUNCTION activity_tally_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE enterprise_activity, activity_tally;
    INSERT INTO enterprise_activity (enterprise_id, kind, year, months, region_code, industry_code)
    SELECT e.id, 'hazard', a.year, a.months, coalesce(e.region_code, ''), e.industry_code
      FROM (SELECT enterprise_id, extract(year FROM found_on)::smallint AS year,
                   bit_or(1 << (extract(month FROM found_on)::integer - 1)) AS months
              FROM hazard GROUP BY 1, 2) a
      JOIN enterprise e ON e.id = a.enterprise_id;
    INSERT INTO enterprise_activity (enterprise_id, kind, year, months, region_code, industry_code)
    SELECT e.id, 'risk', a.year, a.months, coalesce(e.region_code, ''), e.industry_code
      FROM (SELECT enterprise_id, extract(year FROM assessed_on)::smallint AS year,
                   bit_or(1 << (extract(month FROM assessed_on)::integer - 1)) AS months
              FROM risk_point WHERE assessed_on IS NOT NULL GROUP BY 1, 2) a
      JOIN enterprise e ON e.id = a.enterprise_id;
    INSERT INTO activity_tally (kind, year, region_code, industry_code, months, n)
    SELECT kind, year, region_code, industry_code, months, count(*)
      FROM enterprise_activity GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO data_change DEFAULT VALUES;
END $$;
"""

INDEXES = f"""
CREATE INDEX ix_hazard_major_found ON hazard (found_on) WHERE level = '{MAJOR}';
CREATE INDEX ix_risk_point_red_assessed ON risk_point (assessed_on) WHERE grade = {RED};
CREATE INDEX ix_hazard_found_on_0020 ON hazard (found_on) INCLUDE (level, ent_region);
CREATE INDEX ix_hazard_verified_on_0020 ON hazard (verified_on) INCLUDE (state, found_on, ent_region);
CREATE INDEX ix_hazard_open_deadline_0020 ON hazard (deadline) INCLUDE (found_on, ent_region)
    WHERE state IN ({CAN_BE_OVERDUE});
"""

# Last, so the table is locked against readers (DROP INDEX) only for a moment before the commit.
SWAP_INDEXES = """
DROP INDEX ix_hazard_found_on, ix_hazard_verified_on, ix_hazard_open_deadline;
ALTER INDEX ix_hazard_found_on_0020 RENAME TO ix_hazard_found_on;
ALTER INDEX ix_hazard_verified_on_0020 RENAME TO ix_hazard_verified_on;
ALTER INDEX ix_hazard_open_deadline_0020 RENAME TO ix_hazard_open_deadline;
"""

# What geo_app may do with what this revision adds (parsed by tests/test_privileges.py).
APP_GRANTS = """
GRANT SELECT ON activity_tally TO geo_app;  -- the return counts enterprises from it (the owner's triggers keep it)
GRANT SELECT ON enterprise_activity TO geo_app;  -- read only to check the tally; the owner's triggers keep it
"""

# Triggers that maintain derived data run as the owner: the application holds no
# write grant on enterprise_activity nor on activity_tally.
OWNER_TRIGGERS = ("hazard_activity_trigger", "risk_point_activity_trigger", "enterprise_activity_move",
                  "activity_truncate")

GRANTS = f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        {APP_GRANTS}
    END IF;
END $$;
"""


def upgrade() -> None:
    op.execute(DDL)
    for fn in OWNER_TRIGGERS:
        op.execute(f"ALTER FUNCTION {fn}() SECURITY DEFINER SET search_path = public, pg_temp")
    op.execute("SELECT activity_tally_rebuild()")
    op.execute(INDEXES)
    op.execute("ANALYZE enterprise_activity, activity_tally")
    op.execute(GRANTS)
    op.execute(SWAP_INDEXES)


def downgrade() -> None:
    op.execute(
        f"""
        DROP INDEX ix_hazard_open_deadline;
        CREATE INDEX ix_hazard_open_deadline ON hazard (deadline) WHERE state IN ({CAN_BE_OVERDUE});
        DROP INDEX ix_hazard_verified_on;
        CREATE INDEX ix_hazard_verified_on ON hazard (verified_on);
        DROP INDEX ix_hazard_found_on;
        CREATE INDEX ix_hazard_found_on ON hazard (found_on);
        DROP INDEX ix_risk_point_red_assessed, ix_hazard_major_found;
        DROP TRIGGER risk_point_activity_truncate ON risk_point;
        DROP TRIGGER hazard_activity_truncate ON hazard;
        DROP TRIGGER enterprise_activity_move ON enterprise;
        DROP TRIGGER risk_point_activity ON risk_point;
        DROP TRIGGER hazard_activity ON hazard;
        DROP FUNCTION activity_tally_rebuild, activity_truncate, enterprise_activity_move,
                      risk_point_activity_trigger, hazard_activity_trigger, activity_refresh, activity_months,
                      activity_tally_add;
        DROP TABLE activity_tally, enterprise_activity;
        """
    )
