"""Grade history of the enterprises' risk zones (四色动态 of the plant 四色图).

``grade_event`` gains ``zone_id`` and the kind ``zone``: every change of a
zone's effective grade (``risk_zone.grade`` = override, else the highest of
its risk points), its creation and its deletion, with time and actor, written
by a trigger that runs as the owner (the application reads the history and
cannot forge it).  The zones that exist today get a baseline event at their
``created_at`` with their present grade, so the regional map's zones layer
can be drawn "as of" a month's end (``risk_zone_grade_as_of``).

Revision ID: 0017
Revises: 0012
Create Date: 2026-11-30
"""

from alembic import op

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None

# Vocabulary copied from migration 0011 (migrations never import live code), plus ``zone``.
OLD_KINDS = ("risk_point", "enterprise_auto", "enterprise_override", "enterprise")
NEW_KINDS = OLD_KINDS + ("zone",)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


DDL = f"""
ALTER TABLE grade_event ADD COLUMN zone_id integer;
ALTER TABLE grade_event DROP CONSTRAINT ck_grade_event_kind;
ALTER TABLE grade_event ADD CONSTRAINT ck_grade_event_kind CHECK (kind IN ({_in(NEW_KINDS)}));
ALTER TABLE grade_event ADD CONSTRAINT ck_grade_event_zone CHECK ((kind = 'zone') = (zone_id IS NOT NULL));
CREATE INDEX ix_grade_event_zone_at ON grade_event (zone_id, at) WHERE zone_id IS NOT NULL;

CREATE FUNCTION risk_zone_grade_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO grade_event (enterprise_id, zone_id, kind, from_grade, to_grade, actor)
        VALUES (NEW.enterprise_id, NEW.id, 'zone', NULL, NEW.grade, grade_actor());
    ELSIF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM enterprise WHERE id = OLD.enterprise_id) THEN
            INSERT INTO grade_event (enterprise_id, zone_id, kind, from_grade, to_grade, actor)
            VALUES (OLD.enterprise_id, OLD.id, 'zone', OLD.grade, NULL, grade_actor());
        END IF;
    ELSIF NEW.grade IS DISTINCT FROM OLD.grade THEN
        INSERT INTO grade_event (enterprise_id, zone_id, kind, from_grade, to_grade, actor)
        VALUES (NEW.enterprise_id, NEW.id, 'zone', OLD.grade, NEW.grade, grade_actor());
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER risk_zone_grade_event AFTER INSERT OR DELETE OR UPDATE OF grade_auto, grade_override ON risk_zone
    FOR EACH ROW EXECUTE FUNCTION risk_zone_grade_event();

-- Each zone's grade at instant t (zones created by then; NULL grade: ungraded then).
CREATE FUNCTION risk_zone_grade_as_of(t timestamptz)
RETURNS TABLE (zone_id integer, grade smallint) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (g.zone_id) g.zone_id, g.to_grade
      FROM grade_event g
     WHERE g.kind = 'zone' AND g.at <= t
     ORDER BY g.zone_id, g.at DESC, g.id DESC
$$;

-- what the register holds today is the zones' baseline history
INSERT INTO grade_event (at, enterprise_id, zone_id, kind, from_grade, to_grade, actor)
SELECT created_at, enterprise_id, id, 'zone', NULL, grade, 'migration' FROM risk_zone;
"""

# No new table or column privilege: geo_app already reads grade_event (0011).
APP_GRANTS = ""

# The zones' grade history is derived data: its trigger runs as the owner.
OWNER_TRIGGERS = ("risk_zone_grade_event",)


def upgrade() -> None:
    op.execute(DDL)
    for fn in OWNER_TRIGGERS:
        op.execute(f"ALTER FUNCTION {fn}() SECURITY DEFINER SET search_path = public, pg_temp")


def downgrade() -> None:
    op.execute(
        f"""
        DROP TRIGGER risk_zone_grade_event ON risk_zone;
        DROP FUNCTION risk_zone_grade_as_of, risk_zone_grade_event;
        DELETE FROM grade_event WHERE kind = 'zone';
        DROP INDEX ix_grade_event_zone_at;
        ALTER TABLE grade_event DROP CONSTRAINT ck_grade_event_zone;
        ALTER TABLE grade_event DROP CONSTRAINT ck_grade_event_kind;
        ALTER TABLE grade_event ADD CONSTRAINT ck_grade_event_kind CHECK (kind IN ({_in(OLD_KINDS)}));
        ALTER TABLE grade_event DROP COLUMN zone_id;
        """
    )
