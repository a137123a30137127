"""The register: regions, industries, enterprises, risk points, hazards, their
events and evidence, accounts, audit log, map exports and return archives.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DDL = r"""
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE industry (
    code        varchar(40) PRIMARY KEY,
    name        varchar(40) NOT NULL UNIQUE,
    parent_code varchar(40) REFERENCES industry(code),
    stat_group  varchar(16) NOT NULL
                CONSTRAINT ck_industry_stat_group CHECK (stat_group IN ('coal', 'mine', 'hazchem', 'other')),
    sort        integer NOT NULL DEFAULT 0
);

CREATE TABLE region (
    code        varchar(12) PRIMARY KEY
                CONSTRAINT ck_region_code CHECK (code ~ '^[0-9]{6}([0-9]{3}([0-9]{3})?)?$'),
    name        varchar(60) NOT NULL,
    level       varchar(12) NOT NULL
                CONSTRAINT ck_region_level CHECK (level IN ('province', 'prefecture', 'county', 'township')),
    parent_code varchar(12) REFERENCES region(code),
    geom        geometry(MultiPolygon, 4326) NOT NULL
                CONSTRAINT ck_region_geom_valid CHECK (ST_IsValid(geom))
);
CREATE INDEX ix_region_geom ON region USING gist (geom);
CREATE INDEX ix_region_parent_code ON region (parent_code);
CREATE INDEX ix_region_level ON region (level);

