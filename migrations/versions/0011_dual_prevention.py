"""双重预防 as it runs: the chain 风险分析对象 → 风险分析单元 (risk_point) → 风险事件 →
管控措施 → 隐患排查任务 → 排查记录, the completion tallies, grade events
(四色动态) and the 一单四制 actions on 重大隐患.

``inspection_record``
    Append-only, PARTITIONED BY RANGE (recorded_at), one partition per month
    (China Standard Time month boundaries) from 2024-01 to 2027-12 plus a
    DEFAULT partition as a safety net; ``inspection_record_add_partitions``
    adds months ahead (``geo-service dual partitions``).
Cycle windows (how "due" is counted, see docs/STATISTICS.md)
    A task with cycle ``n`` ``unit`` owes one record per window.  Windows are
    fixed on the calendar, in China Standard Time: for hours/days/weeks they
    are ``n``-unit blocks counted from Monday 2000-01-03 00:00 (so a daily
    task's window is a calendar day, a weekly task's an ISO week), for months
    ``n``-month blocks from January 2000.  A window is owed when it starts on
    or after the task's ``starts_on`` and ends by its ``ended_on`` (set when
    the task is deactivated); it belongs to the month in which it ends.
``task_mix``, ``task_tally``
    ``task_mix`` counts an enterprise's tasks by (cycle, starts_on, ended_on),
    so the records due in any month are a sum over a few rows per enterprise
    (``inspection_due``).  ``task_tally`` counts, per enterprise and month,
    the windows that have at least one record (the first record of a window
    adds one) and the 异常 records.  Both are kept by triggers and carry the
    enterprise's ``region_code`` (moved with it), so a county or a province
    sums a prefix range without joining the register.
``grade_event``
    Every grade change of a risk point (unit) and of an enterprise (computed,
    override, effective), with time and actor (``SET LOCAL geo.actor``), so a
    month's grades can be redrawn (``enterprise_grade_as_of``).
``major_action``
    一单四制 steps on a 重大隐患: 交办, 挂牌督办, 延期申请, 摘牌, each with its dates.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

APP_ROLE = "geo_app"
TZ = "Asia/Shanghai"
# Vocabulary copied from geo_service.domain (migrations never import live code).
OBJECT_KINDS = ("major_source", "device", "site")
MEASURE_KINDS = ("engineering", "maintenance", "operation", "emergency")
MEASURE_LEVELS = ("company", "department", "workshop", "team", "post")
CYCLE_UNITS = ("hour", "day", "week", "month")
RESULTS = ("normal", "abnormal")
GRADE_EVENT_KINDS = ("risk_point", "enterprise_auto", "enterprise_override", "enterprise")
ACTION_KINDS = ("assign", "supervise", "extension", "delist")
FIRST_MONTH, LAST_MONTH = "2024-01-01", "2027-12-01"


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


DDL = f"""
CREATE TABLE risk_object (
    id            serial PRIMARY KEY,
    enterprise_id integer NOT NULL REFERENCES enterprise(id) ON DELETE CASCADE,
    name          varchar(200) NOT NULL,
    kind          varchar(16) NOT NULL CONSTRAINT ck_risk_object_kind CHECK (kind IN ({_in(OBJECT_KINDS)})),
    note          text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_risk_object_enterprise_name UNIQUE (enterprise_id, name),
    CONSTRAINT uq_risk_object_id_enterprise UNIQUE (id, enterprise_id)
);

ALTER TABLE risk_point ADD COLUMN object_id integer;
ALTER TABLE risk_point ADD CONSTRAINT uq_risk_point_id_enterprise UNIQUE (id, enterprise_id);
-- the object belongs to the same enterprise as its unit
ALTER TABLE risk_point ADD CONSTRAINT fk_risk_point_object
    FOREIGN KEY (object_id, enterprise_id) REFERENCES risk_object (id, enterprise_id) ON DELETE SET NULL (object_id);
CREATE INDEX ix_risk_point_object_id ON risk_point (object_id);

