"""``geo-service return REGION YYYY-MM -o out.zip``: the whole monthly return in one ZIP."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from tqdm import tqdm

from ..config import Config
from ..errors import GeoServiceError
from ..queries.scope import ALL
from ..services import returns as returns_service
from ..services.maprender import PAPERS, MapStyle
from ..services.statistics import parse_month


@click.command("return")
@click.argument("region")
@click.argument("month")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="输出的 ZIP 文件")
@click.option("--unit", default=None, help="填报单位（默认 ISSUING_UNIT 设置）")
@click.option("--paper", type=click.Choice(sorted(PAPERS)), default="A4", show_default=True, help="地图纸张")
@click.option("--submit", is_flag=True, help="提交并归档（冻结数字与文件）")
@click.option("--by", "by", default=None, help="提交人（--submit 时必填）")
@click.option("--dry-run", is_flag=True, help="生成 ZIP，但不记录地图导出、不归档（回滚）")
def return_command(region: str, month: str, output: Path, unit: str | None, paper: str, submit: bool,
                   by: str | None, dry_run: bool) -> None:
    """生成某区划某月的统计月报：统计表（XLSX）+ 本级及各下级区划的风险图、隐患图（PNG/PDF），打包为一个 ZIP。"""
    from . import session_scope

    config = Config()
    try:
        period = parse_month(month, config.CAMPAIGN_START)
    except GeoServiceError as err:
        raise click.BadParameter(err.user_msg, param_hint="MONTH") from err
    if submit and not by:
        raise click.UsageError("提交归档需要 --by 提交人")
    unit = unit if unit is not None else config.ISSUING_UNIT
    style = MapStyle.from_config(config)

    with session_scope(config, dry_run=dry_run) as session, \
            tqdm(total=1, unit="步", desc="生成月报", leave=True) as bar:
        def progress(done: int, total: int, message: str) -> None:
            bar.total = total
            bar.set_postfix_str(message)
            bar.update(done - bar.n)

        if submit and not dry_run:
            archive, bundle = returns_service.submit_return(
                session, region, period, scope=ALL, style=style, by=by or "", unit=unit,
                paper=paper, made_on=dt.date.today(), progress=progress)
        else:
            archive = None
            bundle = returns_service.build_bundle(
                session, region, period, scope=ALL, style=style, unit=unit, by=by, paper=paper,
                made_on=dt.date.today(), progress=progress)
        archived = (f"已归档：编号 {archive.id}，提交人 {archive.submitted_by}，"
                    f"数据截至 {archive.data_as_of:%Y-%m-%d %H:%M:%S}") if archive is not None else ""

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(bundle.zip_bytes)
    maps = sum(1 for m in bundle.members if m.endswith(".png"))
    click.echo(f"已生成 {output}：{len(bundle.members)} 个文件（{maps} 张地图），"
               f"{len(bundle.zip_bytes) / 1024 / 1024:.1f} MB")
    slow = max((v for k, v in bundle.timings.items() if k.startswith("maps ")), default=0.0)
    click.echo(f"耗时：统计 {bundle.timings.get('numbers', 0):.2f} s，单个区划两张地图最长 {slow:.2f} s")
    if archived:
        click.echo(archived)


commands = [return_command]
