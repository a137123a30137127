"""Where a hazard is drawn, kept on the hazard, and the open hazards' grid cells.

``hazard.loc``, ``hazard.ent_region``
    The hazard's effective point (its own ``geom``, else its enterprise's)
    and its enterprise's ``region_code``, set by a BEFORE trigger on every
    insert and on any update of ``geom`` or ``enterprise_id``; an enterprise
    that moves or changes region passes it on to its hazards (an AFTER
    trigger on ``enterprise`` touches them).  A GiST index on ``loc``, and a
    partial one on the open hazards (the map's hazard layer), replace the
    ``COALESCE`` across two tables (which no index serves) and the two
    index halves the tile query needed.  Indexes on ``ent_region`` with the
    found, verified and (open) deadline dates, and on the 重大 hazards, find a
    region's hazards of a month without reading its enterprises first.
``hazard_cell``
    For the zooms the map draws clustered hazards (tile zooms 8–12: the layer
    starts at map zoom 9, a 512-pixel tile of zoom 8; a z12 tile of 昆明 holds
    thousands of open hazards) the open hazards of each grid cell (16 × 16 per
    tile, aligned like ``enterprise_cell``'s) per region,
    level and state: ``n``, the sums of their Web Mercator ``mx``/``my`` and of
    their ids, and ``min_deadline`` — the earliest deadline of the cell's
    hazards in that state, so "overdue on any date" is ``min_deadline <
    date`` for the states that can be overdue, without a row per deadline.
    A row trigger on ``hazard`` adds and subtracts each change in the same
    transaction; when a hazard carrying the cell's earliest deadline leaves,
    the minimum is recomputed from the hazards of that cell through the
    partial index.  ``hazard_cell_rebuild()`` recomputes everything (after a
    bulk load with triggers off it also fills ``loc`` and ``ent_region``).

Revision ID: 0015
Revises: 0012
Create Date: 2026-11-30
"""

from alembic import op

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None

APP_ROLE = "geo_app"
# Frozen copies of the vocabulary when this revision was written (a migration never
# imports geo_service): the zooms of the hazard cells,
# the state that is no longer open, the states that can be overdue.
HAZARD_CELL_MIN_ZOOM = 8
HAZARD_CELL_MAX_ZOOM = 12  # the finest hazard cell: 2^(12 + 4) per world side
CLOSED = "closed"
OVERDUE_STATES = ("registered", "rectifying")
CAN_BE_OVERDUE = ", ".join(f"'{s}'" for s in OVERDUE_STATES)
WORLD = 40075016.685578488
HALF = 20037508.342789244

COLUMNS = """
ALTER TABLE hazard ADD COLUMN loc geometry(Point, 4326), ADD COLUMN ent_region varchar(12);
"""

FILL = """
UPDATE hazard h SET loc = coalesce(h.geom, e.geom), ent_region = e.region_code
  FROM enterprise e WHERE e.id = h.enterprise_id;
"""

INDEXES = f"""
CREATE INDEX ix_hazard_loc ON hazard USING gist (loc);
CREATE INDEX ix_hazard_loc_open ON hazard USING gist (loc) WHERE state <> '{CLOSED}';
"""

# A region's hazards of a month without reading its enterprises first (the printed
# map's change points and 重大隐患, the return's changes of a county): the region
# prefix, then the date the count reads.
REGION_INDEXES = f"""
CREATE INDEX ix_hazard_region_found ON hazard (ent_region varchar_pattern_ops, found_on);
CREATE INDEX ix_hazard_region_verified ON hazard (ent_region varchar_pattern_ops, verified_on);
CREATE INDEX ix_hazard_region_open_deadline ON hazard (ent_region varchar_pattern_ops, deadline)
    WHERE state IN ({CAN_BE_OVERDUE});
CREATE INDEX ix_hazard_region_major ON hazard (ent_region varchar_pattern_ops) WHERE level = 'major';
"""

