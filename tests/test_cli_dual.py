"""``geo-service dual partitions`` and ``rebuild-tallies`` as an operator runs them."""

from __future__ import annotations

import datetime as dt

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from geo_service.cli import main


def _run(args: list[str], url: str, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", url)
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_partitions_ahead_are_made_once(make_database, monkeypatch):
    url = make_database()
    # the migration makes 2024-01 … 2027-12; 24 months from this month need the rest
    first = dt.date.today().replace(day=1)
    months = [dt.date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1)
              for i in range(24)]
    missing = [m for m in months if m > dt.date(2027, 12, 1)]
    dry = _run(["dual", "partitions", "--months-ahead", "24", "--dry-run"], url, monkeypatch)
    assert dry.exit_code == 0 and f"新建分区 {len(missing)} 个" in dry.output
    made = _run(["dual", "partitions", "--months-ahead", "24"], url, monkeypatch)
    assert made.exit_code == 0 and f"新建分区 {len(missing)} 个" in made.output
    again = _run(["dual", "partitions", "--months-ahead", "24"], url, monkeypatch)
    assert "新建分区 0 个" in again.output
    engine = create_engine(url)
    with engine.connect() as conn:
        names = set(conn.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'inspection_record'::regclass")).scalars())
    engine.dispose()
    assert {f"inspection_record_{m:%Y%m}" for m in months} <= names
    assert _run(["dual", "rebuild-tallies"], url, monkeypatch).exit_code == 0
