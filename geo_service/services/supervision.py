"""一单四制 for 重大事故隐患: 清单, 交办, 挂牌督办 with its statutory clocks, and 通报.

The clocks (settings, DOMAIN.md defaults):

* 挂牌公布 — a 挂牌督办 decision is published within ``publish_workdays`` (5)
  working days of the decision;
* 整改期限 — rectification within at most ``rectify_max_months`` (12) months
  of the decision; the hazard's own 整改期限 is the clock, and a deadline set
  beyond the statutory limit is flagged;
* 延期申请 — an extension is requested at least ``extension_workdays`` (20)
  working days before the deadline;
* 摘牌公布 — after 销号, the 摘牌 is published within ``delist_workdays`` (5)
  working days of the verification.

Working days skip Saturdays and Sundays and the dates in ``holidays``
(setting ``PUBLIC_HOLIDAYS``); make-up working weekends (调休) are not
modelled.  The arithmetic is numpy's business-day calendar.

The 销号 itself (with the separation of duties) is the hazard lifecycle's
(:mod:`geo_service.services.register`).  Nothing here imports flask.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import domain
from ..domain import Actor
from ..errors import Forbidden, InvalidParameter
from ..models import Enterprise, Hazard, MajorAction, Region
from ..queries.scope import Scope, enterprise_scope, region_clause
from .register import audit, load_hazard, snapshot

__all__ = [
    "ClockSettings",
    "Clock",
    "add_workdays",
    "add_months",
    "clocks",
    "record_action",
    "major_rows",
    "notice_rows",
    "NOTICE_TITLE",
    "notice_docx",
    "notice_pdf",
]

NOTICE_TITLE = "重大事故隐患治理情况通报"


@dataclass(frozen=True)
class ClockSettings:
    """The statutory clocks (working days skip weekends and ``holidays``)."""

    publish_workdays: int = 5
    rectify_max_months: int = 12
    extension_workdays: int = 20
    delist_workdays: int = 5
    holidays: tuple[dt.date, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ClockSettings:
        """The clocks from the application settings (keys ``SUPERVISION_*``, ``PUBLIC_HOLIDAYS``)."""
        return cls(int(config["SUPERVISION_PUBLISH_WORKDAYS"]),
                   int(config["SUPERVISION_RECTIFY_MAX_MONTHS"]),
                   int(config["SUPERVISION_EXTENSION_WORKDAYS"]),
                   int(config["SUPERVISION_DELIST_WORKDAYS"]),
                   tuple(dt.date.fromisoformat(str(d)) for d in config["PUBLIC_HOLIDAYS"]))


def add_workdays(day: dt.date, n: int, holidays: Sequence[dt.date] = ()) -> dt.date:
    """``n`` working days after ``day`` (before it for negative ``n``).

    A start on a weekend or holiday counts from the next working day (the
    previous one when going back).

    >>> add_workdays(dt.date(2026, 11, 27), 5)   # Friday + 5 → the next Friday
    datetime.date(2026, 12, 4)
    >>> add_workdays(dt.date(2026, 11, 28), 5)   # Saturday: from Monday
    datetime.date(2026, 12, 7)
    >>> add_workdays(dt.date(2026, 12, 31), -20)
    datetime.date(2026, 12, 3)
    >>> add_workdays(dt.date(2026, 9, 30), 1, [dt.date(2026, 10, d) for d in range(1, 8)])
    datetime.date(2026, 10, 8)
    """
    hol = np.array(list(holidays), dtype="datetime64[D]")
    roll = "forward" if n >= 0 else "backward"
    out = np.busday_offset(np.datetime64(day, "D"), n, roll=roll, holidays=hol)
    return dt.date.fromisoformat(str(out))


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (the month's last day when it is shorter).

    >>> add_months(dt.date(2026, 1, 31), 1), add_months(dt.date(2026, 3, 15), 12)
    (datetime.date(2026, 2, 28), datetime.date(2027, 3, 15))
    """
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return dt.date(year, month, min(day.day, (nxt - dt.timedelta(days=1)).day))


@dataclass(frozen=True)
class Clock:
    """One clock of a hazard: ``status`` is done / late (done after the due date) /
    pending / overdue; ``note`` says what is wrong or what is awaited."""

    key: str
    label: str
    due: dt.date
    done_on: dt.date | None
    status: str
    note: str = ""

    @property
    def status_name(self) -> str:
        return {"done": "按时", "late": "超时完成", "pending": "未到期", "overdue": "已逾期"}[self.status]


def _status(due: dt.date, done_on: dt.date | None, today: dt.date) -> str:
    if done_on is not None:
        return "done" if done_on <= due else "late"
    return "overdue" if today > due else "pending"