CREATE TABLE enterprise (
    id               serial PRIMARY KEY,
    credit_code      varchar(18) NOT NULL UNIQUE
                     CONSTRAINT ck_enterprise_credit_code CHECK (credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    name             varchar(200) NOT NULL,
    address          varchar(300),
    industry_code    varchar(40) NOT NULL REFERENCES industry(code),
    region_code      varchar(12) REFERENCES region(code),
    geom             geometry(Point, 4326) NOT NULL,
    legal_rep        varchar(60),
    contact_phone    varchar(40),
    complaint_phone  varchar(40),
    supervising_dept varchar(100),
    grade_auto       smallint CONSTRAINT ck_enterprise_grade_auto CHECK (grade_auto BETWEEN 1 AND 4),
    grade_override   smallint CONSTRAINT ck_enterprise_grade_override CHECK (grade_override BETWEEN 1 AND 4),
    grade_override_note text,
    grade            smallint GENERATED ALWAYS AS (COALESCE(grade_override, grade_auto)) STORED,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_enterprise_geom ON enterprise USING gist (geom);
CREATE INDEX ix_enterprise_industry_code ON enterprise (industry_code);
-- varchar_pattern_ops: region filters are code-prefix LIKEs (a region and all below it).
CREATE INDEX ix_enterprise_region_code ON enterprise (region_code varchar_pattern_ops);
CREATE INDEX ix_enterprise_grade ON enterprise (grade);

CREATE TABLE risk_point (
    id                   serial PRIMARY KEY,
    enterprise_id        integer NOT NULL REFERENCES enterprise(id) ON DELETE CASCADE,
    name                 varchar(200) NOT NULL,
    location_desc        varchar(200),
    accident_type        varchar(100),
    grade                smallint NOT NULL CONSTRAINT ck_risk_point_grade CHECK (grade BETWEEN 1 AND 4),
    method               varchar(16)
                         CONSTRAINT ck_risk_point_method CHECK (method IN ('LEC', 'LS', 'HAZCHEM100', 'OTHER')),
    score                numeric(10, 2),
    method_params        jsonb,
    control_measures     text,
    controls_implemented boolean NOT NULL DEFAULT false,
    responsible_person   varchar(60),
    assessed_on          date,
    version              integer NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_risk_point_enterprise_name UNIQUE (enterprise_id, name)
);
CREATE INDEX ix_risk_point_enterprise_id ON risk_point (enterprise_id);
CREATE INDEX ix_risk_point_grade ON risk_point (grade);

CREATE TABLE app_user (
    id            serial PRIMARY KEY,
    username      varchar(60) NOT NULL UNIQUE,
    display_name  varchar(60) NOT NULL,
    password_hash varchar(255) NOT NULL,
    role          varchar(12) NOT NULL
                  CONSTRAINT ck_user_role CHECK (role IN ('admin', 'regulator', 'enterprise', 'readonly')),
    region_code   varchar(12) REFERENCES region(code),
    enterprise_id integer REFERENCES enterprise(id),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_user_jurisdiction CHECK (
        role = 'admin'
        OR (role IN ('regulator', 'readonly') AND region_code IS NOT NULL)
        OR (role = 'enterprise' AND enterprise_id IS NOT NULL))
);

CREATE TABLE hazard (
    id                 serial PRIMARY KEY,
    enterprise_id      integer NOT NULL REFERENCES enterprise(id) ON DELETE CASCADE,
    description        text NOT NULL,
    level              varchar(8) NOT NULL CONSTRAINT ck_hazard_level CHECK (level IN ('general', 'major')),
    category           varchar(60),
    criterion          varchar(16) CONSTRAINT ck_hazard_criterion CHECK (criterion IN
                       ('trade', 'hazchem', 'fireworks', 'coal', 'mine', 'construction', 'fire', 'gas', 'other')),
    source             varchar(12) NOT NULL
                       CONSTRAINT ck_hazard_source CHECK (source IN ('self', 'inspection', 'supervised', 'report')),
    found_on           date NOT NULL,
    found_by           varchar(100),
    deadline           date,
    state              varchar(12) NOT NULL DEFAULT 'registered'
                       CONSTRAINT ck_hazard_state CHECK (state IN ('registered', 'rectifying', 'rectified', 'closed')),
    resp_person        varchar(60),
    measures           text,
    funds_wan          numeric(12, 2) CONSTRAINT ck_hazard_funds CHECK (funds_wan >= 0),
    emergency_plan     text,
    supervision_doc_no varchar(100),
    rectified_on       date,
    verified_on        date,
    verifier           varchar(100),
    verification_note  text,
    geom               geometry(Point, 4326),
    version            integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_hazard_supervised_doc CHECK (source <> 'supervised' OR supervision_doc_no IS NOT NULL),
    CONSTRAINT ck_hazard_closed_verified CHECK (state <> 'closed' OR (verifier IS NOT NULL AND verified_on IS NOT NULL)),
    CONSTRAINT ck_hazard_major_five CHECK (level <> 'major' OR state = 'registered' OR (
        resp_person IS NOT NULL AND measures IS NOT NULL AND funds_wan IS NOT NULL
        AND deadline IS NOT NULL AND emergency_plan IS NOT NULL)),
    CONSTRAINT uq_hazard_natural UNIQUE (enterprise_id, found_on, description)
);
CREATE INDEX ix_hazard_geom ON hazard USING gist (geom);
CREATE INDEX ix_hazard_enterprise_id ON hazard (enterprise_id);
CREATE INDEX ix_hazard_state ON hazard (state);
CREATE INDEX ix_hazard_level_source ON hazard (level, source);
CREATE INDEX ix_hazard_found_on ON hazard (found_on);
CREATE INDEX ix_hazard_open_deadline ON hazard (deadline) WHERE state IN ('registered', 'rectifying');

CREATE TABLE hazard_event (
    id         bigserial PRIMARY KEY,
    hazard_id  integer NOT NULL REFERENCES hazard(id) ON DELETE RESTRICT,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      varchar(100) NOT NULL,
    user_id    integer REFERENCES app_user(id),
    from_state varchar(12),
    to_state   varchar(12) NOT NULL,
    note       text
);
CREATE INDEX ix_hazard_event_hazard_id ON hazard_event (hazard_id);

CREATE TABLE hazard_evidence (
    id           serial PRIMARY KEY,
    hazard_id    integer NOT NULL REFERENCES hazard(id) ON DELETE CASCADE,
    kind         varchar(16) NOT NULL
                 CONSTRAINT ck_evidence_kind CHECK (kind IN ('before', 'after', 'plan', 'acceptance', 'other')),
    filename     varchar(255) NOT NULL,
    content_type varchar(100) NOT NULL,
    size_bytes   bigint NOT NULL,
    sha256       varchar(64) NOT NULL,
    stored_path  varchar(500) NOT NULL,
    uploaded_by  varchar(100),
    uploaded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_hazard_evidence_hazard_id ON hazard_evidence (hazard_id);

CREATE TABLE api_token (
    id           serial PRIMARY KEY,
    user_id      integer NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    name         varchar(60) NOT NULL,
    token_hash   varchar(64) NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX ix_api_token_user_id ON api_token (user_id);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    user_id     integer REFERENCES app_user(id),
    actor       varchar(100) NOT NULL,
    action      varchar(40) NOT NULL,
    object_type varchar(40) NOT NULL,
    object_id   varchar(60),
    before      jsonb,
    after       jsonb
);
CREATE INDEX ix_audit_log_at ON audit_log (at);
CREATE INDEX ix_audit_log_user_id ON audit_log (user_id);
CREATE INDEX ix_audit_log_object ON audit_log (object_type, object_id);

CREATE TABLE map_export (
    id            serial PRIMARY KEY,
    region_code   varchar(12) REFERENCES region(code),
    enterprise_id integer REFERENCES enterprise(id),
    period        date NOT NULL,
    kind          varchar(12) NOT NULL CONSTRAINT ck_map_export_kind CHECK (kind IN ('risk', 'hazard')),
    fmt           varchar(8) NOT NULL,
    created_by    varchar(100),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_map_export_subject CHECK (region_code IS NOT NULL OR enterprise_id IS NOT NULL)
);
CREATE INDEX ix_map_export_region_code ON map_export (region_code);
CREATE INDEX ix_map_export_enterprise_id ON map_export (enterprise_id);

CREATE TABLE return_archive (
    id            serial PRIMARY KEY,
    region_code   varchar(12) NOT NULL REFERENCES region(code),
    period        date NOT NULL,
    submitted_at  timestamptz NOT NULL DEFAULT now(),
    submitted_by  varchar(100) NOT NULL,
    data_as_of    timestamptz NOT NULL,
    numbers       jsonb NOT NULL,
    bundle_zip    bytea NOT NULL,
    bundle_sha256 varchar(64) NOT NULL
);
CREATE INDEX ix_return_archive_region_period ON return_archive (region_code, period);

-- An enterprise's automatic grade is the highest (lowest number) of its risk points.
CREATE FUNCTION enterprise_refresh_grade(eid integer) RETURNS void LANGUAGE sql AS $$
    UPDATE enterprise e
       SET grade_auto = (SELECT min(grade) FROM risk_point WHERE enterprise_id = eid)
     WHERE e.id = eid
       AND e.grade_auto IS DISTINCT FROM (SELECT min(grade) FROM risk_point WHERE enterprise_id = eid);
$$;

CREATE FUNCTION risk_point_grade_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM enterprise_refresh_grade(OLD.enterprise_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM enterprise_refresh_grade(NEW.enterprise_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER risk_point_grade AFTER INSERT OR UPDATE OF grade, enterprise_id OR DELETE ON risk_point
    FOR EACH ROW EXECUTE FUNCTION risk_point_grade_trigger();

-- An enterprise without a region gets the deepest region that covers its point.
CREATE FUNCTION enterprise_assign_region() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.region_code IS NULL THEN
        SELECT r.code INTO NEW.region_code
          FROM region r
         WHERE ST_Covers(r.geom, NEW.geom)
         ORDER BY length(r.code) DESC,
                  CASE r.level WHEN 'township' THEN 4 WHEN 'county' THEN 3
                               WHEN 'prefecture' THEN 2 ELSE 1 END DESC
         LIMIT 1;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER enterprise_region BEFORE INSERT OR UPDATE OF geom, region_code ON enterprise
    FOR EACH ROW EXECUTE FUNCTION enterprise_assign_region();

-- Append-only tables: nothing updates, deletes or truncates them.
CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER hazard_event_append_only BEFORE UPDATE OR DELETE ON hazard_event
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER hazard_event_no_truncate BEFORE TRUNCATE ON hazard_event
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
"""


# The industry vocabulary as it was when this revision was written (code, name,
# parent, stat_group, sort): frozen here, never read from geo_service.domain,
# so that editing the live vocabulary cannot change an old migration.
INDUSTRIES: tuple[tuple[str, str, str | None, str, int], ...] = (
    ("coal", "煤矿", None, "coal", 10),
    ("mine", "非煤矿山", None, "mine", 20),
    ("hazchem", "危险化学品", None, "hazchem", 30),
    ("fireworks", "烟花爆竹", None, "other", 40),
    ("trade", "工贸", None, "other", 50),
    ("trade.metallurgy", "冶金", "trade", "other", 51),
    ("trade.nonferrous", "有色", "trade", "other", 52),
    ("trade.building_materials", "建材", "trade", "other", 53),
    ("trade.machinery", "机械", "trade", "other", 54),
    ("trade.light", "轻工", "trade", "other", 55),
    ("trade.textile", "纺织", "trade", "other", 56),
    ("trade.tobacco", "烟草", "trade", "other", 57),
    ("trade.commerce", "商贸", "trade", "other", 58),
    ("construction", "建筑施工", None, "other", 60),
    ("transport", "交通运输", None, "other", 70),
    ("gas", "燃气", None, "other", 80),
    ("crowded", "人员密集场所", None, "other", 90),
    ("other", "其他", None, "other", 100),
)


def upgrade() -> None:
    op.execute(DDL)
    conn = op.get_bind()
    for code, name, parent, stat_group, sort in INDUSTRIES:
        conn.exec_driver_sql(
            "INSERT INTO industry (code, name, parent_code, stat_group, sort)"
            " VALUES (%(code)s, %(name)s, %(parent)s, %(stat_group)s, %(sort)s)"
            " ON CONFLICT (code) DO NOTHING",
            {"code": code, "name": name, "parent": parent, "stat_group": stat_group, "sort": sort},
        )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE return_archive, map_export, audit_log, api_token, hazard_evidence,
                   hazard_event, hazard, app_user, risk_point, enterprise, region, industry CASCADE;
        DROP FUNCTION forbid_change, enterprise_assign_region, risk_point_grade_trigger,
                      enterprise_refresh_grade;
        """
    )
