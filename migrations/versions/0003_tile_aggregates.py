"""Tile and summary aggregates and the data-change counter, kept current by triggers.

``enterprise_cell``
    For every zoom 0–11 (below the default ``TILE_CLUSTER_BELOW_ZOOM`` of 12)
    the enterprises of each grid cell (16 × 16 cells per tile, on Web
    Mercator, ``cx``/``cy`` counted from the top-left corner of the world like
    XYZ tiles) per region, industry and grade: ``n``, the sums of their Web
    Mercator ``mx``/``my`` (the cell's centroid is ``sum / n``) and of their
    ids (the id when ``n`` = 1).  A row trigger on ``enterprise`` adds and
    subtracts each change in the same transaction, so a low-zoom tile is never
    stale and never rescans the register; ``tile_agg_rebuild()`` recomputes
    everything (after a bulk load with triggers off).
``data_change``
    One row per statement that changed ``enterprise``, ``risk_point``,
    ``hazard`` or ``region`` (statement triggers; rows are appended, never locked by
    writers, so writers never wait for each other here).  ``sum(weight)`` is
    the number of such committed statements, a token that grows with every
    commit: the tile server keys its cache and ETags with it.  Old rows are
    folded into one row carrying their weight, so the table stays small and
    the sum never goes back.
``risk_tally``, ``hazard_tally``
    Risk points per region (the enterprise's ``region_code``) and grade;
    hazards per region, level, state, 挂牌督办 or not and — for the states
    that can be overdue — the deadline.  Maintained by row triggers on ``risk_point``,
    ``hazard`` and ``enterprise`` (a region change moves its counts; a
    deletion subtracts them before the cascade), they let a province summary
    add up a few thousand rows instead of joining millions.
    ``summary_agg_rebuild()`` recomputes them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

APP_ROLE = "geo_app"
AGG_MAX_ZOOM = 11  # cells at zoom z are 2^(z+4) per world side; finest: 2^15
# The hazard states that can be overdue when this revision was written (frozen:
# a migration never reads the live vocabulary of geo_service.domain).
OVERDUE_STATES = ("registered", "rectifying")
OPEN = ", ".join(f"'{s}'" for s in OVERDUE_STATES)

DDL = f"""
CREATE TABLE enterprise_cell (
    z             smallint NOT NULL,
    cx            integer NOT NULL,
    cy            integer NOT NULL,
    region_code   varchar(12) NOT NULL,  -- '' when the enterprise has none
    industry_code varchar(40) NOT NULL,
    grade         smallint NOT NULL,     -- 0 when ungraded
    n             integer NOT NULL,
    sum_mx        double precision NOT NULL,
    sum_my        double precision NOT NULL,
    sum_id        bigint NOT NULL,
    PRIMARY KEY (z, cx, cy, region_code, industry_code, grade)
);
-- a tile's cells by equality (a tile is 16 × 16 cells)
CREATE INDEX ix_enterprise_cell_tile ON enterprise_cell (z, (cx >> 4), (cy >> 4));

-- Web Mercator metres of a WGS84 point, by the spherical formulas (no ST_Transform).
CREATE FUNCTION mercator_xy(g geometry, OUT mx double precision, OUT my double precision)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ST_X(g) * 20037508.342789244 / 180.0,
           ln(tan(radians(90.0 + greatest(-85.0511287798, least(85.0511287798, ST_Y(g)))) / 2.0))
             * 20037508.342789244 / pi()
$$;

-- The finest cell (zoom {AGG_MAX_ZOOM}: 2^{AGG_MAX_ZOOM + 4} cells per world side) of a Web Mercator point;
-- the cell at zoom z is (cx >> ({AGG_MAX_ZOOM} - z), cy >> ({AGG_MAX_ZOOM} - z)).
CREATE FUNCTION mercator_cell(mx double precision, my double precision, OUT cx integer, OUT cy integer)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT greatest(0, least({2 ** (AGG_MAX_ZOOM + 4)} - 1,
                    floor((mx + 20037508.342789244) / 40075016.685578488 * {2 ** (AGG_MAX_ZOOM + 4)})))::integer,
           greatest(0, least({2 ** (AGG_MAX_ZOOM + 4)} - 1,
                    floor((20037508.342789244 - my) / 40075016.685578488 * {2 ** (AGG_MAX_ZOOM + 4)})))::integer
$$;