@dataclass
class _Actions:
    supervise: Any | None = None
    delist: Any | None = None
    extensions: list[Any] = field(default_factory=list)
    assignments: list[Any] = field(default_factory=list)


def _group(actions: Iterable[Any]) -> _Actions:
    out = _Actions()
    for a in sorted(actions, key=lambda a: (a.at, a.id)):
        if a.kind == "supervise":
            out.supervise = a
        elif a.kind == "delist":
            out.delist = a
        elif a.kind == "extension":
            out.extensions.append(a)
        elif a.kind == "assign":
            out.assignments.append(a)
    return out


def clocks(hazard: Mapping[str, Any], actions: Iterable[Any], today: dt.date, settings: ClockSettings) -> list[Clock]:
    """The statutory clocks of one 重大隐患 on ``today``.

    ``hazard`` needs ``state``, ``deadline``, ``rectified_on`` and
    ``verified_on``; ``actions`` are its ``major_action`` rows (``kind``,
    ``at``, ``decided_on``, ``published_on``, ``due_on``, ``id``).  Without a
    挂牌督办 only the deadline and extension clocks apply.
    """
    acts = _group(actions)
    hol = settings.holidays
    out: list[Clock] = []
    sup = acts.supervise
    deadline: dt.date | None = hazard["deadline"]
    finished = hazard["rectified_on"] if hazard["state"] in ("rectified", "closed") else None
    if sup is not None:
        due = add_workdays(sup.decided_on, settings.publish_workdays, hol)
        out.append(Clock("publish", "挂牌公布", due, sup.published_on, _status(due, sup.published_on, today)))
    limit = add_months(sup.decided_on, settings.rectify_max_months) if sup is not None else None
    if deadline is not None or limit is not None:
        due = deadline or limit
        assert due is not None
        note = ""
        if limit is not None and deadline is not None and deadline > limit:
            note = f"整改期限超过挂牌后 {settings.rectify_max_months} 个月（{limit.isoformat()}）"
        out.append(Clock("rectify", "整改期限", due, finished, _status(due, finished, today), note))
    if deadline is not None:
        due = add_workdays(deadline, -settings.extension_workdays, hol)
        asked = acts.extensions[0].at.date() if acts.extensions else None
        if asked is not None:
            out.append(Clock("extension", "延期申请", due, asked, _status(due, asked, today)))
        elif finished is None and today > due:
            out.append(Clock("extension", "延期申请", due, None, "overdue", "已过延期申请期限，须按期完成整改"))
        elif finished is None:
            out.append(Clock("extension", "延期申请", due, None, "pending", "如需延期，须在此日前申请"))
    if sup is not None and hazard["state"] == domain.CLOSED_STATE and hazard["verified_on"] is not None:
        due = add_workdays(hazard["verified_on"], settings.delist_workdays, hol)
        published = acts.delist.published_on if acts.delist is not None else None
        out.append(Clock("delist", "摘牌公布", due, published, _status(due, published, today)))
    return out


# --------------------------------------------------------------------------- actions

_ACTION_PERMISSION = {"assign": "verify", "supervise": "verify", "delist": "verify", "extension": "rectify"}


def _date(raw: Mapping[str, Any], key: str, label: str, *, required: bool) -> dt.date | None:
    value = raw.get(key)
    if value in (None, ""):
        if required:
            raise InvalidParameter(key, f"请填写{label}")
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as err:
        raise InvalidParameter(key, f"{label}应为日期（YYYY-MM-DD）") from err


def _str(raw: Mapping[str, Any], key: str, label: str, *, required: bool, limit: int = 100) -> str | None:
    text = str(raw.get(key) or "").strip()
    if not text:
        if required:
            raise InvalidParameter(key, f"请填写{label}")
        return None
    if len(text) > limit:
        raise InvalidParameter(key, f"{label}不能超过 {limit} 个字")
    return text


