"""The account's unit (填报单位): ``app_user.unit``.

The monthly return's 填报单位 defaults to the signed-in account's unit and
falls back to the ``ISSUING_UNIT`` setting when the account has none.  The
application role already has its grants on ``app_user`` (migration 0002).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE app_user ADD COLUMN unit varchar(100)")
    op.execute("COMMENT ON COLUMN app_user.unit IS '填报单位（月报默认）'")


def downgrade() -> None:
    op.execute("ALTER TABLE app_user DROP COLUMN unit")
