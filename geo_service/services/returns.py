"""The whole monthly return in one ZIP, submitting (freezing) it, and comparing.

:func:`build_bundle` produces, for a region and a month: the numbers
(``numbers.json``), the workbook of the region (with its per-region and
month-change sheets) and one per child region, and a risk map and a hazard
map (PNG 300 dpi + PDF) for the region and each child region, plus the
month-change map of the region.  Every risk/hazard map produced is logged
in ``map_export``; no number of the return depends on that log, so
producing the package never changes the return (form 000 item 14 counts the
regions whose maps the service can draw, see ``queries.returns.drawable_units``).

:func:`submit_return` stores the numbers and the ZIP in ``return_archive``
with the register's as-of time and the submitter; later edits to the
register never touch an archived return, and an archived return is never
changed: a resubmission is a new row (an UPDATE or DELETE of an archive
through the ORM is refused, see :func:`_refuse_archive_changes`).
:func:`diff_numbers` lists what differs between an archived return and a
fresh computation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import Actor
from ..errors import Forbidden, NotFound
from ..models import Region, ReturnArchive
from ..queries import metrics
from ..queries.regions import region_refused
from ..queries.scope import Scope, region_prefix
from .accounts import audit
from .maprender import KINDS, MapStyle, grade_counts, load_map_data, record_export, render_map
from .statistics import CHANGE_ITEMS, DISPATCH_ITEMS, TABLE_COLUMNS, compute_return
from .workbook import build_workbook, cn_date, cn_datetime, dispatch_heading

__all__ = [
    "Progress",
    "Bundle",
    "check_scope",
    "bundle_steps",
    "build_bundle",
    "submit_return",
    "archives",
    "get_archive",
    "diff_numbers",
    "flatten_numbers",
]

LOGGER = logging.getLogger(__name__)

# progress(done, total, message)
Progress = Callable[[int, int, str], None]


def _no_progress(done: int, total: int, message: str) -> None:
    return None


@dataclass
class Bundle:
    """A produced return: the ZIP, its numbers, its members and how long each part took (s)."""

    zip_bytes: bytes
    numbers: dict[str, Any]
    members: list[str]
    filename: str
    timings: dict[str, float] = field(default_factory=dict)
    # region code → enterprises per grade drawn on its 四色图 (None: ungraded)
    map_grades: dict[str, dict[int | None, int]] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.zip_bytes).hexdigest()


def check_scope(code: str, scope: Scope, *, write: bool = False) -> None:
    """Refuse a return for a region outside the caller's jurisdiction (or for
    an enterprise account): reading, producing and submitting all answer
    "not found", as for a region that does not exist (``write`` is kept for
    the callers' clarity)."""
    if scope.enterprise_id is not None:
        raise Forbidden("企业账号不能生成统计月报")
    if scope.region is not None and not code.startswith(region_prefix(scope.region)):
        raise region_refused(code)


def _regions(session: Session, code: str) -> list[tuple[str, str]]:
    region = session.get(Region, code)
    if region is None:
        raise region_refused(code)
    kids = session.execute(sa.select(Region.code, Region.name).where(Region.parent_code == code)
                           .order_by(Region.code)).all()
    return [(region.code, region.name)] + [(k.code, k.name) for k in kids]


def bundle_steps(n_regions: int) -> int:
    """Steps of :func:`build_bundle` for a region with ``n_regions - 1`` children (for progress bars).

    >>> bundle_steps(3)
    11
    """
    # two maps per region, the numbers, the change map, one workbook per region
    return 2 * n_regions + 1 + 1 + n_regions


def _month(period: metrics.Period) -> str:
    return f"{period.end.year:04d}-{period.end.month:02d}"


def build_bundle(session: Session, code: str, period: metrics.Period, *, scope: Scope, style: MapStyle,
                 unit: str = "", by: str | None = None, paper: str = "A4", made_on: dt.date | None = None,
                 progress: Progress = _no_progress) -> Bundle:
    """Produce the complete return of region ``code`` for ``period`` as one ZIP.

    Records every risk/hazard map in ``map_export`` (flushed, not committed:
    the caller commits).  ``progress`` is called after each step.
    """
    check_scope(code, scope, write=True)
    regions = _regions(session, code)
    total = bundle_steps(len(regions))
    done = 0
    month = _month(period)
    made_on = made_on or dt.date.today()
    timings: dict[str, float] = {}
    map_grades: dict[str, dict[int | None, int]] = {}
    files: list[tuple[str, bytes]] = []

    def step(message: str) -> None:
        nonlocal done
        done += 1
        progress(done, total, message)

    progress(0, total, "开始生成")
    for rcode, rname in regions:
        t0 = time.perf_counter()
        data = load_map_data(session, rcode, period, scope=scope, as_of_month=True)
        map_grades[rcode] = grade_counts(data)
        for kind in ("risk", "hazard"):
            m = render_map(data, kind, style=style, unit=unit, made_on=made_on, paper=paper)
            base = f"地图/{rcode}_{rname}_{KINDS[kind]}_{month}"
            files += [(base + ".png", m.png), (base + ".pdf", m.pdf)]
            record_export(session, rcode, period, kind, ("png", "pdf"), by=by)
            step(f"{rname}{KINDS[kind]}")
        timings[f"maps {rcode}"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    numbers = compute_return(session, code, period, scope=scope, unit=unit, filled_on=made_on)
    timings["numbers"] = time.perf_counter() - t0
    step("统计数字")

    t0 = time.perf_counter()
    changes = {r["code"]: r["changes"] for r in numbers["regions"][1:]}
    data = load_map_data(session, code, period, scope=scope, changes=changes, as_of_month=True)
    m = render_map(data, "changes", style=style, unit=unit, made_on=made_on, paper=paper,
                   data_as_of=cn_datetime(numbers["data_as_of"]))
    base = f"地图/{code}_{regions[0][1]}_{KINDS['changes']}_{month}"
    files += [(base + ".png", m.png), (base + ".pdf", m.pdf)]
    timings["changes map"] = time.perf_counter() - t0
    step("环比变化图")

    t0 = time.perf_counter()
    for i, (rcode, rname) in enumerate(regions):
        folder = "" if i == 0 else "下级区划/"
        files.append((f"{folder}{rcode}_{rname}_{month}_统计月报.xlsx", build_workbook(numbers, region_code=rcode)))
        step(f"{rname}统计表")
    timings["workbooks"] = time.perf_counter() - t0

    files.insert(0, ("numbers.json", json.dumps(numbers, ensure_ascii=False, indent=1).encode("utf-8")))
    files.insert(1, ("说明.txt", _readme(numbers, regions).encode("utf-8")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, payload in files:
            info = zipfile.ZipInfo(name, date_time=(made_on.year, made_on.month, made_on.day, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, payload)
    progress(total, total, "完成")
    LOGGER.info("return %s %s: %d files, %d bytes, timings %s", code, month, len(files), out.tell(), timings)
    return Bundle(zip_bytes=out.getvalue(), numbers=numbers, members=[n for n, _ in files],
                  filename=f"{code}_{regions[0][1]}_{month}_统计月报.zip", timings=timings,
                  map_grades=map_grades)


def _readme(numbers: dict[str, Any], regions: list[tuple[str, str]]) -> str:
    lines = [
        f"{numbers['region']['name']}（{numbers['region']['code']}）统计月报　{numbers['period_label']}",
        f"统计期：{cn_date(numbers['period_start'])}至{cn_date(numbers['period_end'])}（今年以来累计："
        "防范遏制统计表第12–14项、工作情况统计表）",
        f"进展情况调度表：{dispatch_heading(numbers)}（专项行动开始日期 {cn_date(numbers['campaign_start'])}）",
        f"数据截至：{cn_datetime(numbers['data_as_of'])}",
        f"填报单位：{numbers['unit'] or '（未填）'}　　填报时间：{cn_date(numbers['filled_on'])}",
        "",
        "内容：",
        "  numbers.json — 全部统计数字（本辖区及各下级区划）",
        "  *_统计月报.xlsx — 防范遏制统计表（第12–14项）、进展情况调度表、工作情况统计表、分地区汇总、环比变化",
        "  下级区划/ — 各下级区划的统计表",
        "  地图/ — 各区划的安全风险四色分布图、重大事故隐患分布图（PNG 300dpi 与 PDF），及本辖区环比变化图",
        "",
        "统计口径：风险辨识为今年评估分级的风险点；“已整改”“已完成治理”为已验收销号；“本月”为累计中本月的部分；"
        "“其中”为其上一列的一部分；登记库无从得知的格子留空，不填0。",
        "区划：" + "、".join(f"{name}（{c}）" for c, name in regions),
    ]
    return "\n".join(lines) + "\n"


@sa.event.listens_for(Session, "before_flush")
def _refuse_archive_changes(session: Session, flush_context: Any, instances: Any) -> None:
    """An archived return is frozen: changing or deleting one through the ORM is refused.

    (The database refuses it as well for the application's role.)"""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, ReturnArchive) and (obj in session.deleted or session.is_modified(obj)):
            raise Forbidden("已归档的月报不能修改或删除；如需更正，请重新提交（新的归档）")


def submit_return(session: Session, code: str, period: metrics.Period, *, scope: Scope, style: MapStyle,
                  by: str, unit: str = "", paper: str = "A4", made_on: dt.date | None = None,
                  progress: Progress = _no_progress, actor: Actor | None = None) -> tuple[ReturnArchive, Bundle]:
    """Produce the return and freeze it in ``return_archive`` (flushed; the caller commits).

    The submission is written to the audit log as ``actor`` (default: the
    submitter's name, for the command line)."""
    if not by or not by.strip():
        raise Forbidden("提交月报需要填写提交人")
    bundle = build_bundle(session, code, period, scope=scope, style=style, unit=unit, by=by, paper=paper,
                          made_on=made_on, progress=progress)
    archive = ReturnArchive(
        region_code=code, period=period.month_start, submitted_by=by.strip(),
        data_as_of=dt.datetime.fromisoformat(bundle.numbers["data_as_of"]),
        numbers=bundle.numbers, bundle_zip=bundle.zip_bytes, bundle_sha256=bundle.sha256,
    )
    session.add(archive)
    session.flush()
    audit(session, actor or Actor(by.strip()), "submit", "return_archive", archive.id,
          after={"region": code, "period": _month(period), "submitted_by": archive.submitted_by,
                 "bundle_sha256": archive.bundle_sha256})
    LOGGER.info("return %s %s submitted by %s as archive %d", code, _month(period), by, archive.id)
    return archive, bundle


def archives(session: Session, code: str, period: metrics.Period, *, scope: Scope) -> list[ReturnArchive]:
    """The archived returns of region ``code`` for ``period``, latest first."""
    check_scope(code, scope)
    return list(session.scalars(
        sa.select(ReturnArchive)
        .where(ReturnArchive.region_code == code, ReturnArchive.period == period.month_start)
        .order_by(ReturnArchive.submitted_at.desc(), ReturnArchive.id.desc())
    ))


def get_archive(session: Session, archive_id: int, *, scope: Scope) -> ReturnArchive:
    """One archived return (:class:`NotFound` when unknown or outside the scope:
    the same answer, so another jurisdiction's archive ids are no oracle)."""
    archive = session.get(ReturnArchive, archive_id)
    try:
        check_scope(archive.region_code if archive is not None else "", scope)  # enterprise accounts: 403
        if archive is None:
            raise NotFound()
    except NotFound as err:
        raise NotFound(f"归档月报 {archive_id} 不存在") from err
    return archive


_ITEM_LABELS = {
    "enterprises": "企业（家）", "major_risks": "重大风险（处）", "major_found": "重大隐患（处）",
    "major_rectified": "已整改（处）", "prefecture_units": "市级单位（个）", "county_units": "县级单位（个）",
}


def flatten_numbers(numbers: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """Every figure of a return as ``(key, Chinese label, value)``."""
    dispatch = {key: label for _, key, label in DISPATCH_ITEMS}
    changes = dict(CHANGE_ITEMS)
    columns = {c.key: f"{c.title}（{c.unit}）" for c in TABLE_COLUMNS if c.answerable}
    items = {"item12": "第12项", "item13": "第13项", "item14": "第14项"}
    for r in numbers.get("regions", []):
        head = f"{r['name']}"
        for item, title in items.items():
            data = r["form000"][item]
            for k, v in data.items():
                if k == "groups":
                    for g in v:
                        for gk, gv in g.items():
                            if gk not in ("key", "name"):
                                yield (f"{r['code']}/{item}/{g['key']}/{gk}",
                                       f"{head}·{title}·{g['name']}·{_ITEM_LABELS.get(gk, gk)}", gv)
                elif k != "done":
                    label = "企业已绘制（个）" if item == "item14" and k == "enterprises" else _ITEM_LABELS.get(k, k)
                    yield f"{r['code']}/{item}/{k}", f"{head}·{title}·{label}", v
        for k, v in r["dispatch"].items():
            yield f"{r['code']}/dispatch/{k}", f"{head}·调度表·{dispatch.get(k, k)}", v
        for row in r["industry_table"]:
            for k, label in columns.items():
                yield (f"{r['code']}/table/{row['key']}/{k}", f"{head}·统计表·{row['label']}·{label}",
                       row["values"].get(k))
        for k, v in r["changes"].items():
            yield f"{r['code']}/changes/{k}", f"{head}·环比·{changes.get(k, k)}", v


def diff_numbers(archived: dict[str, Any], fresh: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures that differ: ``key``, ``label``, ``archived``, ``fresh`` (in the return's order)."""
    old = {k: (label, v) for k, label, v in flatten_numbers(archived)}
    new = {k: (label, v) for k, label, v in flatten_numbers(fresh)}
    out = []
    for key in list(old) + [k for k in new if k not in old]:
        (label, a) = old.get(key, (new.get(key, ("", None))[0], None))
        b = new.get(key, (label, None))[1]
        if a != b:
            out.append({"key": key, "label": label, "archived": a, "fresh": b})
    return out