CREATE TABLE risk_event (
    id            serial PRIMARY KEY,
    enterprise_id integer NOT NULL,
    risk_point_id integer NOT NULL,
    name          varchar(200) NOT NULL,
    accident_type varchar(100) NOT NULL,
    consequence   text,
    grade         smallint NOT NULL CONSTRAINT ck_risk_event_grade CHECK (grade BETWEEN 1 AND 4),
    created_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (risk_point_id, enterprise_id) REFERENCES risk_point (id, enterprise_id) ON DELETE CASCADE,
    CONSTRAINT uq_risk_event_unit_name UNIQUE (risk_point_id, name),
    CONSTRAINT uq_risk_event_id_enterprise UNIQUE (id, enterprise_id)
);
CREATE INDEX ix_risk_event_enterprise_id ON risk_event (enterprise_id);

CREATE TABLE control_measure (
    id            serial PRIMARY KEY,
    enterprise_id integer NOT NULL,
    event_id      integer NOT NULL,
    description   text NOT NULL,
    kind          varchar(16) NOT NULL CONSTRAINT ck_control_measure_kind CHECK (kind IN ({_in(MEASURE_KINDS)})),
    level         varchar(16) NOT NULL CONSTRAINT ck_control_measure_level CHECK (level IN ({_in(MEASURE_LEVELS)})),
    created_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (event_id, enterprise_id) REFERENCES risk_event (id, enterprise_id) ON DELETE CASCADE,
    CONSTRAINT uq_control_measure_event_description UNIQUE (event_id, description),
    CONSTRAINT uq_control_measure_id_enterprise UNIQUE (id, enterprise_id)
);
CREATE INDEX ix_control_measure_enterprise_id ON control_measure (enterprise_id);

CREATE TABLE inspection_task (
    id             serial PRIMARY KEY,
    enterprise_id  integer NOT NULL,
    measure_id     integer NOT NULL,
    content        text NOT NULL,                 -- 排查内容
    cycle_n        integer NOT NULL CONSTRAINT ck_inspection_task_cycle_n CHECK (cycle_n BETWEEN 1 AND 1000),
    cycle_unit     varchar(8) NOT NULL
                   CONSTRAINT ck_inspection_task_cycle_unit CHECK (cycle_unit IN ({_in(CYCLE_UNITS)})),
    resp_post      varchar(60),                   -- 责任岗位
    resp_user_id   integer REFERENCES app_user(id) ON DELETE SET NULL,
    active         boolean NOT NULL DEFAULT true,
    starts_on      date NOT NULL DEFAULT (now() AT TIME ZONE '{TZ}')::date,
    ended_on       date,                          -- set when deactivated
    last_record_at timestamptz,                   -- kept by the record trigger
    created_at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (measure_id, enterprise_id) REFERENCES control_measure (id, enterprise_id) ON DELETE CASCADE,
    CONSTRAINT uq_inspection_task_measure_content UNIQUE (measure_id, content),
    CONSTRAINT ck_inspection_task_ended CHECK (ended_on IS NULL OR ended_on >= starts_on)
);
CREATE INDEX ix_inspection_task_enterprise_active ON inspection_task (enterprise_id) WHERE active;
CREATE INDEX ix_inspection_task_measure_id ON inspection_task (measure_id);

CREATE TABLE inspection_record (
    id            bigint GENERATED BY DEFAULT AS IDENTITY,
    task_id       integer NOT NULL REFERENCES inspection_task(id) ON DELETE RESTRICT,
    enterprise_id integer NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    user_id       integer REFERENCES app_user(id),
    person        varchar(100) NOT NULL,
    result        varchar(8) NOT NULL CONSTRAINT ck_inspection_record_result CHECK (result IN ({_in(RESULTS)})),
    note          text,
    photo_sha256  varchar(64),
    photo_type    varchar(100),
    photo_name    varchar(255),
    geom          geometry(Point, 4326),
    PRIMARY KEY (id, recorded_at),
    CONSTRAINT ck_inspection_record_photo CHECK ((photo_sha256 IS NULL) = (photo_type IS NULL))
) PARTITION BY RANGE (recorded_at);
CREATE INDEX ix_inspection_record_task_at ON inspection_record (task_id, recorded_at);
CREATE INDEX ix_inspection_record_enterprise_at ON inspection_record (enterprise_id, recorded_at);
CREATE INDEX ix_inspection_record_geom ON inspection_record USING gist (geom);
CREATE TABLE inspection_record_default PARTITION OF inspection_record DEFAULT;