def record_action(session: Session, hazard_id: int, kind: str, raw: Mapping[str, Any], actor: Actor, *,
                  scope: Scope) -> MajorAction:
    """Record one 一单四制 step on a 重大隐患 (append-only, audited).

    * ``assign`` 交办: ``assignee`` (department or person) and ``due_on``;
    * ``supervise`` 挂牌督办: ``doc_no``, ``decided_on``, ``published_on`` (may follow later
      as a second supervise row: the latest one counts);
    * ``extension`` 延期申请: ``due_on`` (the deadline asked for) and ``note``;
    * ``delist`` 摘牌: ``doc_no``, ``published_on``; only after 销号.

    Regulators (``verify``) assign, supervise and delist; the enterprise
    (``rectify``) requests extensions.
    """
    if kind not in domain.MAJOR_ACTIONS:
        raise InvalidParameter("kind", f"未知操作，可选：{'、'.join(domain.MAJOR_ACTIONS.values())}")
    if not actor.may(_ACTION_PERMISSION[kind]):
        raise Forbidden(f"无权{domain.MAJOR_ACTIONS[kind]}")
    hz = load_hazard(session, hazard_id, scope=scope, write=True)
    if hz.level != "major":
        raise InvalidParameter("hazard", "一单四制只适用于重大事故隐患")
    values: dict[str, Any] = {"hazard_id": hz.id, "kind": kind, "actor": actor.name, "user_id": actor.user_id,
                              "note": _str(raw, "note", "说明", required=False, limit=2000)}
    if kind == "assign":
        values.update(assignee=_str(raw, "assignee", "承办部门或责任人", required=True),
                      due_on=_date(raw, "due_on", "办理期限", required=True))
    elif kind == "supervise":
        values.update(doc_no=_str(raw, "doc_no", "督办文号", required=True),
                      decided_on=_date(raw, "decided_on", "挂牌日期", required=True),
                      published_on=_date(raw, "published_on", "公布日期", required=False))
        if values["published_on"] and values["published_on"] < values["decided_on"]:
            raise InvalidParameter("published_on", "公布日期不能早于挂牌日期")
    elif kind == "extension":
        if hz.state not in domain.OVERDUE_STATES:
            raise InvalidParameter("kind", "隐患已整改或销号，无需延期")
        values.update(due_on=_date(raw, "due_on", "申请延期至", required=True))
        if hz.deadline is not None and values["due_on"] <= hz.deadline:
            raise InvalidParameter("due_on", "申请的期限应晚于现整改期限")
    else:  # delist
        if hz.state != domain.CLOSED_STATE:
            raise InvalidParameter("kind", "隐患验收销号后方可摘牌")
        values.update(doc_no=_str(raw, "doc_no", "摘牌文号", required=False),
                      published_on=_date(raw, "published_on", "公布日期", required=True))
    row = MajorAction(**values)
    session.add(row)
    session.flush()
    audit(session, actor, kind, "major_action", row.id, None, snapshot(row))
    return row


# --------------------------------------------------------------------------- the register of 重大隐患


def major_rows(session: Session, *, scope: Scope, region: str | None = None,
               states: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The 清单: every 重大隐患 in scope with its enterprise, county and actions (oldest first)."""
    county = sa.orm.aliased(Region)
    stmt = (
        sa.select(Hazard.id, Hazard.description, Hazard.state, Hazard.found_on, Hazard.deadline,
                  Hazard.rectified_on, Hazard.verified_on, Hazard.verifier, Hazard.resp_person,
                  Hazard.supervision_doc_no, Hazard.source, Enterprise.id.label("enterprise_id"),
                  Enterprise.name.label("enterprise_name"), county.name.label("county_name"))
        .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .join(county, county.code == sa.func.left(Enterprise.region_code, 6), isouter=True)
        .where(Hazard.level == "major", enterprise_scope(scope), region_clause(Enterprise.region_code, region))
        .order_by(Hazard.found_on, Hazard.id)
    )
    if states:
        stmt = stmt.where(Hazard.state.in_(states))
    rows = [dict(r) for r in session.execute(stmt).mappings()]
    by_id = {r["id"]: r for r in rows}
    for r in rows:
        r["actions"] = []
    if by_id:
        for a in session.scalars(sa.select(MajorAction).where(MajorAction.hazard_id.in_(list(by_id)))
                                 .order_by(MajorAction.at, MajorAction.id)):
            by_id[a.hazard_id]["actions"].append(a)
    return rows


def notice_rows(session: Session, month: dt.date, *, scope: Scope,
                region: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(overdue, closed) 重大隐患 of ``month`` for the 通报.

    Overdue: still being worked on (已登记/整改中) at the month's end with a
    deadline before that day... as the register stands now (a hazard rectified
    since is no longer listed).  Closed: 验收销号 within the month.
    """
    last = add_months(month.replace(day=1), 1) - dt.timedelta(days=1)
    rows = major_rows(session, scope=scope, region=region)
    overdue = [r for r in rows if r["state"] in domain.OVERDUE_STATES and r["deadline"] is not None
               and r["deadline"] < last]
    for r in overdue:
        r["overdue_days"] = (last - r["deadline"]).days
    closed = [r for r in rows if r["state"] == domain.CLOSED_STATE and r["verified_on"] is not None
              and month.replace(day=1) <= r["verified_on"] <= last]
    return overdue, closed


def _doc_no(r: Mapping[str, Any]) -> str:
    sup = [a for a in r["actions"] if a.kind == "supervise"]
    return sup[-1].doc_no if sup else (r["supervision_doc_no"] or "")


_OVERDUE_COLUMNS = ("序号", "企业名称", "所在县区", "隐患描述", "挂牌督办文号", "整改期限", "逾期天数")
_CLOSED_COLUMNS = ("序号", "企业名称", "所在县区", "隐患描述", "挂牌督办文号", "销号日期", "验收人")


def _tables(overdue: list[dict[str, Any]], closed: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...],
                                                                                       list[list[str]]]]:
    over = [[str(i), r["enterprise_name"], r["county_name"] or "", r["description"], _doc_no(r),
             r["deadline"].isoformat(), str(r["overdue_days"])] for i, r in enumerate(overdue, 1)]
    done = [[str(i), r["enterprise_name"], r["county_name"] or "", r["description"], _doc_no(r),
             r["verified_on"].isoformat(), r["verifier"] or ""] for i, r in enumerate(closed, 1)]
    return [(f"一、逾期未整改的重大事故隐患（{len(over)} 项）", _OVERDUE_COLUMNS, over),
            (f"二、本月验收销号的重大事故隐患（{len(done)} 项）", _CLOSED_COLUMNS, done)]


