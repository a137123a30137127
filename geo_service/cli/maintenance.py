"""``geo-service backup`` / ``restore``: one archive with the database and the evidence files."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import Config
from ..embedded import EmbeddedError
from ..errors import GeoServiceError
from ..services import backup as backup_service


@click.command("backup")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="备份文件（.tar 归档：数据库与佐证材料）")
def backup(output: Path) -> None:
    """备份整个登记簿与佐证材料（一个 .tar 归档）。"""
    from . import database

    config = Config()
    try:
        with database(config) as url:
            info = backup_service.backup(url, output, config.UPLOAD_DIR)
    except GeoServiceError as err:
        raise click.ClickException(err.user_msg) from err
    except EmbeddedError as err:
        raise click.ClickException(f"内置数据库无法启动：{err}") from err
    click.echo(f"已备份到 {output}（{output.stat().st_size / 1e6:.1f} MB，佐证材料 {info['uploads']} 个文件）")


@click.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="目标数据库已有内容时覆盖它（默认只恢复到空数据库）")
@click.option("--yes", is_flag=True, help="与 --replace 一起使用时不再确认")
def restore(archive: Path, replace: bool, yes: bool) -> None:
    """从备份归档恢复到空数据库（不存在时自动创建），并恢复佐证材料。"""
    from . import database

    config = Config()
    try:
        backup_service.read_manifest(archive)  # a wrong file is refused before anything starts
        if replace and not yes:
            click.confirm("--replace 会覆盖当前数据库的全部内容，继续吗？", abort=True)
        with database(config) as url:
            info = backup_service.restore(url, archive, config.UPLOAD_DIR, replace=replace)
    except GeoServiceError as err:
        raise click.ClickException(err.user_msg) from err
    except EmbeddedError as err:
        raise click.ClickException(f"内置数据库无法启动：{err}") from err
    roles = info.get("roles_created") or []
    click.echo(f"已恢复（佐证材料 {info['uploads_restored']} 个文件）"
               + (f"；已创建数据库角色 {'、'.join(roles)}（如需密码请另行设置）" if roles else ""))


commands = [backup, restore]