-- Local wall-clock time (China has one zone).
CREATE FUNCTION dp_local(t timestamptz) RETURNS timestamp LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT t AT TIME ZONE '{TZ}'
$$;

CREATE FUNCTION inspection_record_add_partitions(first_month date, last_month date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', first_month)::date;
    made integer := 0;
    name text;
BEGIN
    WHILE m <= last_month LOOP
        name := 'inspection_record_' || to_char(m, 'YYYYMM');
        IF to_regclass(name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF inspection_record FOR VALUES FROM (%L) TO (%L)',
                           name, (m::timestamp AT TIME ZONE '{TZ}'),
                           ((m + interval '1 month')::timestamp AT TIME ZONE '{TZ}'));
            made := made + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN made;
END $$;
SELECT inspection_record_add_partitions('{FIRST_MONTH}', '{LAST_MONTH}');

CREATE TRIGGER inspection_record_append_only BEFORE UPDATE OR DELETE ON inspection_record
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- The cycle window [w_start, w_end) (local time) holding local instant t.
CREATE FUNCTION inspection_window(n integer, unit varchar, t timestamp,
                                  OUT w_start timestamp, OUT w_end timestamp)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    epoch constant timestamp := '2000-01-03 00:00';
    len interval;
    k bigint;
    mi integer;
BEGIN
    IF unit = 'month' THEN
        mi := (extract(year FROM t)::integer - 2000) * 12 + extract(month FROM t)::integer - 1;
        k := floor(mi::numeric / n);
        w_start := timestamp '2000-01-01' + make_interval(months => (k * n)::integer);
        w_end := w_start + make_interval(months => n);
        RETURN;
    END IF;
    len := CASE unit WHEN 'hour' THEN make_interval(hours => n)
                     WHEN 'day' THEN make_interval(days => n)
                     ELSE make_interval(days => 7 * n) END;
    k := floor(extract(epoch FROM t - epoch) / extract(epoch FROM len));
    w_start := epoch + k * len;
    w_end := w_start + len;
END $$;

-- Records due (windows owed) by one task — or by ``tasks`` tasks alike — that
-- end in [m_start, m_next) and by ``as_of`` (all local time).
CREATE FUNCTION inspection_due(n integer, unit varchar, starts_on date, ended_on date,
                               m_start timestamp, m_next timestamp, as_of timestamp)
RETURNS integer LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    lo timestamp := m_start;           -- window end must be > lo
    hi timestamp := least(m_next, as_of, coalesce(ended_on::timestamp, 'infinity'));  -- and <= hi
    first_end timestamp;               -- the end of the first window owed
    lo_w record;
    hi_w record;
    len_s double precision;
    cnt integer;
BEGIN
    IF hi <= lo THEN RETURN 0; END IF;
    SELECT * INTO lo_w FROM inspection_window(n, unit, starts_on::timestamp);
    -- the first window owed starts on or after starts_on
    first_end := CASE WHEN lo_w.w_start = starts_on::timestamp THEN lo_w.w_end
                      ELSE (SELECT w.w_end FROM inspection_window(n, unit, lo_w.w_end) w) END;
    IF first_end > lo THEN
        lo := first_end - interval '1 microsecond';
    END IF;
    IF hi <= lo THEN RETURN 0; END IF;
    IF unit = 'month' THEN
        -- window ends are the first days of months whose index is a multiple of n
        cnt := (SELECT count(*) FROM generate_series(date_trunc('month', lo) + interval '1 month',
                                                     date_trunc('month', hi), interval '1 month') e
                 WHERE e > lo AND e <= hi
                   AND ((extract(year FROM e)::integer - 2000) * 12 + extract(month FROM e)::integer - 1) % n = 0);
        RETURN cnt;
    END IF;
    len_s := extract(epoch FROM CASE unit WHEN 'hour' THEN make_interval(hours => n)
                                          WHEN 'day' THEN make_interval(days => n)
                                          ELSE make_interval(days => 7 * n) END);
    -- ends are epoch + j*len; count j with lo < end <= hi
    cnt := floor(extract(epoch FROM hi - timestamp '2000-01-03') / len_s)::integer
         - floor(extract(epoch FROM lo - timestamp '2000-01-03') / len_s)::integer;
    RETURN greatest(cnt, 0);
END $$;

-- Both tallies carry the enterprise's region_code ('' when none), kept equal by a trigger on
-- enterprise, so a region's figures are a range scan on the code prefix, without a join.
CREATE TABLE task_mix (
    enterprise_id integer NOT NULL REFERENCES enterprise(id) ON DELETE CASCADE,
    region_code   varchar(12) NOT NULL DEFAULT '',
    cycle_n       integer NOT NULL,
    cycle_unit    varchar(8) NOT NULL,
    starts_on     date NOT NULL,
    ended_on      date NOT NULL,  -- 'infinity' while active
    n             integer NOT NULL,
    PRIMARY KEY (enterprise_id, cycle_n, cycle_unit, starts_on, ended_on)
);
CREATE TABLE task_tally (
    enterprise_id integer NOT NULL REFERENCES enterprise(id) ON DELETE CASCADE,
    region_code   varchar(12) NOT NULL DEFAULT '',
    month         date NOT NULL,      -- first day of the month the window ends in
    done          integer NOT NULL DEFAULT 0,   -- windows with at least one record
    abnormal      integer NOT NULL DEFAULT 0,   -- 异常 records
    PRIMARY KEY (enterprise_id, month)
);
CREATE INDEX ix_task_tally_month_region ON task_tally (month, region_code varchar_pattern_ops);
CREATE INDEX ix_task_mix_region ON task_mix (region_code varchar_pattern_ops);

CREATE FUNCTION enterprise_task_region() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.region_code IS DISTINCT FROM OLD.region_code THEN
        UPDATE task_mix SET region_code = coalesce(NEW.region_code, '') WHERE enterprise_id = NEW.id;
        UPDATE task_tally SET region_code = coalesce(NEW.region_code, '') WHERE enterprise_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER enterprise_task_region AFTER UPDATE OF region_code ON enterprise
    FOR EACH ROW EXECUTE FUNCTION enterprise_task_region();

CREATE FUNCTION task_mix_add(eid integer, cn integer, cu varchar, s date, e date, d integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_mix AS t (enterprise_id, region_code, cycle_n, cycle_unit, starts_on, ended_on, n)
    SELECT eid, coalesce(x.region_code, ''), cn, cu, s, coalesce(e, 'infinity'), d FROM enterprise x WHERE x.id = eid
    ON CONFLICT (enterprise_id, cycle_n, cycle_unit, starts_on, ended_on) DO UPDATE SET n = t.n + excluded.n;
    DELETE FROM task_mix WHERE enterprise_id = eid AND cycle_n = cn AND cycle_unit = cu AND starts_on = s
       AND ended_on = coalesce(e, 'infinity') AND n = 0;
END $$;

-- Deactivating a task ends it today; reactivating starts it afresh today.
CREATE FUNCTION inspection_task_active() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.active IS DISTINCT FROM OLD.active THEN
        IF NEW.active THEN
            NEW.starts_on := (now() AT TIME ZONE '{TZ}')::date;
            NEW.ended_on := NULL;
        ELSE
            NEW.ended_on := greatest(NEW.starts_on, (now() AT TIME ZONE '{TZ}')::date);
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER inspection_task_active BEFORE UPDATE OF active ON inspection_task
    FOR EACH ROW EXECUTE FUNCTION inspection_task_active();

CREATE FUNCTION inspection_task_mix() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.cycle_n = OLD.cycle_n AND NEW.cycle_unit = OLD.cycle_unit
       AND NEW.starts_on = OLD.starts_on AND NEW.ended_on IS NOT DISTINCT FROM OLD.ended_on
       AND NEW.enterprise_id = OLD.enterprise_id THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF EXISTS (SELECT 1 FROM enterprise WHERE id = OLD.enterprise_id) THEN
            PERFORM task_mix_add(OLD.enterprise_id, OLD.cycle_n, OLD.cycle_unit, OLD.starts_on, OLD.ended_on, -1);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM task_mix_add(NEW.enterprise_id, NEW.cycle_n, NEW.cycle_unit, NEW.starts_on, NEW.ended_on, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER inspection_task_mix AFTER INSERT OR DELETE
    OR UPDATE OF cycle_n, cycle_unit, starts_on, ended_on, enterprise_id ON inspection_task
    FOR EACH ROW EXECUTE FUNCTION inspection_task_mix();

-- A record fills its enterprise from the task and counts in the tallies: the
-- first record of a window adds one "done" to the month the window ends in.
CREATE FUNCTION inspection_record_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT enterprise_id INTO NEW.enterprise_id FROM inspection_task WHERE id = NEW.task_id;
    RETURN NEW;
END $$;
CREATE TRIGGER inspection_record_fill BEFORE INSERT ON inspection_record
    FOR EACH ROW EXECUTE FUNCTION inspection_record_fill();

-- Statement level, over the rows the statement inserted (a bulk insert costs one pass).
CREATE FUNCTION inspection_record_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- one writer per task at a time, so "first record of its window" is decided once
    PERFORM pg_advisory_xact_lock(hashtext('inspection_task'), x.task_id)
       FROM (SELECT DISTINCT task_id FROM new_records ORDER BY 1) x;
    WITH n AS (
        SELECT r.id, r.task_id, r.recorded_at, r.result, t.enterprise_id, t.starts_on, w.w_start, w.w_end,
               date_trunc('month', w.w_end - interval '1 microsecond')::date AS month
          FROM new_records r JOIN inspection_task t ON t.id = r.task_id,
               LATERAL inspection_window(t.cycle_n, t.cycle_unit, dp_local(r.recorded_at)) w
    ), firsts AS (
        -- a window that began before the task did is not owed, so it is not counted done either
        SELECT DISTINCT ON (n.task_id, n.w_start) n.enterprise_id, n.month
          FROM n
         WHERE n.w_start >= n.starts_on::timestamp
           AND NOT EXISTS (SELECT 1 FROM inspection_record o
                            WHERE o.task_id = n.task_id
                              AND o.recorded_at >= (n.w_start AT TIME ZONE '{TZ}')
                              AND o.recorded_at < (n.w_end AT TIME ZONE '{TZ}')
                              AND NOT EXISTS (SELECT 1 FROM new_records x WHERE x.id = o.id))
    ), counts AS (
        SELECT enterprise_id, month, count(*)::integer AS done, 0 AS abnormal FROM firsts GROUP BY 1, 2
        UNION ALL
        SELECT enterprise_id, month, 0, count(*)::integer FROM n WHERE result = 'abnormal' GROUP BY 1, 2
    )
    INSERT INTO task_tally AS x (enterprise_id, region_code, month, done, abnormal)
    SELECT c.enterprise_id, coalesce(e.region_code, ''), c.month, sum(c.done), sum(c.abnormal)
      FROM counts c JOIN enterprise e ON e.id = c.enterprise_id GROUP BY 1, 2, 3
    ON CONFLICT (enterprise_id, month) DO UPDATE
       SET done = x.done + excluded.done, abnormal = x.abnormal + excluded.abnormal;
    UPDATE inspection_task t SET last_record_at = m.last
      FROM (SELECT task_id, max(recorded_at) AS last FROM new_records GROUP BY 1) m
     WHERE t.id = m.task_id AND (t.last_record_at IS NULL OR t.last_record_at < m.last);
    RETURN NULL;
END $$;
CREATE TRIGGER inspection_record_tally AFTER INSERT ON inspection_record
    REFERENCING NEW TABLE AS new_records
    FOR EACH STATEMENT EXECUTE FUNCTION inspection_record_tally();

-- Everything from scratch (after a bulk load with the triggers off).
CREATE FUNCTION task_tally_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM task_mix;
    DELETE FROM task_tally;
    INSERT INTO task_mix (enterprise_id, region_code, cycle_n, cycle_unit, starts_on, ended_on, n)
    SELECT t.enterprise_id, coalesce(e.region_code, ''), t.cycle_n, t.cycle_unit, t.starts_on,
           coalesce(t.ended_on, 'infinity'), count(*)
      FROM inspection_task t JOIN enterprise e ON e.id = t.enterprise_id GROUP BY 1, 2, 3, 4, 5, 6;
    UPDATE inspection_task t SET last_record_at = r.last
      FROM (SELECT task_id, max(recorded_at) AS last FROM inspection_record GROUP BY 1) r
     WHERE r.task_id = t.id;
    INSERT INTO task_tally (enterprise_id, region_code, month, done, abnormal)
    SELECT enterprise_id, region_code, month, count(DISTINCT (task_id, w_end)) FILTER (WHERE owed), sum(ab)
      FROM (SELECT r.enterprise_id, coalesce(e.region_code, '') AS region_code, r.task_id, w.w_end, w.w_start >= t.starts_on::timestamp AS owed,
                   date_trunc('month', w.w_end - interval '1 microsecond')::date AS month,
                   (r.result = 'abnormal')::integer AS ab
              FROM inspection_record r JOIN inspection_task t ON t.id = r.task_id
                   JOIN enterprise e ON e.id = r.enterprise_id,
                   LATERAL inspection_window(t.cycle_n, t.cycle_unit, dp_local(r.recorded_at)) w) x
     GROUP BY enterprise_id, region_code, month;
END $$;

-- hazards opened by an 异常 record
ALTER TABLE hazard ADD COLUMN record_id bigint;
ALTER TABLE hazard ADD COLUMN record_at timestamptz;
ALTER TABLE hazard ADD CONSTRAINT fk_hazard_record FOREIGN KEY (record_id, record_at)
    REFERENCES inspection_record (id, recorded_at) ON DELETE RESTRICT;
CREATE UNIQUE INDEX ix_hazard_record ON hazard (record_id) WHERE record_id IS NOT NULL;
"""

GRADES = f"""
CREATE TABLE grade_event (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    enterprise_id integer NOT NULL,
    risk_point_id integer,
    kind          varchar(20) NOT NULL CONSTRAINT ck_grade_event_kind CHECK (kind IN ({_in(GRADE_EVENT_KINDS)})),
    from_grade    smallint,
    to_grade      smallint,
    actor         varchar(100) NOT NULL
);
CREATE INDEX ix_grade_event_enterprise_at ON grade_event (enterprise_id, at);
CREATE INDEX ix_grade_event_at ON grade_event (at);

CREATE FUNCTION grade_actor() RETURNS varchar LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('geo.actor', true), ''), session_user)::varchar(100)
$$;

CREATE FUNCTION risk_point_grade_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO grade_event (enterprise_id, risk_point_id, kind, from_grade, to_grade, actor)
        VALUES (NEW.enterprise_id, NEW.id, 'risk_point', NULL, NEW.grade, grade_actor());
    ELSIF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM enterprise WHERE id = OLD.enterprise_id) THEN
            INSERT INTO grade_event (enterprise_id, risk_point_id, kind, from_grade, to_grade, actor)
            VALUES (OLD.enterprise_id, OLD.id, 'risk_point', OLD.grade, NULL, grade_actor());
        END IF;
    ELSIF NEW.grade IS DISTINCT FROM OLD.grade THEN
        INSERT INTO grade_event (enterprise_id, risk_point_id, kind, from_grade, to_grade, actor)
        VALUES (NEW.enterprise_id, NEW.id, 'risk_point', OLD.grade, NEW.grade, grade_actor());
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER risk_point_grade_event AFTER INSERT OR DELETE OR UPDATE OF grade ON risk_point
    FOR EACH ROW EXECUTE FUNCTION risk_point_grade_event();