CREATE FUNCTION enterprise_cell_apply(g geometry, region varchar, industry varchar, grd smallint,
                                      eid integer, sign integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m record;
    c record;
BEGIN
    SELECT * INTO m FROM mercator_xy(g);
    SELECT * INTO c FROM mercator_cell(m.mx, m.my);
    INSERT INTO enterprise_cell AS t (z, cx, cy, region_code, industry_code, grade, n, sum_mx, sum_my, sum_id)
    SELECT z, c.cx >> ({AGG_MAX_ZOOM} - z), c.cy >> ({AGG_MAX_ZOOM} - z), coalesce(region, ''), industry,
           coalesce(grd, 0), sign, sign * m.mx, sign * m.my, sign * eid
      FROM generate_series(0, {AGG_MAX_ZOOM}) AS z
    ON CONFLICT (z, cx, cy, region_code, industry_code, grade) DO UPDATE
       SET n = t.n + excluded.n, sum_mx = t.sum_mx + excluded.sum_mx,
           sum_my = t.sum_my + excluded.sum_my, sum_id = t.sum_id + excluded.sum_id;
    IF sign < 0 THEN
        DELETE FROM enterprise_cell t
         WHERE t.n <= 0 AND t.region_code = coalesce(region, '') AND t.industry_code = industry
           AND t.grade = coalesce(grd, 0)
           AND (t.z, t.cx, t.cy) IN (SELECT z, c.cx >> ({AGG_MAX_ZOOM} - z), c.cy >> ({AGG_MAX_ZOOM} - z)
                                       FROM generate_series(0, {AGG_MAX_ZOOM}) AS z);
    END IF;
END $$;

CREATE FUNCTION enterprise_cell_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.geom = OLD.geom
       AND NEW.region_code IS NOT DISTINCT FROM OLD.region_code
       AND NEW.industry_code = OLD.industry_code AND NEW.grade IS NOT DISTINCT FROM OLD.grade THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM enterprise_cell_apply(OLD.geom, OLD.region_code, OLD.industry_code, OLD.grade, OLD.id, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM enterprise_cell_apply(NEW.geom, NEW.region_code, NEW.industry_code, NEW.grade, NEW.id, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER enterprise_cell AFTER INSERT OR DELETE
    OR UPDATE OF geom, region_code, industry_code, grade_auto, grade_override ON enterprise
    FOR EACH ROW EXECUTE FUNCTION enterprise_cell_trigger();

CREATE FUNCTION enterprise_cell_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM enterprise_cell;
    RETURN NULL;
END $$;
CREATE TRIGGER enterprise_cell_truncate AFTER TRUNCATE ON enterprise
    FOR EACH STATEMENT EXECUTE FUNCTION enterprise_cell_truncate();

CREATE TABLE data_change (
    id     bigserial PRIMARY KEY,
    weight bigint NOT NULL DEFAULT 1,
    at     timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION data_change_note() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    new_id bigint;
    folded bigint;
BEGIN
    INSERT INTO data_change DEFAULT VALUES RETURNING id INTO new_id;
    IF new_id % 256 = 0 THEN
        -- fold the old rows into one carrying their weight: sum(weight) never decreases
        WITH gone AS (DELETE FROM data_change WHERE id < new_id - 64 RETURNING weight)
        SELECT coalesce(sum(weight), 0) INTO folded FROM gone;
        IF folded > 0 THEN
            INSERT INTO data_change (weight) VALUES (folded);
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER enterprise_data_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON enterprise
    FOR EACH STATEMENT EXECUTE FUNCTION data_change_note();
CREATE TRIGGER hazard_data_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON hazard
    FOR EACH STATEMENT EXECUTE FUNCTION data_change_note();
CREATE TRIGGER region_data_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON region
    FOR EACH STATEMENT EXECUTE FUNCTION data_change_note();
CREATE TRIGGER risk_point_data_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON risk_point
    FOR EACH STATEMENT EXECUTE FUNCTION data_change_note();

-- Everything from scratch: the finest level from the register, each coarser
-- level from the one below (a cell is four cells of the next zoom).
CREATE FUNCTION tile_agg_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE enterprise_cell;
    INSERT INTO enterprise_cell (z, cx, cy, region_code, industry_code, grade, n, sum_mx, sum_my, sum_id)
    SELECT {AGG_MAX_ZOOM}, c.cx, c.cy, coalesce(e.region_code, ''), e.industry_code, coalesce(e.grade, 0),
           count(*), sum(m.mx), sum(m.my), sum(e.id)
      FROM enterprise e, LATERAL mercator_xy(e.geom) m, LATERAL mercator_cell(m.mx, m.my) c
     GROUP BY c.cx, c.cy, 4, 5, 6;
    FOR zz IN REVERSE {AGG_MAX_ZOOM - 1}..0 LOOP
        INSERT INTO enterprise_cell (z, cx, cy, region_code, industry_code, grade, n, sum_mx, sum_my, sum_id)
        SELECT zz, cx >> 1, cy >> 1, region_code, industry_code, grade, sum(n), sum(sum_mx), sum(sum_my), sum(sum_id)
          FROM enterprise_cell WHERE z = zz + 1
         GROUP BY cx >> 1, cy >> 1, region_code, industry_code, grade;
    END LOOP;
    INSERT INTO data_change DEFAULT VALUES;
END $$;
"""

TALLIES = f"""
CREATE INDEX ix_hazard_verified_on ON hazard (verified_on);

CREATE TABLE risk_tally (
    region_code varchar(12) NOT NULL,  -- '' when the enterprise has none
    grade       smallint NOT NULL,
    n           integer NOT NULL,
    PRIMARY KEY (region_code, grade)
);
CREATE TABLE hazard_tally (
    region_code varchar(12) NOT NULL,
    level       varchar(8) NOT NULL,
    state       varchar(12) NOT NULL,
    supervised  boolean NOT NULL,  -- source = 'supervised' (挂牌督办)
    deadline    date NOT NULL,     -- for the states that can be overdue, else 'infinity'
    n           integer NOT NULL,
    PRIMARY KEY (region_code, level, state, supervised, deadline)
);

CREATE FUNCTION risk_tally_add(region varchar, grd smallint, d integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO risk_tally AS t VALUES (coalesce(region, ''), grd, d)
    ON CONFLICT (region_code, grade) DO UPDATE SET n = t.n + excluded.n;
    DELETE FROM risk_tally WHERE region_code = coalesce(region, '') AND grade = grd AND n = 0;
END $$;

CREATE FUNCTION hazard_tally_key(state varchar, deadline date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN state IN ({OPEN}) THEN coalesce(deadline, 'infinity'::date) ELSE 'infinity'::date END
$$;

CREATE FUNCTION hazard_tally_add(region varchar, lvl varchar, st varchar, src varchar, dl date, d integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    k date := hazard_tally_key(st, dl);
    sup boolean := src = 'supervised';
BEGIN
    INSERT INTO hazard_tally AS t VALUES (coalesce(region, ''), lvl, st, sup, k, d)
    ON CONFLICT (region_code, level, state, supervised, deadline) DO UPDATE SET n = t.n + excluded.n;
    DELETE FROM hazard_tally
     WHERE region_code = coalesce(region, '') AND level = lvl AND state = st AND supervised = sup
       AND deadline = k AND n = 0;
END $$;

-- A row whose enterprise no longer exists is being deleted by the cascade of
-- its enterprise's deletion, which already subtracted it (enterprise_tally_delete).
CREATE FUNCTION risk_point_tally_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r varchar;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.grade = OLD.grade AND NEW.enterprise_id = OLD.enterprise_id THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT coalesce(region_code, '') INTO r FROM enterprise WHERE id = OLD.enterprise_id;
        IF FOUND THEN PERFORM risk_tally_add(r, OLD.grade, -1); END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT coalesce(region_code, '') INTO r FROM enterprise WHERE id = NEW.enterprise_id;
        IF FOUND THEN PERFORM risk_tally_add(r, NEW.grade, 1); END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER risk_point_tally AFTER INSERT OR DELETE OR UPDATE OF grade, enterprise_id ON risk_point
    FOR EACH ROW EXECUTE FUNCTION risk_point_tally_trigger();

CREATE FUNCTION hazard_tally_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r varchar;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.enterprise_id = OLD.enterprise_id AND NEW.level = OLD.level
       AND NEW.state = OLD.state AND NEW.source = OLD.source
       AND hazard_tally_key(NEW.state, NEW.deadline) = hazard_tally_key(OLD.state, OLD.deadline) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT coalesce(region_code, '') INTO r FROM enterprise WHERE id = OLD.enterprise_id;
        IF FOUND THEN
            PERFORM hazard_tally_add(r, OLD.level, OLD.state, OLD.source, OLD.deadline, -1);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT coalesce(region_code, '') INTO r FROM enterprise WHERE id = NEW.enterprise_id;
        IF FOUND THEN
            PERFORM hazard_tally_add(r, NEW.level, NEW.state, NEW.source, NEW.deadline, 1);
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER hazard_tally AFTER INSERT OR DELETE
    OR UPDATE OF enterprise_id, level, state, source, deadline ON hazard
    FOR EACH ROW EXECUTE FUNCTION hazard_tally_trigger();

-- An enterprise's risk points and hazards count in its region: move them when
-- the region changes, subtract them before a deletion cascades to them.
CREATE FUNCTION enterprise_tally_move(eid integer, old_region varchar, new_region varchar)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT grade, count(*)::integer AS n FROM risk_point WHERE enterprise_id = eid GROUP BY grade LOOP
        PERFORM risk_tally_add(old_region, g.grade, -g.n);
        IF new_region IS NOT NULL THEN
            PERFORM risk_tally_add(new_region, g.grade, g.n);
        END IF;
    END LOOP;
    FOR g IN SELECT level, state, source, hazard_tally_key(state, deadline) AS k, count(*)::integer AS n
               FROM hazard WHERE enterprise_id = eid GROUP BY 1, 2, 3, 4 LOOP
        PERFORM hazard_tally_add(old_region, g.level, g.state, g.source, g.k, -g.n);
        IF new_region IS NOT NULL THEN
            PERFORM hazard_tally_add(new_region, g.level, g.state, g.source, g.k, g.n);
        END IF;
    END LOOP;
END $$;

CREATE FUNCTION enterprise_tally_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM enterprise_tally_move(OLD.id, coalesce(OLD.region_code, ''), NULL);
        RETURN OLD;
    END IF;
    IF NEW.region_code IS DISTINCT FROM OLD.region_code THEN
        PERFORM enterprise_tally_move(NEW.id, coalesce(OLD.region_code, ''), coalesce(NEW.region_code, ''));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER enterprise_tally_delete BEFORE DELETE ON enterprise
    FOR EACH ROW EXECUTE FUNCTION enterprise_tally_trigger();
CREATE TRIGGER enterprise_tally_region AFTER UPDATE OF region_code ON enterprise
    FOR EACH ROW EXECUTE FUNCTION enterprise_tally_trigger();

CREATE FUNCTION summary_agg_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE risk_tally, hazard_tally;
    INSERT INTO risk_tally
    SELECT coalesce(e.region_code, ''), r.grade, count(*)
      FROM risk_point r JOIN enterprise e ON e.id = r.enterprise_id GROUP BY 1, 2;
    INSERT INTO hazard_tally
    SELECT coalesce(e.region_code, ''), h.level, h.state, h.source = 'supervised',
           hazard_tally_key(h.state, h.deadline), count(*)
      FROM hazard h JOIN enterprise e ON e.id = h.enterprise_id GROUP BY 1, 2, 3, 4, 5;
END $$;
"""

GRANTS = f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON enterprise_cell, data_change, risk_tally, hazard_tally
            TO {APP_ROLE};
        GRANT USAGE, SELECT ON SEQUENCE data_change_id_seq TO {APP_ROLE};
    END IF;
END $$;
"""


def upgrade() -> None:
    op.execute(DDL)
    op.execute(TALLIES)
    op.execute("SELECT tile_agg_rebuild()")
    op.execute("SELECT summary_agg_rebuild()")
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER enterprise_tally_delete ON enterprise;
        DROP TRIGGER enterprise_tally_region ON enterprise;
        DROP TRIGGER hazard_tally ON hazard;
        DROP TRIGGER risk_point_tally ON risk_point;
        DROP FUNCTION summary_agg_rebuild, enterprise_tally_trigger, enterprise_tally_move, hazard_tally_trigger,
                      risk_point_tally_trigger, hazard_tally_add, hazard_tally_key, risk_tally_add;
        DROP TABLE hazard_tally, risk_tally;
        DROP INDEX ix_hazard_verified_on;
        DROP TRIGGER enterprise_data_change ON enterprise;
        DROP TRIGGER hazard_data_change ON hazard;
        DROP TRIGGER region_data_change ON region;
        DROP TRIGGER risk_point_data_change ON risk_point;
        DROP TRIGGER enterprise_cell ON enterprise;
        DROP TRIGGER enterprise_cell_truncate ON enterprise;
        DROP FUNCTION tile_agg_rebuild, data_change_note, enterprise_cell_truncate, enterprise_cell_trigger,
                      enterprise_cell_apply, mercator_cell, mercator_xy;
        DROP TABLE data_change, enterprise_cell;
        """
    )
