"""Views of the 双重预防 surface; thin: parse, call a query or a service, render."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, send_file, url_for

from ... import domain
from ...db import get_session
from ...errors import InvalidParameter, NotFound
from ...queries import dual_prevention as q
from ...queries import metrics
from ...queries.scope import Scope
from ...services import inspections, supervision
from ...services.evidence import FileTooLarge
from ..context import current_actor, current_scope
from . import bp

LIST_LIMIT = 50  # rows of each long list (overview, overdue enterprises) before "显示全部"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _now() -> dt.datetime:
    return dt.datetime.now(q.CST)


def _month_arg(name: str, default: dt.date) -> dt.date:
    value = (request.args.get(name) or "").strip()
    if not value:
        return default
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", value)
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise InvalidParameter(name, "月份格式应为 YYYY-MM")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def _region_arg() -> str | None:
    value = (request.args.get("region") or "").strip()
    if value and not re.fullmatch(r"[0-9]{6}([0-9]{3}([0-9]{3})?)?", value):
        raise InvalidParameter("region", "地区代码应为 6、9 或 12 位数字")
    return value or None


def _rate(done: int, due: int) -> float | None:
    """任务完成率 in per cent, rounded as every rate of the register (:func:`metrics.rate`)."""
    return metrics.rate(done, due)


@bp.app_context_processor
def _vocabulary() -> dict[str, Any]:
    # app-wide: the enterprise page (ledger surface) shows the 双重预防 panel too
    return {"cycle_units": domain.CYCLE_UNITS, "measure_kinds": domain.MEASURE_KINDS,
            "measure_levels": domain.MEASURE_LEVELS, "major_actions": domain.MAJOR_ACTIONS}


@bp.context_processor
def _ledger_helpers() -> dict[str, Any]:
    # what templates/ledger/_macros.html reads
    return {"grades": {g.value: g for g in domain.GRADES},
            "palette": {int(k): v for k, v in current_app.config["GRADE_COLORS"].items()},
            "hazard_states": domain.HAZARD_STATES, "hazard_levels": domain.HAZARD_LEVELS}


# --------------------------------------------------------------------------- 今日排查


def _task_enterprise(scope: Scope) -> int | None:
    """The enterprise whose 今日排查 is asked for: the account's own, else ``enterprise``
    (None: a regulator's overview of his jurisdiction)."""
    if scope.enterprise_id is not None:
        return scope.enterprise_id
    arg = (request.args.get("enterprise") or "").strip()
    if not arg:
        return None
    if not arg.isdigit() or not 0 < int(arg) < 2**31:
        raise InvalidParameter("enterprise", "应为企业编号")
    return int(arg)


def _may_record() -> bool:
    """排查记录 are the enterprise's own: recorded by its accounts; anyone else sees the list read-only."""
    return current_scope().enterprise_id is not None and current_actor().may("report_hazard")


def _render_overdue() -> tuple[str, int]:
    """A regulator's 今日排查: the enterprises of his jurisdiction with overdue tasks, worst first."""
    session, scope, now = get_session(), current_scope(), _now()
    region = _region_arg()
    rows = session.execute(q.overdue_enterprises(scope, as_of=now, region=region)).mappings().all()
    return render_template(
        "dual/today_overdue.html", rows=rows, now=now, region=region or "", limit=LIST_LIMIT,
        show_all=request.args.get("all") == "1",
        all_url=url_for("dual.today", **{**request.args.to_dict(), "all": "1"})), 200


def _render_today(enterprise_id: int, *, error: str | None = None, status: int = 200) -> tuple[str, int]:
    session, scope, now = get_session(), current_scope(), _now()
    tasks = session.execute(q.today_tasks(scope, as_of=now, enterprise_id=enterprise_id)).mappings().all()
    name = tasks[0]["enterprise_name"] if tasks else None
    if name is None:
        row = session.execute(q.enterprise_name(enterprise_id, scope=scope)).first()
        if row is None:
            raise NotFound(f"企业 {enterprise_id} 不存在或不在管辖范围内")
        name = row.name
    return render_template("dual/today.html", tasks=tasks, enterprise_id=enterprise_id, enterprise_name=name,
                           now=now, error=error, may_record=_may_record()), status


def _id_arg(values: Any, name: str) -> int | None:
    """An optional positive id ``name`` of ``values`` (query string or form)."""
    value = (values.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit() or not 0 < int(value) < 2**31:
        raise InvalidParameter(name, "应为正整数编号")
    return int(value)


def unit_args(values: Any) -> tuple[int | None, int | None]:
    """``unit`` (a risk point) or ``zone`` (a risk zone) named by a 风险告知卡's QR code."""
    unit, zone = _id_arg(values, "unit"), _id_arg(values, "zone")
    if unit is not None and zone is not None:
        raise InvalidParameter("zone", "unit 与 zone 只能给出一个")
    return unit, zone


def unit_task_rows(unit: int | None, zone: int | None) -> tuple[Any, list[Any]]:
    """The unit's (or zone's) name row and its tasks, in the caller's scope (name row None: not found)."""
    session, scope = get_session(), current_scope()
    row = session.execute(q.unit_name(scope, unit_id=unit, zone_id=zone)).first()
    if row is None:
        return None, []
    return row, session.execute(q.unit_tasks(scope, as_of=_now(), unit_id=unit, zone_id=zone)).mappings().all()


def _render_unit(unit: int | None, zone: int | None, *, error: str | None = None,
                 status: int = 200) -> tuple[str, int]:
    row, tasks = unit_task_rows(unit, zone)
    if row is None:
        raise NotFound("该风险单元不存在或不在管辖范围内")
    name = get_session().execute(q.enterprise_name(row.enterprise_id, scope=current_scope())).one().name
    return render_template("dual/today.html", tasks=tasks, enterprise_id=row.enterprise_id, enterprise_name=name,
                           unit_label=("风险区域 " if zone else "") + row.name, back_unit=unit, back_zone=zone,
                           now=_now(), error=error, may_record=_may_record()), status


@bp.get("/inspections/today")
def today() -> tuple[str, int]:
    """今日排查：今天到期和已逾期的排查任务（手机上两下完成一项）；``unit``/``zone``：风险告知卡
    二维码所指单元的全部排查任务；没有企业的账号：辖区内有逾期任务的企业（只读）。"""
    unit, zone = unit_args(request.args)
    if unit is not None or zone is not None:
        return _render_unit(unit, zone)
    enterprise_id = _task_enterprise(current_scope())
    if enterprise_id is None:
        return _render_overdue()
    return _render_today(enterprise_id)


def _coordinate(name: str) -> float | None:
    value = (request.form.get(name) or "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError as err:
        raise InvalidParameter(name, "位置应为数字") from err


@bp.post("/inspections/tasks/<int:task_id>/record")
def record(task_id: int) -> Any:
    """记录一次排查：正常，或异常（须拍照，自动生成隐患）。"""
    session, scope = get_session(), current_scope()
    task = inspections.load_task(session, task_id, scope=scope, write=True)
    enterprise_id = task.enterprise_id
    unit, zone = unit_args(request.form)  # recorded from a unit's list: back to it
    upload = request.files.get("photo")
    has_photo = upload is not None and bool(upload.filename)
    result = request.form.get("result") or ("abnormal" if has_photo else "")
    max_bytes = int(current_app.config["MAX_EVIDENCE_MB"]) * 1024 * 1024
    try:
        rec, hazard_id = inspections.record_inspection(
            session, task_id, result, current_actor(), scope=scope, note=request.form.get("note"),
            lng=_coordinate("lng"), lat=_coordinate("lat"),
            photo=upload.stream if has_photo and upload is not None else None,
            photo_name=upload.filename if has_photo and upload is not None else None,
            upload_dir=current_app.config["UPLOAD_DIR"], max_bytes=max_bytes)
    except (InvalidParameter, FileTooLarge) as err:
        session.rollback()
        reason = err.extra.get("reason", err.user_msg)
        if unit is not None or zone is not None:
            return _render_unit(unit, zone, error=reason, status=err.http_status)
        return _render_today(enterprise_id, error=reason, status=err.http_status)
    finally:
        if upload is not None:
            upload.close()
    session.commit()
    if hazard_id is not None:
        flash(f"已记录异常，已生成隐患 #{hazard_id}", "hazard:" + url_for("ledger.hazard_page", hazard_id=hazard_id))
    else:
        flash("已记录：正常")
    if unit is not None or zone is not None:
        target = url_for("dual.today", unit=unit, zone=zone)
    else:
        target = url_for("dual.today")
        if current_scope().enterprise_id is None:
            target += f"?enterprise={enterprise_id}"
    return redirect(target, 303)


# --------------------------------------------------------------------------- 运行效果


def enterprise_panel(enterprise_id: int) -> dict[str, Any]:
    """This month's figures of one enterprise for its page (see ``dual/_panel.html``)."""
    session, scope, now = get_session(), current_scope(), _now()
    month = now.date().replace(day=1)
    total = session.execute(q.completion_total(scope, first_month=month, last_month=month, as_of=now,
                                               enterprise_id=enterprise_id)).mappings().one()
    overdue = session.execute(q.overdue_task_counts(scope, as_of=now, enterprise_id=enterprise_id)).first()
    chain = session.execute(q.enterprise_chain(enterprise_id, scope=scope)).mappings().all()
    share = session.execute(q.self_found_share(scope, found_from=month, found_to=now.date(),
                                               enterprise_id=enterprise_id)).one()
    review = session.execute(q.review_queue(scope, enterprise_id=enterprise_id)).mappings().first()
    rule = current_app.config["GRADE_REVIEW_RULE"]
    return {"review": review, "review_rule": rule,
            "shown_grade": q.displayed_grade(review["grade"], True, rule) if review else None,
            "month": month, "due": total["due"], "done": total["done"], "abnormal": total["abnormal"],
            "rate": _rate(total["done"], total["due"]), "tasks": overdue.tasks if overdue else 0,
            "overdue": overdue.overdue if overdue else 0, "chain": chain, "share": share}


@bp.get("/dual-prevention")
def overview() -> str:
    """双重预防运行效果：任务完成率、逾期任务、本月无记录企业、自查隐患占比、待复核等级。"""
    session, scope, now = get_session(), current_scope(), _now()
    this_month = now.date().replace(day=1)
    first = _month_arg("from", this_month)
    last = _month_arg("to", first)
    if last < first:
        raise InvalidParameter("to", "结束月份不能早于开始月份")
    region = _region_arg()
    rows = [dict(r) for r in session.execute(q.completion_by_enterprise(
        scope, first_month=first, last_month=last, as_of=now, region=region)).mappings()]
    overdue = {r.enterprise_id: r.overdue for r in session.execute(q.overdue_task_counts(scope, as_of=now,
                                                                                          region=region))}
    for r in rows:
        r["rate"] = _rate(r["done"], r["due"])
        r["overdue"] = overdue.get(r["enterprise_id"], 0)
    rows.sort(key=lambda r: (r["rate"] if r["rate"] is not None else 200.0, r["name"]))
    due, done = sum(r["due"] for r in rows), sum(r["done"] for r in rows)
    silent = session.execute(q.silent_enterprises(scope, month=this_month, region=region)).all()
    last_day = min(supervision.add_months(last, 1) - dt.timedelta(days=1), now.date())
    share = session.execute(q.self_found_share(scope, found_from=first, found_to=last_day, region=region)).one()
    parent = region or current_scope().region
    by_region = []
    if parent is not None:
        by_region = [dict(r, rate=_rate(r["done"], r["due"])) for r in session.execute(q.completion_by_region(
            scope, parent=parent, first_month=first, last_month=last, as_of=now)).mappings()]
    rule = current_app.config["GRADE_REVIEW_RULE"]
    review = [dict(r, shown=q.displayed_grade(r["grade"], True, rule))
              for r in session.execute(q.review_queue(scope, region=region)).mappings()]
    return render_template(
        "dual/overview.html", rows=rows, due=due, done=done, rate=_rate(done, due),
        overdue_total=sum(overdue.values()), silent=silent, share=share, review=review,
        self_rate=metrics.rate(share.self_found, share.total), by_region=by_region,
        review_rule=rule, first=first, last=last,
        region=region or "", this_month=this_month, now=now,
        # a province has thousands of enterprises: the worst LIST_LIMIT of each list, the rest on request
        limit=LIST_LIMIT, show_all=request.args.get("all") == "1",
        all_url=url_for("dual.overview", **{**request.args.to_dict(), "all": "1"}))


# --------------------------------------------------------------------------- 一单四制


def _settings() -> supervision.ClockSettings:
    return supervision.ClockSettings.from_config(current_app.config)


@bp.get("/major-hazards")
def major_ledger() -> str:
    """一单四制：重大事故隐患清单，交办、挂牌督办、延期与摘牌，各法定时限的到期与逾期。"""
    session, today = get_session(), _now().date()
    settings = _settings()
    show = request.args.get("show", "open")
    states = domain.OPEN_STATES if show == "open" else None
    rows = supervision.major_rows(session, scope=current_scope(), region=_region_arg(), states=states)
    for r in rows:
        r["clocks"] = supervision.clocks(r, r["actions"], today, settings)
        r["overdue"] = domain.is_overdue(r["state"], r["deadline"], today)
    return render_template("dual/major.html", rows=rows, today=today, show=show, settings=settings,
                           actor=current_actor(), month=today.replace(day=1))


@bp.post("/major-hazards/<int:hazard_id>/actions")
def major_action(hazard_id: int) -> Any:
    """记录一单四制的一步（交办、挂牌督办、延期申请、摘牌）。"""
    session = get_session()
    kind = request.form.get("kind", "")
    raw = {k: request.form.get(k) for k in ("assignee", "due_on", "doc_no", "decided_on", "published_on", "note")}
    try:
        supervision.record_action(session, hazard_id, kind, raw, current_actor(), scope=current_scope())
    except InvalidParameter as err:
        session.rollback()
        flash(f"未记录：{err.extra.get('reason', err.user_msg)}")
        return redirect(url_for("dual.major_ledger", show="all") + f"#h{hazard_id}", 303)
    session.commit()
    flash(f"已记录{domain.MAJOR_ACTIONS[kind]}")
    return redirect(url_for("dual.major_ledger", show="all") + f"#h{hazard_id}", 303)


def _notice() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dt.date, str]:
    today = _now().date()
    month = _month_arg("month", today.replace(day=1))
    overdue, closed = supervision.notice_rows(get_session(), month, scope=current_scope(), region=_region_arg())
    return overdue, closed, month, current_app.config["ISSUING_UNIT"]


@bp.get("/major-hazards/notice.docx")
def notice_docx() -> Response:
    """通报（DOCX）：当月逾期未整改和验收销号的重大事故隐患。"""
    overdue, closed, month, unit = _notice()
    data = supervision.notice_docx(overdue, closed, month=month, unit=unit, issued_on=_now().date())
    return send_file(io.BytesIO(data), mimetype=DOCX, as_attachment=True,
                     download_name=f"{supervision.NOTICE_TITLE}_{month:%Y-%m}.docx")


@bp.get("/major-hazards/notice.pdf")
def notice_pdf() -> Response:
    """通报（PDF）。"""
    overdue, closed, month, unit = _notice()
    data = supervision.notice_pdf(overdue, closed, month=month, unit=unit, issued_on=_now().date())
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=False,
                     download_name=f"{supervision.NOTICE_TITLE}_{month:%Y-%m}.pdf")