DDL = f"""
-- The finest hazard cell (zoom {HAZARD_CELL_MAX_ZOOM}) of a Web Mercator point (mercator_xy, migration 0003);
-- the cell at zoom z is (cx >> ({HAZARD_CELL_MAX_ZOOM} - z), cy >> ({HAZARD_CELL_MAX_ZOOM} - z)).
CREATE FUNCTION hazard_mercator_cell(mx double precision, my double precision, OUT cx integer, OUT cy integer)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT greatest(0, least({2 ** (HAZARD_CELL_MAX_ZOOM + 4)} - 1,
                    floor((mx + {HALF}) / {WORLD} * {2 ** (HAZARD_CELL_MAX_ZOOM + 4)})))::integer,
           greatest(0, least({2 ** (HAZARD_CELL_MAX_ZOOM + 4)} - 1,
                    floor(({HALF} - my) / {WORLD} * {2 ** (HAZARD_CELL_MAX_ZOOM + 4)})))::integer
$$;

CREATE FUNCTION hazard_locate() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    e record;
BEGIN
    SELECT geom, region_code INTO e FROM enterprise WHERE id = NEW.enterprise_id;
    NEW.loc := coalesce(NEW.geom, e.geom);
    NEW.ent_region := e.region_code;
    RETURN NEW;
END $$;
CREATE TRIGGER hazard_locate BEFORE INSERT OR UPDATE OF geom, enterprise_id, loc, ent_region ON hazard
    FOR EACH ROW EXECUTE FUNCTION hazard_locate();

-- An enterprise that moves or changes region passes it on: touching its hazards
-- runs hazard_locate on them (the hazards with their own point keep it).
CREATE FUNCTION enterprise_hazard_locate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.geom IS NOT DISTINCT FROM OLD.geom AND NEW.region_code IS NOT DISTINCT FROM OLD.region_code THEN
        RETURN NULL;
    END IF;
    UPDATE hazard SET ent_region = NEW.region_code
     WHERE enterprise_id = NEW.id
       AND (geom IS NULL OR ent_region IS DISTINCT FROM NEW.region_code);
    RETURN NULL;
END $$;
CREATE TRIGGER enterprise_hazard_locate AFTER UPDATE OF geom, region_code ON enterprise
    FOR EACH ROW EXECUTE FUNCTION enterprise_hazard_locate();

CREATE TABLE hazard_cell (
    z            smallint NOT NULL,
    cx           integer NOT NULL,
    cy           integer NOT NULL,
    region_code  varchar(12) NOT NULL,  -- '' when the enterprise has none
    level        varchar(8) NOT NULL,
    state        varchar(12) NOT NULL,
    n            integer NOT NULL,
    sum_mx       double precision NOT NULL,
    sum_my       double precision NOT NULL,
    sum_id       bigint NOT NULL,
    min_deadline date,                   -- earliest deadline of the states that can be overdue, else NULL
    PRIMARY KEY (z, cx, cy, region_code, level, state)
);
-- a tile's cells by equality (a tile is 16 × 16 cells)
CREATE INDEX ix_hazard_cell_tile ON hazard_cell (z, (cx >> 4), (cy >> 4));

-- The earliest deadline among the open hazards of one cell, region, level and state.
CREATE FUNCTION hazard_cell_min_deadline(zz smallint, x integer, y integer, region varchar, lvl varchar,
                                         st varchar) RETURNS date LANGUAGE sql STABLE AS $$
    SELECT min(h.deadline)
      FROM hazard h, LATERAL mercator_xy(h.loc) m, LATERAL hazard_mercator_cell(m.mx, m.my) c
     WHERE h.state <> '{CLOSED}'
       AND h.loc && ST_Expand(ST_Transform(ST_MakeEnvelope(
               -{HALF} + x * ({WORLD} / (1 << (zz + 4))), {HALF} - (y + 1) * ({WORLD} / (1 << (zz + 4))),
               -{HALF} + (x + 1) * ({WORLD} / (1 << (zz + 4))), {HALF} - y * ({WORLD} / (1 << (zz + 4))),
               3857), 4326), 1e-7)
       AND c.cx >> ({HAZARD_CELL_MAX_ZOOM} - zz) = x AND c.cy >> ({HAZARD_CELL_MAX_ZOOM} - zz) = y
       AND coalesce(h.ent_region, '') = region AND h.level = lvl AND h.state = st
$$;

CREATE FUNCTION hazard_cell_apply(g geometry, region varchar, lvl varchar, st varchar, dl date,
                                  hid integer, sign integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m record;
    c record;
    k date := CASE WHEN st IN ({CAN_BE_OVERDUE}) THEN dl END;
BEGIN
    IF g IS NULL OR st = '{CLOSED}' THEN
        RETURN;
    END IF;
    SELECT * INTO m FROM mercator_xy(g);
    SELECT * INTO c FROM hazard_mercator_cell(m.mx, m.my);
    INSERT INTO hazard_cell AS t (z, cx, cy, region_code, level, state, n, sum_mx, sum_my, sum_id, min_deadline)
    SELECT z, c.cx >> ({HAZARD_CELL_MAX_ZOOM} - z), c.cy >> ({HAZARD_CELL_MAX_ZOOM} - z), coalesce(region, ''), lvl, st,
           sign, sign * m.mx, sign * m.my, sign * hid, k
      FROM generate_series({HAZARD_CELL_MIN_ZOOM}, {HAZARD_CELL_MAX_ZOOM}) AS z
    ON CONFLICT (z, cx, cy, region_code, level, state) DO UPDATE
       SET n = t.n + excluded.n, sum_mx = t.sum_mx + excluded.sum_mx,
           sum_my = t.sum_my + excluded.sum_my, sum_id = t.sum_id + excluded.sum_id,
           min_deadline = CASE WHEN sign > 0 THEN least(t.min_deadline, excluded.min_deadline)
                               ELSE t.min_deadline END;
    IF sign < 0 THEN
        DELETE FROM hazard_cell t
         WHERE t.n <= 0 AND t.region_code = coalesce(region, '') AND t.level = lvl AND t.state = st
           AND (t.z, t.cx, t.cy) IN (SELECT z, c.cx >> ({HAZARD_CELL_MAX_ZOOM} - z), c.cy >> ({HAZARD_CELL_MAX_ZOOM} - z)
                                       FROM generate_series({HAZARD_CELL_MIN_ZOOM}, {HAZARD_CELL_MAX_ZOOM}) AS z);
        IF k IS NOT NULL THEN
            -- the hazard that left may have carried the cell's earliest deadline
            UPDATE hazard_cell t
               SET min_deadline = hazard_cell_min_deadline(t.z, t.cx, t.cy, t.region_code, t.level, t.state)
             WHERE t.region_code = coalesce(region, '') AND t.level = lvl AND t.state = st
               AND t.min_deadline >= k
               AND (t.z, t.cx, t.cy) IN (SELECT z, c.cx >> ({HAZARD_CELL_MAX_ZOOM} - z), c.cy >> ({HAZARD_CELL_MAX_ZOOM} - z)
                                           FROM generate_series({HAZARD_CELL_MIN_ZOOM}, {HAZARD_CELL_MAX_ZOOM}) AS z);
        END IF;
    END IF;
END $$;

CREATE FUNCTION hazard_cell_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.loc IS NOT DISTINCT FROM OLD.loc
       AND NEW.ent_region IS NOT DISTINCT FROM OLD.ent_region AND NEW.level = OLD.level
       AND NEW.state = OLD.state AND NEW.deadline IS NOT DISTINCT FROM OLD.deadline THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM hazard_cell_apply(OLD.loc, OLD.ent_region, OLD.level, OLD.state, OLD.deadline, OLD.id, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM hazard_cell_apply(NEW.loc, NEW.ent_region, NEW.level, NEW.state, NEW.deadline, NEW.id, 1);
    END IF;
    RETURN NULL;
END $$;
-- loc and ent_region are set by hazard_locate: list the columns that make it run.
CREATE TRIGGER hazard_cell AFTER INSERT OR DELETE
    OR UPDATE OF geom, enterprise_id, loc, ent_region, level, state, deadline ON hazard
    FOR EACH ROW EXECUTE FUNCTION hazard_cell_trigger();

CREATE FUNCTION hazard_cell_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM hazard_cell;
    RETURN NULL;
END $$;
CREATE TRIGGER hazard_cell_truncate AFTER TRUNCATE ON hazard
    FOR EACH STATEMENT EXECUTE FUNCTION hazard_cell_truncate();

-- Everything from scratch (after a bulk load with triggers off): the hazards'
-- locations where they are missing or stale, the finest cells from the
-- register, each coarser zoom from the one below.
CREATE FUNCTION hazard_cell_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE hazard h SET loc = coalesce(h.geom, e.geom), ent_region = e.region_code
      FROM enterprise e
     WHERE e.id = h.enterprise_id
       AND (h.loc IS DISTINCT FROM coalesce(h.geom, e.geom) OR h.ent_region IS DISTINCT FROM e.region_code);
    TRUNCATE hazard_cell;
    INSERT INTO hazard_cell (z, cx, cy, region_code, level, state, n, sum_mx, sum_my, sum_id, min_deadline)
    SELECT {HAZARD_CELL_MAX_ZOOM}, c.cx, c.cy, coalesce(h.ent_region, ''), h.level, h.state,
           count(*), sum(m.mx), sum(m.my), sum(h.id),
           min(h.deadline) FILTER (WHERE h.state IN ({CAN_BE_OVERDUE}))
      FROM hazard h, LATERAL mercator_xy(h.loc) m, LATERAL hazard_mercator_cell(m.mx, m.my) c
     WHERE h.state <> '{CLOSED}' AND h.loc IS NOT NULL
     GROUP BY c.cx, c.cy, 4, 5, 6;
    FOR zz IN REVERSE {HAZARD_CELL_MAX_ZOOM - 1}..{HAZARD_CELL_MIN_ZOOM} LOOP
        INSERT INTO hazard_cell (z, cx, cy, region_code, level, state, n, sum_mx, sum_my, sum_id, min_deadline)
        SELECT zz, cx >> 1, cy >> 1, region_code, level, state, sum(n), sum(sum_mx), sum(sum_my), sum(sum_id),
               min(min_deadline)
          FROM hazard_cell WHERE z = zz + 1
         GROUP BY cx >> 1, cy >> 1, region_code, level, state;
    END LOOP;
    INSERT INTO data_change DEFAULT VALUES;
END $$;
"""

