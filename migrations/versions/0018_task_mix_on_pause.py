"""Pausing a task updates the task mix.

Migration 0011's ``inspection_task_mix`` trigger fired only on an UPDATE that
named ``cycle_n``, ``cycle_unit``, ``starts_on``, ``ended_on`` or
``enterprise_id``.  Pausing a task names only ``active``; the BEFORE trigger
``inspection_task_active`` then fills in ``ended_on``, but a column set by a
BEFORE trigger does not make an ``UPDATE OF`` trigger fire, so the mix kept
the paused task as active: it went on counting as due and the completion
rates came out too low.  The trigger now also fires on ``active`` (its
function already ignores an update that changes nothing it depends on), and
the upgrade rebuilds ``task_mix`` and ``task_tally`` from the register with
0011's ``task_tally_rebuild()``, which mends the mixes of tasks paused before.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

DDL = """
DROP TRIGGER inspection_task_mix ON inspection_task;
CREATE TRIGGER inspection_task_mix AFTER INSERT OR DELETE
    OR UPDATE OF cycle_n, cycle_unit, starts_on, ended_on, enterprise_id, active ON inspection_task
    FOR EACH ROW EXECUTE FUNCTION inspection_task_mix();
SELECT task_tally_rebuild();
"""

# No new table, column or sequence: geo_app already pauses tasks (UPDATE (active), 0011).
APP_GRANTS = ""

# The trigger's function is 0011's, unchanged and already SECURITY DEFINER;
# recreating the trigger keeps it so (the mix stays the owner's alone).
OWNER_TRIGGERS: tuple[str, ...] = ()


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER inspection_task_mix ON inspection_task;
        CREATE TRIGGER inspection_task_mix AFTER INSERT OR DELETE
            OR UPDATE OF cycle_n, cycle_unit, starts_on, ended_on, enterprise_id ON inspection_task
            FOR EACH ROW EXECUTE FUNCTION inspection_task_mix();
        """
    )
