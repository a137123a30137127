"""``geo-service backup`` / ``restore`` with the database's own tools."""

from __future__ import annotations

from pathlib import Path

import click

from ..services import backup as backup_service


@click.command("backup")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="备份文件（pg_dump 自定义格式）")
def backup(output: Path) -> None:
    """备份整个登记簿（pg_dump）。"""
    from . import database

    with database() as url:
        backup_service.backup(url, output)
    click.echo(f"已备份到 {output}（{output.stat().st_size / 1e6:.1f} MB）")


@click.command("restore")
@click.argument("dump", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="不再确认，直接覆盖当前数据库")
def restore(dump: Path, yes: bool) -> None:
    """从备份恢复（pg_restore，覆盖当前数据库的全部内容）。"""
    from . import database

    if not yes:
        click.confirm("恢复会覆盖当前数据库的全部内容，继续吗？", abort=True)
    with database() as url:
        backup_service.restore(url, dump)
    click.echo("已恢复")


commands = [backup, restore]
