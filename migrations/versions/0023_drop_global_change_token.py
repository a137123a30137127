"""The global change token stops being appended.

``data_change`` (migration 0003) was one counter for the whole register: every
write statement on ``enterprise``, ``hazard``, ``region``, ``risk_point``,
``risk_zone`` and ``enterprise_layout`` appended a row.  Since migration 0014
the caches are keyed by the per-county tokens of ``region_change`` (kept by
their own triggers on the same tables), and nothing reads ``data_change``: its
statement triggers only cost every write an INSERT (and a DELETE of the rows it
folds).  They are dropped; the table and its rows stay (an installation's
history, counted by the upgrade test), and so does ``data_change_note()`` for a
downgrade.

No table or column: nothing to grant.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

APP_GRANTS = ""
OWNER_TRIGGERS: tuple[str, ...] = ()

# (trigger, table) of migrations 0003 and 0010
TRIGGERS = (
    ("enterprise_data_change", "enterprise"),
    ("hazard_data_change", "hazard"),
    ("region_data_change", "region"),
    ("risk_point_data_change", "risk_point"),
    ("risk_zone_data_change", "risk_zone"),
    ("enterprise_layout_data_change", "enterprise_layout"),
)


def upgrade() -> None:
    for trigger, table in TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger} ON {table}")


def downgrade() -> None:
    for trigger, table in TRIGGERS:
        op.execute(f"CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION data_change_note()")
