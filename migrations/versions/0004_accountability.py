"""Accountability on a hazard: who registered it, who recorded its rectification,
which account signed it off, and the enterprise's rectification note.

``hazard.origin``
    ``enterprise`` (an enterprise account registered it) or ``regulator`` (a
    regulator, an administrator, an import or the demo did).  The field rules
    (``geo_service.domain.HAZARD_FIELD_RULES``) read it.  Existing rows: a
    ``source = 'self'`` (企业自查) hazard is taken as enterprise-registered,
    every other source as regulator-registered.
``hazard.created_by_id``
    The registering account (NULL for imports without an account, the demo
    and rows from before this revision whose first event has no account).
    Backfilled from the hazard's first event.
``hazard.rectification_note``
    整改情况说明: the enterprise's account of its rectification.
``hazard.rectified_by_id``
    The account that recorded 整改完成 (rectifying → rectified).  Backfilled,
    for hazards waiting for sign-off, from their last such event, so the
    separation of duties holds for them too.
``hazard.verifier_id``
    The account that signed the hazard off (验收销号).  The free-text
    ``verifier`` column keeps what old rows and imports recorded; the service
    now fills it with the signing account's name.  Backfilled for closed
    hazards from their sign-off event when it names an account.
``ck_hazard_verifier_not_rectifier``
    The sign-off account differs from the account that recorded 整改完成.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Copied from geo_service.domain.HAZARD_ORIGINS (a migration never imports live code).
ORIGINS = ("enterprise", "regulator")

UPGRADE = f"""
ALTER TABLE hazard
    ADD COLUMN origin varchar(12) NOT NULL DEFAULT 'regulator',
    ADD COLUMN created_by_id integer REFERENCES app_user (id),
    ADD COLUMN rectification_note text,
    ADD COLUMN rectified_by_id integer REFERENCES app_user (id),
    ADD COLUMN verifier_id integer REFERENCES app_user (id);

ALTER TABLE hazard ADD CONSTRAINT ck_hazard_origin CHECK (origin IN ({", ".join(f"'{o}'" for o in ORIGINS)}));

-- Existing rows: 企业自查 is the enterprise's own report, every other source a regulator's finding.
UPDATE hazard SET origin = CASE WHEN source = 'self' THEN 'enterprise' ELSE 'regulator' END;

UPDATE hazard h SET created_by_id = e.user_id
FROM hazard_event e
WHERE e.hazard_id = h.id AND e.from_state IS NULL AND e.to_state = 'registered' AND e.user_id IS NOT NULL;

UPDATE hazard h SET rectified_by_id = (
    SELECT e.user_id FROM hazard_event e
    WHERE e.hazard_id = h.id AND e.from_state = 'rectifying' AND e.to_state = 'rectified'
    ORDER BY e.id DESC LIMIT 1)
WHERE h.state = 'rectified';

UPDATE hazard h SET verifier_id = (
    SELECT e.user_id FROM hazard_event e
    WHERE e.hazard_id = h.id AND e.from_state = 'rectified' AND e.to_state = 'closed'
    ORDER BY e.id DESC LIMIT 1)
WHERE h.state = 'closed';

ALTER TABLE hazard ADD CONSTRAINT ck_hazard_verifier_not_rectifier
    CHECK (verifier_id IS NULL OR rectified_by_id IS NULL OR verifier_id <> rectified_by_id);
"""

DOWNGRADE = """
ALTER TABLE hazard
    DROP CONSTRAINT ck_hazard_verifier_not_rectifier,
    DROP CONSTRAINT ck_hazard_origin,
    DROP COLUMN verifier_id,
    DROP COLUMN rectified_by_id,
    DROP COLUMN rectification_note,
    DROP COLUMN created_by_id,
    DROP COLUMN origin;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
