"""Change tokens per county, pushed with LISTEN/NOTIFY.

``region_change``
    One row per (statement, county key) that changed what the map, the OGC
    pages or the summaries show: ``enterprise``, ``hazard``, ``risk_point``,
    ``risk_zone``, ``enterprise_layout``.  Statement triggers read the
    statement's transition tables (``REFERENCING OLD/NEW TABLE``), so a
    statement appends one row per county it touched, however many rows it
    changed; an update that moves a row appends for the old and the new
    county.  Rows are appended, never updated: writers never wait for each
    other here (a counter row per county would be locked until commit, and an
    import would block every edit in its counties).  The token of a key is
    ``sum(weight)`` of its rows: the number of committed statements that
    changed it, which only grows (a sequence's ``max(id)`` would not: ids are
    taken before commit, in another order).  Old rows are folded into one row
    per key carrying their weight.

Keys
    The 6-digit code of the county (``left(region_code, 6)``) of the
    enterprise the row belongs to.  When a row's point (or zone, or plan
    footprint) lies outside the bounding box of that county's outline, or the
    enterprise has no region, the key ``''`` is changed as well: the tile
    server keys a tile by the counties whose boxes meet it, plus ``''``.  Any
    change to ``region`` (outlines, names) and any TRUNCATE change the key
    ``'*'``, which every response's key contains: boundary edits are rare and
    invalidate everything.  So does rebuilding the aggregates after a bulk load
    with triggers off (``tile_agg_rebuild``/``summary_agg_rebuild`` truncate them).

``NOTIFY region_change``
    Each statement also sends the changed keys, comma-separated, on channel
    ``region_change`` (delivered at commit, not at all on rollback); the
    application's workers LISTEN on the primary and re-read those keys'
    tokens (``geo_service/tokens.py``).

The global ``data_change`` counter of migration 0003 stays as it was.

Revision ID: 0014
Revises: 0012
Create Date: 2026-11-30
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

APP_ROLE = "geo_app"
CHANNEL = "region_change"
FOLD_EVERY = 256  # fold when an id crosses a multiple of this
KEEP_RECENT = 1024  # rows younger than this many ids stay as they are

DDL = f"""
CREATE TABLE region_change (
    id     bigserial PRIMARY KEY,
    code   varchar(12) NOT NULL,  -- county code, '' (outside its county's box, or no region) or '*' (everything)
    weight bigint NOT NULL DEFAULT 1,
    at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_region_change_code ON region_change (code) INCLUDE (weight);

-- The keys a row of the map changes: its county, and '' when one of its
-- locations is outside that county's bounding box (or it has no county).
CREATE FUNCTION region_change_keys(region_code varchar, VARIADIC locs geometry[]) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN region_code IS NULL THEN ARRAY['']
        WHEN EXISTS (SELECT 1 FROM region r
                      WHERE r.code = left(region_code, 6)
                        AND NOT EXISTS (SELECT 1 FROM unnest(locs) g WHERE g IS NOT NULL AND NOT (r.geom ~ g)))
            THEN ARRAY[left(region_code, 6)::text]
        ELSE ARRAY[left(region_code, 6)::text, '']
    END
$$;

-- Append one row per distinct key, tell the listeners, fold old rows now and then.
CREATE FUNCTION region_change_note(keys text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    crossed boolean;
    newest bigint;
    payload text;
BEGIN
    IF keys IS NULL OR cardinality(keys) = 0 THEN
        RETURN;
    END IF;
    WITH ins AS (
        INSERT INTO region_change (code) SELECT DISTINCT k FROM unnest(keys) k ORDER BY 1 RETURNING id
    )
    SELECT bool_or(id % {FOLD_EVERY} = 0), max(id) INTO crossed, newest FROM ins;
    SELECT string_agg(DISTINCT k, ',') INTO payload FROM unnest(keys) k;
    IF length(payload) > 7000 THEN
        payload := '*';  -- NOTIFY payloads stop at 8000 bytes: "re-read everything"
    END IF;
    PERFORM pg_notify('{CHANNEL}', payload);
    IF crossed THEN
        -- per key with several old rows: one row carrying their weight (the sum never changes)
        WITH gone AS (
            DELETE FROM region_change
             WHERE id < newest - {KEEP_RECENT}
               AND code IN (SELECT code FROM region_change WHERE id < newest - {KEEP_RECENT}
                             GROUP BY code HAVING count(*) > 1)
            RETURNING code, weight
        )
        INSERT INTO region_change (code, weight) SELECT code, sum(weight) FROM gone GROUP BY code;
    END IF;
END $$;

CREATE FUNCTION enterprise_region_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM region_change_note(ARRAY(
            SELECT k FROM new_rows n, unnest(region_change_keys(n.region_code, n.geom)) k));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM region_change_note(ARRAY(
            SELECT k FROM old_rows o, unnest(region_change_keys(o.region_code, o.geom)) k));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM region_change_note(ARRAY(
            SELECT k FROM old_rows o, unnest(region_change_keys(o.region_code, o.geom)) k
            UNION SELECT k FROM new_rows n, unnest(region_change_keys(n.region_code, n.geom)) k));
    ELSE  -- TRUNCATE
        PERFORM region_change_note(ARRAY['*']);
    END IF;
    RETURN NULL;
END $$;

-- The rows of the tables that hang off an enterprise: the enterprise's county
-- and location, and the row's own location (a hazard's point, a zone, a plan).
CREATE FUNCTION child_region_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    loc text := coalesce(TG_ARGV[0], '');  -- the row's own geometry column, or '' for none
    q text;
    keys text[] := '{{}}';
    part text[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM region_change_note(ARRAY['*']);
        RETURN NULL;
    END IF;
    -- an enterprise already deleted (a cascade) is accounted for by its own trigger: key ''
    q := 'SELECT ARRAY(SELECT k FROM %I t LEFT JOIN enterprise e ON e.id = t.enterprise_id,'
         ' unnest(CASE WHEN e.id IS NULL THEN ARRAY['''']'
         ' ELSE region_change_keys(e.region_code, e.geom' || CASE WHEN loc = '' THEN '' ELSE ', t.' || quote_ident(loc) END
         || ') END) k)';
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format(q, 'old_rows') INTO part;
        keys := keys || part;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        EXECUTE format(q, 'new_rows') INTO part;
        keys := keys || part;
    END IF;
    PERFORM region_change_note(keys);
    RETURN NULL;
END $$;

-- Boundaries and names: everything.
CREATE FUNCTION region_region_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM region_change_note(ARRAY['*']);
    RETURN NULL;
END $$;
CREATE TRIGGER region_region_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON region
    FOR EACH STATEMENT EXECUTE FUNCTION region_region_change();
-- A bulk load runs with triggers off and then rebuilds the aggregates
-- (tile_agg_rebuild, summary_agg_rebuild of 0003), which truncate them first:
-- that too changes everything.
CREATE TRIGGER aggregates_rebuilt_region_change AFTER TRUNCATE ON enterprise_cell
    FOR EACH STATEMENT EXECUTE FUNCTION region_region_change();
CREATE TRIGGER tallies_rebuilt_region_change AFTER TRUNCATE ON risk_tally
    FOR EACH STATEMENT EXECUTE FUNCTION region_region_change();
"""

# (table, trigger function, its argument)
WATCHED = (
    ("enterprise", "enterprise_region_change", ""),
    ("hazard", "child_region_change", "geom"),
    ("risk_point", "child_region_change", ""),
    ("risk_zone", "child_region_change", "geom"),
    ("enterprise_layout", "child_region_change", "footprint"),
)


def _triggers() -> str:
    out = []
    for table, fn, arg in WATCHED:
        call = f"EXECUTE FUNCTION {fn}('{arg}')" if arg else f"EXECUTE FUNCTION {fn}()"
        out.append(f"""
CREATE TRIGGER {table}_rc_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT {call};
CREATE TRIGGER {table}_rc_update AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT {call};
CREATE TRIGGER {table}_rc_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT {call};
CREATE TRIGGER {table}_rc_truncate AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT {call};""")
    return "\n".join(out)


# One GRANT per line, each with its reason (tests/test_privileges.py parses them).
APP_GRANTS = """
GRANT SELECT ON region_change TO geo_app;  -- the per-county change tokens that key the tile, page and summary caches (the owner's triggers append them)
"""

# The triggers append as the owner: the application reads the tokens and cannot forge them.
OWNER_TRIGGERS = ("enterprise_region_change", "child_region_change", "region_region_change")

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
    op.execute(_triggers())
    for fn in OWNER_TRIGGERS:
        op.execute(f"ALTER FUNCTION {fn}() SECURITY DEFINER SET search_path = public, pg_temp")
    op.execute(GRANTS)


def downgrade() -> None:
    for table, _, _ in WATCHED:
        for event in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER {table}_rc_{event} ON {table}")
    op.execute("DROP TRIGGER region_region_change ON region")
    op.execute("DROP TRIGGER aggregates_rebuilt_region_change ON enterprise_cell")
    op.execute("DROP TRIGGER tallies_rebuilt_region_change ON risk_tally")
    op.execute("DROP FUNCTION region_region_change, child_region_change, enterprise_region_change,"
               " region_change_note, region_change_keys")
    op.execute("DROP TABLE region_change")
