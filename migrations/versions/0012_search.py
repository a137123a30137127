"""Trigram indexes for the map's search box: enterprise name and credit code.

``pg_trgm``'s GIN operator class serves ``ILIKE '%term%'`` on both columns,
so a suggestion list is found through the index rather than by reading a
million enterprise rows (terms of three or more characters; shorter ones
have no trigram to look up).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX ix_enterprise_name_trgm ON enterprise USING gin (name gin_trgm_ops)")
    op.execute("CREATE INDEX ix_enterprise_credit_code_trgm ON enterprise USING gin (credit_code gin_trgm_ops)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_enterprise_credit_code_trgm")
    op.execute("DROP INDEX IF EXISTS ix_enterprise_name_trgm")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
