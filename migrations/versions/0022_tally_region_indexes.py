"""Region-prefix indexes on the summaries' tallies (a county's summary without a scan).

A region summary reads ``hazard_tally`` and the zoom-0 rows of
``enterprise_cell`` for the regions under a code prefix (``region_code LIKE
'530112%'``).  Neither had an index a prefix LIKE can use (the databases are
not in the C collation, so only ``varchar_pattern_ops`` serves it): at
1,000,000 enterprises a county's summary scanned the 74,773 rows of
``hazard_tally`` (5 ms) and 8,769 zoom-0 cells (1.4 ms) on every first
computation; with these it reads its own 1,139 and 68 rows (< 1 ms).

``ix_hazard_tally_region``
    ``hazard_tally (region_code varchar_pattern_ops)``.
``ix_enterprise_cell_region_z0``
    ``enterprise_cell (region_code varchar_pattern_ops) INCLUDE (grade, n)
    WHERE z = 0``: an index-only read of a region's enterprises by grade
    (also the map's indicator strip, ``queries/indicators.py``).

``IF NOT EXISTS``: the benchmark database got the same two indexes by hand
while this was measured (bench/RESULTS.md).  No table, column or trigger:
nothing to grant.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

APP_GRANTS = ""
OWNER_TRIGGERS: tuple[str, ...] = ()


def upgrade() -> None:
    op.execute(
        """
        CREATE INDEX IF NOT EXISTS ix_hazard_tally_region ON hazard_tally (region_code varchar_pattern_ops);
        CREATE INDEX IF NOT EXISTS ix_enterprise_cell_region_z0 ON enterprise_cell (region_code varchar_pattern_ops)
            INCLUDE (grade, n) WHERE z = 0;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX ix_enterprise_cell_region_z0;
        DROP INDEX ix_hazard_tally_region;
        """
    )
