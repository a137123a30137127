"""The enterprise's own 四色图: risk zones on the plant and the plant layout image.

``risk_zone``
    A 风险区域 of an enterprise (a workshop, a tank farm, a warehouse …): a
    WGS84 MultiPolygon (GiST index, valid), an optional floor or level, and
    its grade.  Like the enterprise's, the grade is ``grade_auto`` (the
    highest grade among the zone's risk points, kept by a trigger on
    ``risk_point``) unless ``grade_override`` is set; ``grade`` is the
    generated COALESCE.  An assessment may also give a 固有 (inherent) and a
    管控后 (residual) grade.  Versioned (optimistic locking), timestamped.
``risk_point.zone_id``
    The zone a risk point lies in (nullable).  The composite foreign key keeps
    a risk point in a zone of its own enterprise; deleting the zone empties
    ``zone_id`` only.
``enterprise_layout``
    The plant layout image (厂区平面图), one per enterprise: PNG or JPEG as
    uploaded, or page 1 of a PDF rasterised on upload, stored outside the
    database under ``UPLOAD_DIR/<sha256[:2]>/<sha256>`` like hazard evidence.
    Its georeference is three control points (image pixel → lng/lat, an
    affine fit) or the four corners (top-left, top-right, bottom-right,
    bottom-left); ``footprint`` is the image's outline on the ground.

Writes to both tables bump the register's change token (``data_change``),
so the tiles and cached feature pages of the region are rebuilt.

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-30
"""

from alembic import op

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None

APP_ROLE = "geo_app"

DDL = """
CREATE TABLE risk_zone (
    id                 serial PRIMARY KEY,
    enterprise_id      integer NOT NULL REFERENCES enterprise(id) ON DELETE CASCADE,
    name               varchar(100) NOT NULL,
    floor              varchar(40),
    geom               geometry(MultiPolygon, 4326) NOT NULL
                       CONSTRAINT ck_risk_zone_geom_valid CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    grade_auto         smallint CONSTRAINT ck_risk_zone_grade_auto CHECK (grade_auto BETWEEN 1 AND 4),
    grade_override     smallint CONSTRAINT ck_risk_zone_grade_override CHECK (grade_override BETWEEN 1 AND 4),
    grade              smallint GENERATED ALWAYS AS (COALESCE(grade_override, grade_auto)) STORED,
    grade_inherent     smallint CONSTRAINT ck_risk_zone_grade_inherent CHECK (grade_inherent BETWEEN 1 AND 4),
    grade_residual     smallint CONSTRAINT ck_risk_zone_grade_residual CHECK (grade_residual BETWEEN 1 AND 4),
    accident_types     varchar(200),
    control_measures   text,
    emergency_measures text,
    responsible_person varchar(60),
    version            integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_risk_zone_enterprise_name UNIQUE (enterprise_id, name),
    CONSTRAINT uq_risk_zone_id_enterprise UNIQUE (id, enterprise_id)
);
CREATE INDEX ix_risk_zone_geom ON risk_zone USING gist (geom);
CREATE INDEX ix_risk_zone_enterprise_id ON risk_zone (enterprise_id);
CREATE INDEX ix_risk_zone_created_at ON risk_zone (created_at);

ALTER TABLE risk_point ADD COLUMN zone_id integer;
ALTER TABLE risk_point ADD CONSTRAINT fk_risk_point_zone FOREIGN KEY (zone_id, enterprise_id)
    REFERENCES risk_zone (id, enterprise_id) ON DELETE SET NULL (zone_id);
CREATE INDEX ix_risk_point_zone_id ON risk_point (zone_id);

CREATE TABLE enterprise_layout (
    id             serial PRIMARY KEY,
    enterprise_id  integer NOT NULL UNIQUE REFERENCES enterprise(id) ON DELETE CASCADE,
    filename       varchar(255) NOT NULL,
    source_type    varchar(100) NOT NULL
                   CONSTRAINT ck_layout_source_type CHECK (source_type IN ('image/png', 'image/jpeg', 'application/pdf')),
    content_type   varchar(100) NOT NULL
                   CONSTRAINT ck_layout_content_type CHECK (content_type IN ('image/png', 'image/jpeg')),
    size_bytes     bigint NOT NULL,
    sha256         varchar(64) NOT NULL,
    stored_path    varchar(500) NOT NULL,
    width_px       integer NOT NULL CONSTRAINT ck_layout_width CHECK (width_px > 0),
    height_px      integer NOT NULL CONSTRAINT ck_layout_height CHECK (height_px > 0),
    georef_method  varchar(12) NOT NULL
                   CONSTRAINT ck_layout_georef_method CHECK (georef_method IN ('points3', 'corners4')),
    -- [{"px": [x, y], "lnglat": [lng, lat]}, …]: 3 control points, or the 4 corners TL, TR, BR, BL
    control_points jsonb NOT NULL,
    footprint      geometry(Polygon, 4326) NOT NULL,
    uploaded_by    varchar(100),
    version        integer NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_layout_control_points CHECK (
        jsonb_typeof(control_points) = 'array'
        AND jsonb_array_length(control_points) = CASE georef_method WHEN 'points3' THEN 3 ELSE 4 END)
);
CREATE INDEX ix_enterprise_layout_footprint ON enterprise_layout USING gist (footprint);

-- A zone's automatic grade is the highest (lowest number) of its risk points.
CREATE FUNCTION risk_zone_refresh_grade(zid integer) RETURNS void LANGUAGE sql AS $$
    UPDATE risk_zone z
       SET grade_auto = (SELECT min(grade) FROM risk_point WHERE zone_id = zid)
     WHERE z.id = zid
       AND z.grade_auto IS DISTINCT FROM (SELECT min(grade) FROM risk_point WHERE zone_id = zid);
$$;

CREATE FUNCTION risk_point_zone_grade_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.zone_id IS NOT NULL THEN
        PERFORM risk_zone_refresh_grade(OLD.zone_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.zone_id IS NOT NULL THEN
        PERFORM risk_zone_refresh_grade(NEW.zone_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER risk_point_zone_grade AFTER INSERT OR UPDATE OF grade, zone_id OR DELETE ON risk_point
    FOR EACH ROW EXECUTE FUNCTION risk_point_zone_grade_trigger();

CREATE TRIGGER risk_zone_data_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON risk_zone
    FOR EACH STATEMENT EXECUTE FUNCTION data_change_note();
CREATE TRIGGER enterprise_layout_data_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON enterprise_layout
    FOR EACH STATEMENT EXECUTE FUNCTION data_change_note();
"""