# What geo_app may do with what this revision adds (parsed by tests/test_privileges.py).
APP_GRANTS = """
GRANT SELECT ON hazard_cell TO geo_app;  -- low-zoom hazard tiles read the cells (the owner's triggers keep them)
"""

# Triggers that maintain derived data run as the owner: the application holds no
# write grant on hazard_cell nor on hazard.loc / hazard.ent_region.
OWNER_TRIGGERS = ("hazard_locate", "enterprise_hazard_locate", "hazard_cell_trigger", "hazard_cell_truncate")

GRANTS = f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        {APP_GRANTS}
    END IF;
END $$;
"""


def upgrade() -> None:
    op.execute(COLUMNS)
    op.execute(FILL)  # before the triggers: one pass, no trigger per row
    op.execute(INDEXES)
    op.execute(REGION_INDEXES)
    op.execute(DDL)
    for fn in OWNER_TRIGGERS:
        op.execute(f"ALTER FUNCTION {fn}() SECURITY DEFINER SET search_path = public, pg_temp")
    op.execute("SELECT hazard_cell_rebuild()")
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER hazard_cell_truncate ON hazard;
        DROP TRIGGER hazard_cell ON hazard;
        DROP TRIGGER enterprise_hazard_locate ON enterprise;
        DROP TRIGGER hazard_locate ON hazard;
        DROP FUNCTION hazard_cell_rebuild, hazard_cell_truncate, hazard_cell_trigger, hazard_cell_apply,
                      hazard_cell_min_deadline, enterprise_hazard_locate, hazard_locate, hazard_mercator_cell;
        DROP TABLE hazard_cell;
        DROP INDEX ix_hazard_region_major, ix_hazard_region_open_deadline, ix_hazard_region_verified,
                   ix_hazard_region_found;
        DROP INDEX ix_hazard_loc_open;
        DROP INDEX ix_hazard_loc;
        ALTER TABLE hazard DROP COLUMN ent_region, DROP COLUMN loc;
        """
    )