CREATE FUNCTION enterprise_grade_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who varchar := grade_actor();
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.grade IS NOT NULL THEN
            INSERT INTO grade_event (enterprise_id, kind, from_grade, to_grade, actor)
            VALUES (NEW.id, 'enterprise', NULL, NEW.grade, who);
        END IF;
        RETURN NULL;
    END IF;
    IF NEW.grade_auto IS DISTINCT FROM OLD.grade_auto THEN
        INSERT INTO grade_event (enterprise_id, kind, from_grade, to_grade, actor)
        VALUES (NEW.id, 'enterprise_auto', OLD.grade_auto, NEW.grade_auto, who);
    END IF;
    IF NEW.grade_override IS DISTINCT FROM OLD.grade_override THEN
        INSERT INTO grade_event (enterprise_id, kind, from_grade, to_grade, actor)
        VALUES (NEW.id, 'enterprise_override', OLD.grade_override, NEW.grade_override, who);
    END IF;
    IF NEW.grade IS DISTINCT FROM OLD.grade THEN
        INSERT INTO grade_event (enterprise_id, kind, from_grade, to_grade, actor)
        VALUES (NEW.id, 'enterprise', OLD.grade, NEW.grade, who);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER enterprise_grade_event AFTER INSERT OR UPDATE OF grade_auto, grade_override ON enterprise
    FOR EACH ROW EXECUTE FUNCTION enterprise_grade_event();