# One GRANT per line, each with its reason (tests/test_privileges.py parses
# every migration's APP_GRANTS); after 0007 a new table gets nothing by default.
APP_GRANTS = """
GRANT SELECT, INSERT, DELETE ON risk_zone TO geo_app;  -- zones drawn, imported and deleted on the enterprise page
GRANT UPDATE (name, floor, geom, grade_override, grade_inherent, grade_residual, accident_types, control_measures, emergency_measures, responsible_person, version, updated_at) ON risk_zone TO geo_app;  -- editing a zone (never id, enterprise_id, created_at, nor grade_auto: the owner's trigger keeps it)
GRANT SELECT, INSERT, DELETE ON enterprise_layout TO geo_app;  -- the plant layout uploaded, replaced or removed
GRANT UPDATE (filename, source_type, content_type, size_bytes, sha256, stored_path, width_px, height_px, georef_method, control_points, footprint, uploaded_by, version, updated_at) ON enterprise_layout TO geo_app;  -- placing the layout by its corners and replacing its file (never id, enterprise_id, created_at)
GRANT UPDATE (zone_id) ON risk_point TO geo_app;  -- attaching risk points to a zone
GRANT USAGE ON SEQUENCE risk_zone_id_seq TO geo_app;  -- ids of new zones
GRANT USAGE ON SEQUENCE enterprise_layout_id_seq TO geo_app;  -- ids of new layouts
"""

# The zone's automatic grade is derived data: its trigger runs as the owner.
OWNER_TRIGGERS = ("risk_point_zone_grade_trigger",)

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
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER enterprise_layout_data_change ON enterprise_layout;
        DROP TRIGGER risk_zone_data_change ON risk_zone;
        DROP TRIGGER risk_point_zone_grade ON risk_point;
        DROP FUNCTION risk_point_zone_grade_trigger, risk_zone_refresh_grade;
        DROP TABLE enterprise_layout;
        ALTER TABLE risk_point DROP CONSTRAINT fk_risk_point_zone;
        DROP INDEX ix_risk_point_zone_id;
        ALTER TABLE risk_point DROP COLUMN zone_id;
        DROP TABLE risk_zone;
        """
    )
