"""``geo-service dual``: upkeep of the 双重预防 records (month partitions, tallies)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
import sqlalchemy as sa

from ..queries.scope import ALL


@click.group("dual")
def dual_group() -> None:
    """双重预防：排查记录的月分区与计数表维护。"""


@dual_group.command("partitions")
@click.option("--months-ahead", type=click.IntRange(1, 120), default=12, show_default=True,
              help="从本月起预建多少个月的分区")
@click.option("--dry-run", is_flag=True, help="建立后回滚，只报告数量")
def partitions(months_ahead: int, dry_run: bool) -> None:
    """预建排查记录的月分区（已存在的跳过；可每月由定时任务运行）。"""
    from . import session_scope

    first = dt.date.today().replace(day=1)
    index = first.year * 12 + first.month - 1 + months_ahead - 1
    last = dt.date(index // 12, index % 12 + 1, 1)
    with session_scope(dry_run=dry_run) as session:
        made = session.execute(sa.select(sa.func.inspection_record_add_partitions(first, last))).scalar_one()
        stray = session.execute(sa.text("SELECT count(*) FROM inspection_record_default")).scalar_one()
    click.echo(f"{'试运行（已回滚）：' if dry_run else ''}{first:%Y-%m} 至 {last:%Y-%m} 新建分区 {made} 个")
    if stray:
        click.echo(f"注意：默认分区中有 {stray} 条记录（其月份没有分区），"
                   "需要为这些月份建分区时请先把记录移出默认分区")


@dual_group.command("rebuild-tallies")
def rebuild_tallies() -> None:
    """从排查任务和记录重算计数表（批量导入关闭触发器之后使用）。"""
    from . import session_scope

    with session_scope() as session:
        session.execute(sa.select(sa.func.task_tally_rebuild()))
    click.echo("已重算排查任务计数表")


@dual_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-bad", is_flag=True, help="跳过有错误的行，导入其余行")
@click.option("--dry-run", is_flag=True, help="检查并写入后回滚，只报告结果")
def import_tasks(path: Path, skip_bad: bool, dry_run: bool) -> None:
    """导入排查任务清单（风险分析对象、单元、风险事件、管控措施、排查任务；XLSX/CSV）。"""
    from ..config import Config
    from ..services import chain_import
    from ..services.importers import IMPORT_ACTOR
    from ..services.uploads import UploadLimits
    from . import session_scope

    limits = UploadLimits.from_mb(Config().MAX_IMPORT_MB)
    with session_scope() as session:
        result = chain_import.import_chain(session, path, IMPORT_ACTOR, scope=ALL, skip_bad=skip_bad,
                                           dry_run=dry_run, limits=limits)
    for error in result.errors[:50]:
        click.echo(str(error), err=True)
    click.echo(result.summary())
    if result.errors and not result.written:
        raise SystemExit(1)


@dual_group.command("template")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def template(path: Path) -> None:
    """写出空白的排查任务清单模板（XLSX）。"""
    from ..services import chain_import

    chain_import.write_chain_template(path)
    click.echo(f"已写出模板 {path}")


commands = [dual_group]
