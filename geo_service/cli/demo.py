"""``geo-service demo load``: the demo register (real 红河州 boundaries, invented enterprises)."""

from __future__ import annotations

import datetime as dt

import click
import sqlalchemy as sa

from ..config import Config
from ..models import Enterprise
from ..services import demo as demo_service


@click.group("demo")
def demo_group() -> None:
    """演示数据：红河州真实行政区划 + 虚构的企业、风险点和隐患。"""


@demo_group.command("load")
@click.option("--force", is_flag=True,
              help="登记簿非空时也载入（统一社会信用代码已存在的企业跳过，不会重复）")
@click.option("--seed", type=int, default=demo_service.DEFAULT_SEED, show_default=True, help="随机种子")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="以哪一天为“今天”生成日期（默认今天）")
@click.option("--enterprises", "n_enterprises", type=click.IntRange(1, 100_000), default=2000,
              show_default=True, help="企业数")
@click.option("--dry-run", is_flag=True, help="生成并写入后回滚，只报告数量")
def load(force: bool, seed: int, today: dt.datetime | None, n_enterprises: int, dry_run: bool) -> None:
    """载入演示登记簿（默认仅在没有企业时载入）。"""
    from . import session_scope

    with session_scope(migrate=True, dry_run=dry_run) as session:
        existing = session.execute(sa.select(sa.func.count()).select_from(Enterprise)).scalar_one()
        if existing and not force:
            click.echo(f"登记簿已有{existing}家企业，未载入演示数据（如需追加请用 --force）")
            return
        counts = demo_service.load(session, today=today.date() if today else None, seed=seed,
                                   n_enterprises=n_enterprises, progress=True, upload_dir=Config().UPLOAD_DIR)
    click.echo(("试运行（已回滚）：" if dry_run else "已载入演示数据：") + str(counts))


commands = [demo_group]