-- Each enterprise's effective grade at instant t (NULL: ungraded then).
CREATE FUNCTION enterprise_grade_as_of(t timestamptz)
RETURNS TABLE (enterprise_id integer, grade smallint) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (g.enterprise_id) g.enterprise_id, g.to_grade
      FROM grade_event g
     WHERE g.kind = 'enterprise' AND g.at <= t
     ORDER BY g.enterprise_id, g.at DESC, g.id DESC
$$;

-- what the register holds today is the baseline history
INSERT INTO grade_event (at, enterprise_id, kind, from_grade, to_grade, actor)
SELECT created_at, id, 'enterprise', NULL, grade, 'migration' FROM enterprise WHERE grade IS NOT NULL;
"""

ACTIONS = f"""
CREATE TABLE major_action (
    id           bigserial PRIMARY KEY,
    hazard_id    integer NOT NULL REFERENCES hazard(id) ON DELETE RESTRICT,
    kind         varchar(12) NOT NULL CONSTRAINT ck_major_action_kind CHECK (kind IN ({_in(ACTION_KINDS)})),
    at           timestamptz NOT NULL DEFAULT now(),
    actor        varchar(100) NOT NULL,
    user_id      integer REFERENCES app_user(id),
    assignee     varchar(100),     -- 交办: department or person
    due_on       date,             -- 交办 deadline; 延期: the new deadline asked for
    doc_no       varchar(100),     -- 挂牌/摘牌 document number
    decided_on   date,             -- 挂牌 decision
    published_on date,             -- 挂牌/摘牌 publication
    note         text,
    CONSTRAINT ck_major_action_assign CHECK (kind <> 'assign' OR (assignee IS NOT NULL AND due_on IS NOT NULL)),
    CONSTRAINT ck_major_action_supervise CHECK (kind <> 'supervise' OR (doc_no IS NOT NULL AND decided_on IS NOT NULL)),
    CONSTRAINT ck_major_action_extension CHECK (kind <> 'extension' OR due_on IS NOT NULL)
);
CREATE INDEX ix_major_action_hazard ON major_action (hazard_id, kind);
CREATE TRIGGER major_action_append_only BEFORE UPDATE OR DELETE ON major_action
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
"""

# One GRANT per line, each with its reason (tests/test_privileges.py parses
# every migration's APP_GRANTS); after 0007 a new table gets nothing by default.
APP_GRANTS = """
GRANT SELECT, INSERT ON risk_object TO geo_app;  -- 风险分析对象 registered from the enterprise's pages
GRANT SELECT, INSERT ON risk_event TO geo_app;  -- 风险事件 of a unit
GRANT SELECT, INSERT ON control_measure TO geo_app;  -- 管控措施 of an event
GRANT SELECT, INSERT ON inspection_task TO geo_app;  -- 隐患排查任务 of a measure
GRANT UPDATE (active) ON inspection_task TO geo_app;  -- pausing or resuming a task (its trigger sets the dates)
GRANT SELECT, INSERT ON inspection_record TO geo_app;  -- 排查记录 are append-only: recorded on a phone, never changed
GRANT SELECT ON task_mix TO geo_app;  -- completion rates read the task mix (the owner's triggers keep it)
GRANT SELECT ON task_tally TO geo_app;  -- completion rates read the tallies (the owner's triggers keep them)
GRANT SELECT ON grade_event TO geo_app;  -- grades as of a month and the change map read the grade history (written by the owner's triggers)
GRANT SELECT, INSERT ON major_action TO geo_app;  -- 一单四制 steps (交办, 挂牌督办, 延期申请, 摘牌) are append-only
GRANT UPDATE (record_id, record_at) ON hazard TO geo_app;  -- an 异常 record links the hazard it opens
GRANT USAGE ON SEQUENCE risk_object_id_seq TO geo_app;  -- ids of new risk objects
GRANT USAGE ON SEQUENCE risk_event_id_seq TO geo_app;  -- ids of new risk events
GRANT USAGE ON SEQUENCE control_measure_id_seq TO geo_app;  -- ids of new measures
GRANT USAGE ON SEQUENCE inspection_task_id_seq TO geo_app;  -- ids of new tasks
GRANT USAGE ON SEQUENCE inspection_record_id_seq TO geo_app;  -- ids of new records
GRANT USAGE ON SEQUENCE major_action_id_seq TO geo_app;  -- ids of 一单四制 steps
"""

# Derived data (the task mix and tallies, the grade history) is kept by
# triggers that run as the owner: the application reads it and cannot forge it.
OWNER_TRIGGERS = ("inspection_task_mix", "inspection_record_tally", "enterprise_task_region",
                  "risk_point_grade_event", "enterprise_grade_event")

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
    op.execute(GRADES)
    op.execute(ACTIONS)
    for fn in OWNER_TRIGGERS:
        op.execute(f"ALTER FUNCTION {fn}() SECURITY DEFINER SET search_path = public, pg_temp")
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE major_action;
        DROP TRIGGER enterprise_grade_event ON enterprise;
        DROP TRIGGER risk_point_grade_event ON risk_point;
        DROP FUNCTION enterprise_grade_as_of, enterprise_grade_event, risk_point_grade_event, grade_actor;
        DROP TABLE grade_event;
        DROP INDEX ix_hazard_record;
        ALTER TABLE hazard DROP CONSTRAINT fk_hazard_record;
        ALTER TABLE hazard DROP COLUMN record_id, DROP COLUMN record_at;
        DROP TRIGGER enterprise_task_region ON enterprise;
        DROP TABLE inspection_record, inspection_task, control_measure, risk_event, task_mix, task_tally CASCADE;
        DROP FUNCTION enterprise_task_region, task_tally_rebuild, inspection_record_tally, inspection_record_fill, inspection_task_mix,
                      inspection_task_active, task_mix_add, inspection_due, inspection_window,
                      inspection_record_add_partitions, dp_local;
        ALTER TABLE risk_point DROP CONSTRAINT fk_risk_point_object;
        ALTER TABLE risk_point DROP CONSTRAINT uq_risk_point_id_enterprise;
        ALTER TABLE risk_point DROP COLUMN object_id;
        DROP TABLE risk_object;
        """
    )
