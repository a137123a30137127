"""Sessions: a per-account session epoch.

``app_user.session_epoch`` is copied into the signed session cookie at login
and compared each time the account is loaded for a request.  Raising it (on
logout, a password change or reset, and when an account is disabled or
enabled) ends every session issued before, on every device.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE app_user ADD COLUMN session_epoch integer NOT NULL DEFAULT 0")


def downgrade() -> None:
    op.execute("ALTER TABLE app_user DROP COLUMN session_epoch")