def _title(month: dt.date, unit: str) -> str:
    return f"{unit}{NOTICE_TITLE}（{month.year}年{month.month}月）"


def notice_docx(overdue: list[dict[str, Any]], closed: list[dict[str, Any]], *, month: dt.date, unit: str,
                issued_on: dt.date) -> bytes:
    """The 通报 as DOCX (A4 landscape): the month's overdue and closed 重大隐患."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm

    from .ledgers import _cell_text, _docx_font

    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _docx_font(title.add_run(_title(month, unit)), 18, bold=True)
    _docx_font(doc.add_paragraph().add_run(
        f"截至{month.year}年{month.month}月底，逾期未整改重大事故隐患 {len(overdue)} 项，"
        f"本月验收销号 {len(closed)} 项。现通报如下："), 12)
    for heading, columns, lines in _tables(overdue, closed):
        _docx_font(doc.add_paragraph().add_run(heading), 12, bold=True)
        table = doc.add_table(rows=1 + len(lines), cols=len(columns))
        table.style = "Table Grid"
        for j, c in enumerate(columns):
            _cell_text(table.cell(0, j), c, centre=True)
        for i, line in enumerate(lines, 1):
            for j, value in enumerate(line):
                _cell_text(table.cell(i, j), value)
    end = doc.add_paragraph()
    end.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _docx_font(end.add_run(f"{unit}\n{issued_on.year}年{issued_on.month}月{issued_on.day}日"), 12)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def notice_html(overdue: list[dict[str, Any]], closed: list[dict[str, Any]], *, month: dt.date, unit: str,
                issued_on: dt.date) -> str:
    """The 通报 as printable HTML (the PDF's source)."""
    e = html.escape
    parts = [f"<h1>{e(_title(month, unit))}</h1>",
             f"<p>截至{month.year}年{month.month}月底，逾期未整改重大事故隐患 {len(overdue)} 项，"
             f"本月验收销号 {len(closed)} 项。现通报如下：</p>"]
    for heading, columns, lines in _tables(overdue, closed):
        parts.append(f"<h2>{e(heading)}</h2><table><tr>" + "".join(f"<th>{e(c)}</th>" for c in columns) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(v)}</td>" for v in line) + "</tr>" for line in lines]
        parts.append("</table>")
    parts.append(f"<p class='sign'>{e(unit)}<br>{issued_on.year}年{issued_on.month}月{issued_on.day}日</p>")
    style = ("@page { size: A4 landscape; margin: 15mm; } body { font-family: 'Noto Sans CJK SC', sans-serif;"
             " font-size: 10.5pt; } h1 { text-align: center; font-size: 18pt; } h2 { font-size: 12pt; }"
             " table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #000;"
             " padding: 2pt 4pt; } .sign { text-align: right; margin-top: 24pt; }")
    return f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><style>{style}</style></head><body>" \
           + "".join(parts) + "</body></html>"


def notice_pdf(overdue: list[dict[str, Any]], closed: list[dict[str, Any]], *, month: dt.date, unit: str,
               issued_on: dt.date) -> bytes:
    """The 通报 as PDF (WeasyPrint, A4 landscape)."""
    from weasyprint import HTML

    return HTML(string=notice_html(overdue, closed, month=month, unit=unit, issued_on=issued_on)).write_pdf()
