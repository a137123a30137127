"""``geo-service db …``: migrations and the embedded cluster."""

from __future__ import annotations

import click

from .. import db as dbmod
from ..config import Config
from ..embedded import EmbeddedCluster


@click.group("db")
def db_group() -> None:
    """数据库：迁移与嵌入式集群管理。"""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """应用数据库迁移（含 PostGIS 扩展）。"""
    from . import database

    with database() as url:
        dbmod.upgrade(url, revision)
    click.echo("数据库已迁移到最新版本")


@db_group.command("start")
def start() -> None:
    """启动嵌入式数据库（未设置 DATABASE_URL 时）。"""
    cluster = EmbeddedCluster(Config().VAR_DIR)
    started = cluster.start()
    click.echo(("已启动：" if started else "已在运行：") + cluster.url)


@db_group.command("stop")
def stop() -> None:
    """停止嵌入式数据库。"""
    EmbeddedCluster(Config().VAR_DIR).stop()
    click.echo("已停止")


@db_group.command("url")
def url() -> None:
    """显示数据库连接地址。"""
    config = Config()
    click.echo(config.DATABASE_URL or EmbeddedCluster(config.VAR_DIR).url)


commands = [db_group]
