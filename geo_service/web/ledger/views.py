"""Views of the ledger surface; thin: parse, call a query or a service, render."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from ... import domain, geo
from ...db import get_session
from ...errors import Conflict, Forbidden, InvalidParameter, NotFound
from ...models import Region
from ...queries import ledger as q
from ...queries.filters import Filters, parse_filters, parse_int, parse_page_number
from ...services import evidence as ev
from ...services import ledgers, register
from ...services.validation import RecordInvalid
from ..context import current_actor, current_scope, record_download
from ..map import basemap_config
from ..plantmap import plant_map_context
from . import bp
from .forms import (
    ENTERPRISE_FIELDS,
    HAZARD_EDIT_FIELDS,
    HAZARD_FIELDS,
    LEC_CHOICES,
    LS_CHOICES,
    RISK_POINT_FIELDS,
    TRANSITION_FORM_FIELDS,
    FormState,
    assess,
    calculator_options,
    record_errors,
    transition_fields,
    transition_precheck,
)

# The query names a "在地图上查看" link carries (the map reads the same names).
MAP_FILTER_NAMES = ("region", "industry", "grade", "hazard_level", "hazard_state", "overdue", "month")
# The ledger's own query names besides the common filters.
LEDGER_NAMES = ("region", "industry", "hazard_level", "hazard_source", "hazard_state", "overdue",
                "month", "found_from", "found_to", "q", "grade")
PER_PAGE_DEFAULT = 50
PER_PAGE_MAX = 200
# "Surroundings" on the enterprise page: other enterprises within this many metres.
SURROUNDINGS_RADIUS_M = 1000.0
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _today() -> dt.date:
    return dt.date.today()


def _filters(args: Mapping[str, str] | None = None) -> Filters:
    return parse_filters(args if args is not None else request.args,
                         max_bbox_area_deg2=current_app.config["MAX_BBOX_AREA_DEG2"])


def _query_string(names: tuple[str, ...], **changes: Any) -> str:
    """The current query string limited to ``names``, with ``changes`` applied (None drops)."""
    args = {k: v for k, v in request.args.items() if k in names and v != ""}
    for k, v in changes.items():
        if v is None or v == "":
            args.pop(k, None)
        else:
            args[k] = str(v)
    return urlencode(args)


def url_with(**changes: Any) -> str:
    """This page's URL with some query parameters changed (filters, sort and page kept)."""
    qs = _query_string(LEDGER_NAMES + ("sort", "dir", "page", "per_page"), **changes)
    return request.path + ("?" + qs if qs else "")


@bp.context_processor
def _template_helpers() -> dict[str, Any]:
    palette = {int(k): v for k, v in current_app.config["GRADE_COLORS"].items()}
    return {
        "url_with": url_with,
        "grades": {g.value: g for g in domain.GRADES},
        "palette": palette,
        "hazard_levels": domain.HAZARD_LEVELS,
        "hazard_states": domain.HAZARD_STATES,
        "hazard_sources": domain.HAZARD_SOURCES,
        "hazard_origins": domain.HAZARD_ORIGINS,
        "risk_methods": domain.RISK_METHODS,
        "major_criteria": domain.MAJOR_CRITERIA,
        # the vendored scripts the configured base map is drawn with (templates/ledger/_macros.html)
        "basemap_scripts": (basemap_config() or {}).get("scripts", []),
    }


def _map_json(**data: Any) -> str:
    """The JSON a page's small map reads (a ``type="application/json"`` block, not a script)."""
    palette = {int(k): v for k, v in current_app.config["GRADE_COLORS"].items()}
    return json.dumps({"palette": palette, "basemap": basemap_config(), **data}, ensure_ascii=False,
                      default=str).replace("</", "<\\/")


def _require(permission: str, message: str) -> None:
    """Refuse (403) a page whose form the caller could not submit, before anything is typed."""
    if not current_actor().may(permission):
        raise Forbidden(message)


def _choices() -> dict[str, Any]:
    session = get_session()
    industries = session.execute(q.industry_choices()).all()
    regions = session.execute(q.region_choices(scope=current_scope())).all()
    return {
        "industries": industries,
        "regions": regions,
        "industry_options": [(i.code, i.label) for i in industries],
        "region_options": [(r.code, f"{r.name}（{r.code}）") for r in regions],
    }


# --------------------------------------------------------------------------- enterprise


def _enterprise_or_404(enterprise_id: int) -> Any:
    row = get_session().execute(q.enterprise_detail(enterprise_id, scope=current_scope())).first()
    if row is None:  # missing or another jurisdiction's: the same answer, read or write
        raise NotFound(f"企业 {enterprise_id} 不存在或不在管辖范围内")
    return row


@bp.get("/enterprises/<int:enterprise_id>")
def enterprise_page(enterprise_id: int) -> str:
    """企业页：风险公告、风险点、隐患、周边小地图、历史记录。"""
    session, scope, today = get_session(), current_scope(), _today()
    row = _enterprise_or_404(enterprise_id)
    points = session.scalars(q.enterprise_risk_points(enterprise_id, scope=scope)).all()
    notice = session.scalars(q.enterprise_risk_points(enterprise_id, scope=scope, max_grade=2)).all()
    hazards = session.execute(q.enterprise_hazards(enterprise_id, scope=scope, as_of=today)).mappings().all()
    history = session.execute(q.enterprise_history(enterprise_id, scope=scope)).mappings().all()
    outline = session.execute(q.county_outline(enterprise_id, scope=scope)).first()
    around = session.execute(q.enterprise_surroundings(enterprise_id, scope=scope,
                                                       radius_m=SURROUNDINGS_RADIUS_M)).mappings().all()
    ent = row.Enterprise
    points_json = [{"lng": row.lng, "lat": row.lat, "name": ent.name, "grade": ent.grade, "main": True}]
    points_json += [{"lng": a["lng"], "lat": a["lat"], "name": a["name"], "grade": a["grade"],
                     "url": url_for("ledger.enterprise_page", enterprise_id=a["id"]),
                     "distance_m": round(a["distance_m"])} for a in around]
    map_data = _map_json(centre=[row.lng, row.lat], zoom=15, points=points_json,
                         outline=json.loads(outline.geojson) if outline else None,
                         radius_m=SURROUNDINGS_RADIUS_M)
    actor = current_actor()
    return render_template(
        "ledger/enterprise.html", row=row, ent=ent, points=points, notice=notice, hazards=hazards,
        history=history, around=around, map_data=map_data, today=today,
        radius_m=SURROUNDINGS_RADIUS_M, actor=actor,
        may_report=actor.may("report_hazard"), may_edit=actor.may("edit_register"),
        plant_map=plant_map_context(ent, row.lng, row.lat),
    )


@bp.route("/enterprises/new", methods=["GET", "POST"])
def enterprise_new() -> Any:
    """登记企业。"""
    _require("edit_register", "当前账号无权登记企业")
    state = FormState(values={n: "" for n in ENTERPRISE_FIELDS})
    datum = request.form.get("datum", "wgs84")
    status = 200
    if request.method == "POST":
        state = FormState.from_form(request.form, ENTERPRISE_FIELDS)
        if datum not in geo.DATUMS:
            raise InvalidParameter("datum", f"未知坐标系 {datum!r}")
        session = get_session()
        try:
            ent = register.create_enterprise(session, state.raw(), current_actor(), scope=current_scope(),
                                             datum=datum)
        except RecordInvalid as err:
            session.rollback()
            record_errors(state, "enterprises", err)
            status = 400
        else:
            session.commit()
            flash(f"已登记企业：{ent.name}")
            return redirect(url_for("ledger.enterprise_page", enterprise_id=ent.id), 303)
    scope = current_scope()
    region_code = scope.region or current_app.config["DEFAULT_REGION"] or ""
    outline = get_session().execute(q.region_outline(region_code, scope=scope)).first()
    map_data = _map_json(centre=None, zoom=9, points=[],
                         outline=json.loads(outline.geojson) if outline else None,
                         picker={"lng": "lng", "lat": "lat"})
    choices = _choices()
    regions = get_session().execute(q.region_choices(scope=current_scope(), holding_only=False)).all()
    choices["region_options"] = [(r.code, f"{r.name}（{r.code}）") for r in regions]
    return render_template("ledger/enterprise_form.html", form=state, datum=datum, datums=geo.DATUMS,
                           map_data=map_data, **choices), status


@bp.route("/enterprises/<int:enterprise_id>/risk-points/new", methods=["GET", "POST"])
def risk_point_new(enterprise_id: int) -> Any:
    """登记风险点（LEC / LS 计算器提出等级，服务器计算为准）。"""
    _require("edit_register", "当前账号无权登记风险点")
    row = _enterprise_or_404(enterprise_id)
    calc_names = tuple(f"lec_{k}" for k in LEC_CHOICES) + tuple(f"ls_{k}" for k in LS_CHOICES) + ("score",)
    names = RISK_POINT_FIELDS + calc_names
    state = FormState(values={n: "" for n in names})
    state.values["method"] = "LEC"
    proposed: int | None = None
    status = 200
    if request.method == "POST":
        state = FormState.from_form(request.form, names)
        cfg = current_app.config
        method = state.values.get("method", "")
        params, score, proposed, calc_errors = assess(
            method, state.values, lec_thresholds=tuple(cfg["LEC_THRESHOLDS"]),  # type: ignore[arg-type]
            ls_thresholds=tuple(cfg["LS_THRESHOLDS"]))  # type: ignore[arg-type]
        for name, message in calc_errors.items():
            state.add(name, message)
        raw: dict[str, Any] = state.raw(skip=calc_names)
        if params is not None:
            raw["method_params"] = params
            raw["score"] = str(score)
            if not raw.get("grade") and proposed is not None:
                raw["grade"] = str(proposed)
        elif state.values.get("score"):
            raw["score"] = state.values["score"]
        if state.ok:
            session = get_session()
            try:
                rp = register.create_risk_point(session, enterprise_id, raw, current_actor(),
                                                scope=current_scope())
            except RecordInvalid as err:
                session.rollback()
                record_errors(state, "risk-points", err)
            else:
                session.commit()
                flash(f"已登记风险点：{rp.name}（{domain.GRADE_BY_VALUE[rp.grade].name}）")
                return redirect(url_for("ledger.enterprise_page", enterprise_id=enterprise_id), 303)
        status = 400
    cfg = current_app.config
    palette = {int(k): v for k, v in cfg["GRADE_COLORS"].items()}
    calc = {"lec_thresholds": list(cfg["LEC_THRESHOLDS"]), "ls_thresholds": list(cfg["LS_THRESHOLDS"]),
            "grades": {g.value: [g.colour_name, g.name, palette[g.value]] for g in domain.GRADES}}
    lec_options, ls_options = calculator_options()
    return render_template("ledger/risk_point_form.html", row=row, form=state, proposed=proposed,
                           calc=calc, calc_json=json.dumps(calc), lec_options=lec_options,
                           ls_options=ls_options), status


# --------------------------------------------------------------------------- hazard ledger


def _page_args() -> tuple[int, int]:
    per_page = parse_int(request.args, "per_page", PER_PAGE_DEFAULT, minimum=1, maximum=PER_PAGE_MAX)
    return parse_page_number(request.args, per_page=per_page), per_page


def _sort_args() -> tuple[str, bool]:
    sort = request.args.get("sort") or "found_on"
    if sort not in q.SORT_KEYS:
        raise InvalidParameter("sort", f"未知排序字段，可选：{', '.join(q.SORT_KEYS)}")
    direction = request.args.get("dir") or "desc"
    if direction not in ("asc", "desc"):
        raise InvalidParameter("dir", "应为 asc 或 desc")
    return sort, direction == "desc"


@bp.get("/hazards")
def hazard_ledger() -> str:
    """隐患台账：筛选、排序、分页，顶部计数，导出附件4/附件5。"""
    session, scope, today = get_session(), current_scope(), _today()
    f = _filters()
    sort, descending = _sort_args()
    page, per_page = _page_args()
    counts = session.execute(q.hazard_counts(f, scope=scope, as_of=today)).one()
    pages = max(1, math.ceil(counts.total / per_page))
    rows = session.execute(
        q.hazard_rows(f, scope=scope, as_of=today, sort=sort, descending=descending)
        .limit(per_page).offset((page - 1) * per_page)
    ).mappings().all()
    map_qs = _query_string(MAP_FILTER_NAMES)
    export_qs = _query_string(LEDGER_NAMES)
    return render_template(
        "ledger/hazards.html", rows=rows, counts=counts, f=f, args=request.args, sort=sort,
        may_report=current_actor().may("report_hazard"), descending=descending, page=page, pages=pages, per_page=per_page, today=today,
        map_url="/map" + ("?" + map_qs if map_qs else ""), export_qs=export_qs,
        locate_url=lambda enterprise_id: "/map?" + _query_string(MAP_FILTER_NAMES, focus=enterprise_id),
        due_soon_days=current_app.config["DUE_SOON_DAYS"], **_choices(),
    )


def _export_meta(f: Filters) -> tuple[str, str]:
    """(填报单位, title prefix): the configured unit, else the filtered region's name."""
    region_name = ""
    if f.region is not None:
        region = get_session().get(Region, f.region)
        region_name = region.name if region is not None else ""
    unit = current_app.config["ISSUING_UNIT"] or region_name
    return unit, region_name


def _download(data: bytes, mimetype: str, name: str, *, attachment: bool = True) -> Response:
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=attachment, download_name=name)


@bp.get("/hazards/export/checklist.xlsx")
def export_checklist() -> Response:
    """附件4 重大事故隐患专项排查清单（当前筛选下的重大隐患）。"""
    session, today = get_session(), _today()
    f = _filters()
    rows = session.execute(q.hazard_rows(f, scope=current_scope(), as_of=today, sort="found_on",
                                         descending=False, level="major")).mappings().all()
    unit, prefix = _export_meta(f)
    data = ledgers.checklist_xlsx(rows, unit=unit, filled_on=today, title_prefix=prefix)
    record_download("checklist", "xlsx", len(rows))
    return _download(data, XLSX, f"{prefix}{ledgers.CHECKLIST_TITLE}_{today.isoformat()}.xlsx")


@bp.get("/hazards/export/worklog.xlsx")
def export_worklog() -> Response:
    """附件5 问题隐患排查整治工作台账（当前筛选下的隐患）。"""
    session, today = get_session(), _today()
    f = _filters()
    rows = session.execute(q.hazard_rows(f, scope=current_scope(), as_of=today, sort="found_on",
                                         descending=False)).mappings().all()
    unit, _prefix = _export_meta(f)
    data = ledgers.worklog_xlsx(rows, unit=unit, filled_on=today)
    record_download("worklog", "xlsx", len(rows))
    return _download(data, XLSX, f"{ledgers.WORKLOG_TITLE}_{today.isoformat()}.xlsx")


@bp.get("/hazards/overdue")
def overdue_list() -> str:
    """逾期与临期（DUE_SOON_DAYS 天内到期）隐患，按县区分组。"""
    session, today = get_session(), _today()
    f = _filters()
    days = int(current_app.config["DUE_SOON_DAYS"])
    rows = session.execute(q.deadline_watch(f, scope=current_scope(), as_of=today,
                                            due_soon_days=days)).mappings().all()
    groups: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = r["county_code"] or ""
        group = groups.setdefault(key, {"code": key, "name": r["county_name"] or "未落区",
                                        "overdue": [], "due_soon": []})
        group["overdue" if r["overdue"] else "due_soon"].append(r)
    totals = {"overdue": sum(len(g["overdue"]) for g in groups.values()),
              "due_soon": sum(len(g["due_soon"]) for g in groups.values())}
    return render_template("ledger/overdue.html", groups=list(groups.values()), totals=totals,
                           today=today, days=days, args=request.args, **_choices())


# --------------------------------------------------------------------------- hazards


def _hazard_or_404(hazard_id: int) -> Mapping[str, Any]:
    row = get_session().execute(q.hazard_detail(hazard_id, scope=current_scope(), as_of=_today())
                                ).mappings().first()
    if row is None:  # missing or another jurisdiction's: the same answer, read or write
        raise NotFound(f"隐患 {hazard_id} 不存在或不在管辖范围内")
    return row


def _steps(hazard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The transitions the current user may take from the hazard's state, each with
    the fields it may fill in (the field rules of its role and the hazard's origin).
    验收销号 is not offered to the account that recorded 整改完成."""
    actor = current_actor()
    writable = register.hazard_writable_fields(actor, hazard["origin"])
    out = []
    for (source, target), label in domain.TRANSITIONS.items():
        if source != hazard["state"] or not actor.may(domain.TRANSITION_PERMISSION[(source, target)]):
            continue
        if target == "closed" and register.self_signoff(actor, hazard["rectified_by_id"]):
            continue
        fields = tuple(f for f in TRANSITION_FORM_FIELDS[(source, target)] if f in writable)
        out.append({"source": source, "target": target, "label": label, "key": f"{source}-{target}",
                    "fields": fields})
    return out


def _step_defaults(hazard: Mapping[str, Any], step: dict[str, Any], today: dt.date) -> FormState:
    values = {name: "" for name in step["fields"]}
    for name in step["fields"]:
        value = hazard.get(name)
        if value is not None:
            values[name] = value.isoformat() if isinstance(value, dt.date) else str(value)
    for name in ("rectified_on", "verified_on"):
        if name in values and not values[name]:
            values[name] = today.isoformat()
    values["note"] = ""
    return FormState(values=values)


def _render_hazard(hazard_id: int, *, active: str | None = None, active_state: FormState | None = None,
                   upload: FormState | None = None, status: int = 200) -> tuple[str, int]:
    session, scope, today = get_session(), current_scope(), _today()
    hazard = _hazard_or_404(hazard_id)
    events = session.scalars(q.hazard_events(hazard_id, scope=scope)).all()
    evidence = session.scalars(q.hazard_evidence(hazard_id, scope=scope)).all()
    steps = _steps(hazard)
    actor = current_actor()
    forms = {s["key"]: _step_defaults(hazard, s, today) for s in steps}
    if active is not None and active_state is not None:
        forms[active] = active_state
    # errors of a step the page no longer offers (e.g. a refused sign-off) are shown above the steps
    step_errors = (active_state.general if active_state is not None and active not in {s["key"] for s in steps}
                   else [])
    outline = session.execute(q.county_outline(hazard["enterprise_id"], scope=scope)).first()
    map_data = _map_json(centre=[hazard["lng"], hazard["lat"]], zoom=15,
                         outline=json.loads(outline.geojson) if outline else None,
                         points=[{"lng": hazard["lng"], "lat": hazard["lat"], "name": hazard["enterprise_name"],
                                  "hazard_level": hazard["level"], "main": True}])
    return render_template(
        "ledger/hazard.html", h=hazard, events=events, evidence=evidence, steps=steps, forms=forms,
        active=active, today=today, map_data=map_data, evidence_kinds=ev.KINDS,
        upload=upload or FormState(values={"kind": "before"}),
        may_upload=actor.may("rectify") or actor.may("report_hazard"), actor=actor,
        own_rectification=(hazard["state"] == "rectified" and actor.may("verify")
                           and register.self_signoff(actor, hazard["rectified_by_id"])),
        signoff_needs_evidence=register.signoff_requirements(
            hazard["level"], evidence_for_general=current_app.config["SIGNOFF_EVIDENCE_GENERAL"]),
        step_errors=step_errors,
        may_edit=bool(actor.may("report_hazard") and register.hazard_writable_fields(actor, hazard["origin"])),
        overdue_days=domain.overdue_days(hazard["state"], hazard["deadline"], today),
    ), status


@bp.get("/hazards/<int:hazard_id>")
def hazard_page(hazard_id: int) -> tuple[str, int]:
    """隐患页：详情、时间线、佐证材料、可执行的整改流程操作。"""
    return _render_hazard(hazard_id)


@bp.post("/hazards/<int:hazard_id>/transition")
def hazard_transition(hazard_id: int) -> Any:
    """整改流程的一步（开始整改、整改完成、验收销号、退回整改）。"""
    hazard = _hazard_or_404(hazard_id)
    source = request.form.get("from_state", "")
    target = request.form.get("to_state", "")
    step = (source, target)
    if step not in domain.TRANSITIONS:
        raise InvalidParameter("to_state", "未知的整改流程操作")
    key = f"{source}-{target}"
    # a field the caller may not fill in is still read, so that the service refuses it (403)
    names = TRANSITION_FORM_FIELDS[step] + ("note",)
    state = FormState.from_form(request.form, names)
    version = parse_int(request.form, "version", 0, minimum=1)
    note = state.values.get("note", "")
    if hazard["state"] != source:
        state.general.append(
            f"该隐患当前状态为“{domain.HAZARD_STATES[hazard['state']]}”，已被他人处理，请查看最新记录")
        return _render_hazard(hazard_id, active=key, active_state=state, status=409)
    _require(domain.TRANSITION_PERMISSION[step], "当前账号无权执行此整改流程操作")
    shown = next((s["fields"] for s in _steps(hazard) if (s["source"], s["target"]) == step), ())
    transition_precheck(state, hazard, step, note, shown)
    if not state.ok:
        return _render_hazard(hazard_id, active=key, active_state=state, status=400)
    session = get_session()
    try:
        register.transition_hazard(session, hazard_id, target, current_actor(), scope=current_scope(),
                                   expected_version=version, note=note or None,
                                   fields=transition_fields(state, step),
                                   evidence_for_general=current_app.config["SIGNOFF_EVIDENCE_GENERAL"])
    except RecordInvalid as err:
        session.rollback()
        record_errors(state, "hazards", err)
        return _render_hazard(hazard_id, active=key, active_state=state, status=400)
    except Forbidden as err:  # a field or a step the account may not take: nothing written
        session.rollback()
        state.general.append(err.user_msg)
        return _render_hazard(hazard_id, active=key, active_state=state, status=403)
    except Conflict as err:  # IllegalTransition, VersionConflict
        session.rollback()
        state.general.append(err.user_msg)
        return _render_hazard(hazard_id, active=key, active_state=state, status=409)
    session.commit()
    flash(f"已{domain.TRANSITIONS[step]}")
    return redirect(url_for("ledger.hazard_page", hazard_id=hazard_id), 303)


@bp.post("/hazards/<int:hazard_id>/evidence")
def hazard_evidence_upload(hazard_id: int) -> Any:
    """上传佐证材料（照片、治理方案、验收记录…），类型与大小由证据服务检查。"""
    _hazard_or_404(hazard_id)
    state = FormState.from_form(request.form, ("kind",))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        state.add("file", "请选择要上传的文件")
        return _render_hazard(hazard_id, upload=state, status=400)
    session = get_session()
    max_bytes = int(current_app.config["MAX_EVIDENCE_MB"]) * 1024 * 1024
    try:
        row = ev.store_evidence(session, hazard_id, upload.stream, upload.filename, state.values["kind"],
                                current_actor(), scope=current_scope(),
                                upload_dir=current_app.config["UPLOAD_DIR"], max_bytes=max_bytes)
    except (InvalidParameter, ev.FileTooLarge) as err:
        session.rollback()
        name = err.extra.get("parameter", "file") if isinstance(err, InvalidParameter) else "file"
        state.add(name if name in ("kind", "file") else "file", err.extra.get("reason", err.user_msg))
        return _render_hazard(hazard_id, upload=state, status=err.http_status)
    finally:
        upload.close()
    session.commit()
    flash(f"已上传：{row.filename}")
    return redirect(url_for("ledger.hazard_page", hazard_id=hazard_id) + "#evidence", 303)


class _PhotoRefused(Exception):
    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


def _store_photo(session: Any, hazard_id: int, photo: Any) -> None:
    """The photo taken on site, stored with the new hazard in the same post (整改前照片)."""
    max_bytes = int(current_app.config["MAX_EVIDENCE_MB"]) * 1024 * 1024
    try:
        ev.store_evidence(session, hazard_id, photo.stream, photo.filename, "before", current_actor(),
                          scope=current_scope(), upload_dir=current_app.config["UPLOAD_DIR"], max_bytes=max_bytes)
    except (InvalidParameter, ev.FileTooLarge) as err:
        raise _PhotoRefused(err.extra.get("reason", err.user_msg), err.http_status) from err


@bp.route("/hazards/new", methods=["GET", "POST"])
def hazard_new() -> Any:
    """登记隐患（位置在小地图上选取，或取企业位置）。"""
    _require("report_hazard", "当前账号无权登记隐患")
    session, scope, today = get_session(), current_scope(), _today()
    actor = current_actor()
    enterprise_arg = request.values.get("enterprise", "")
    if not enterprise_arg.strip().isdigit():
        term = (request.args.get("q") or "").strip()
        matches = session.execute(q.enterprise_search(term, scope=scope)).all() if term else []
        return render_template("ledger/hazard_pick.html", term=term, matches=matches)
    enterprise_id = int(enterprise_arg)
    row = _enterprise_or_404(enterprise_id)
    creatable = register.hazard_writable_fields(actor, None)
    sources = {k: v for k, v in domain.HAZARD_SOURCES.items()
               if k in domain.HAZARD_CREATE_SOURCES.get(actor.role, tuple(domain.HAZARD_SOURCES))}
    state = FormState(values={n: "" for n in HAZARD_FIELDS})
    state.values.update(found_on=today.isoformat(), level="general",
                        source="inspection" if "inspection" in sources else next(iter(sources)))
    own_location = False
    datum = "wgs84"
    status = 200
    if request.method == "POST":
        state = FormState.from_form(request.form, HAZARD_FIELDS)
        own_location = request.form.get("own_location") == "1"
        datum = request.form.get("datum", "wgs84")
        if datum not in geo.DATUMS:
            raise InvalidParameter("datum", f"未知坐标系 {datum!r}")
        skip = () if own_location else ("lng", "lat")
        photo = request.files.get("photo")
        try:
            hz = register.create_hazard(session, enterprise_id, state.raw(skip=skip), actor,
                                        scope=scope, datum=datum)
            if photo is not None and photo.filename:
                _store_photo(session, hz.id, photo)
        except RecordInvalid as err:
            session.rollback()
            record_errors(state, "hazards", err)
            status = 400
        except _PhotoRefused as err:
            session.rollback()
            state.add("photo", err.reason)
            status = err.status
        else:
            session.commit()
            flash("隐患已登记")
            return redirect(url_for("ledger.hazard_page", hazard_id=hz.id), 303)
        finally:
            if photo is not None:
                photo.close()
    outline = session.execute(q.county_outline(enterprise_id, scope=scope)).first()
    map_data = _map_json(centre=[row.lng, row.lat], zoom=16,
                         outline=json.loads(outline.geojson) if outline else None,
                         points=[{"lng": row.lng, "lat": row.lat, "name": row.Enterprise.name,
                                  "grade": row.Enterprise.grade, "main": True}],
                         picker={"lng": "lng", "lat": "lat", "toggle": "own_location"})
    return render_template("ledger/hazard_form.html", row=row, form=state, own_location=own_location,
                           datum=datum, datums=geo.DATUMS, map_data=map_data, creatable=creatable,
                           sources=sources, actor=current_actor()), status


def _form_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


@bp.route("/hazards/<int:hazard_id>/edit", methods=["GET", "POST"])
def hazard_edit(hazard_id: int) -> Any:
    """修改隐患：只显示本账号按角色和登记方可以修改的字段（状态走整改流程）。"""
    _require("report_hazard", "当前账号无权修改隐患")
    actor = current_actor()
    hazard = _hazard_or_404(hazard_id)
    writable = register.hazard_writable_fields(actor, hazard["origin"])
    names = tuple(n for n in HAZARD_EDIT_FIELDS if n in writable)
    if not names:
        raise Forbidden("当前账号无权修改该隐患的任何字段")
    current = {n: _form_value(hazard[n]) for n in HAZARD_EDIT_FIELDS if n not in ("lng", "lat")}
    own = hazard["own_location"]
    current.update({n: _form_value(hazard[n]) if own else "" for n in ("lng", "lat")})
    state = FormState(values={n: current[n] for n in names})
    status = 200
    if request.method == "POST":
        # a field the page did not offer is still read, so that the service refuses it (403)
        posted = tuple(n for n in HAZARD_EDIT_FIELDS if n in names or n in request.form)
        state = FormState.from_form(request.form, posted)
        # only what was changed is sent: an unchanged field is not an edit
        raw = {k: v for k, v in state.values.items() if v != current[k]}
        if "lng" in raw or "lat" in raw:
            raw.update({k: state.values[k] for k in ("lng", "lat") if k in posted})
        version = parse_int(request.form, "version", 0, minimum=1)
        session = get_session()
        try:
            if raw:
                register.update_hazard(session, hazard_id, raw, actor, scope=current_scope(),
                                       expected_version=version)
        except RecordInvalid as err:
            session.rollback()
            record_errors(state, "hazards", err)
            status = 400
        except Conflict as err:  # VersionConflict
            session.rollback()
            state.general.append(err.user_msg)
            status = 409
        else:
            session.commit()
            flash("已保存修改" if raw else "没有修改")
            return redirect(url_for("ledger.hazard_page", hazard_id=hazard_id), 303)
    return render_template("ledger/hazard_edit.html", h=hazard, form=state, names=names,
                           labels=domain.HAZARD_FIELD_LABELS,
                           sources=[(k, v) for k, v in domain.HAZARD_SOURCES.items()]), status


@bp.get("/hazards/<int:hazard_id>/ledger.pdf")
def major_record_pdf(hazard_id: int) -> Response:
    """附件6 重大事故隐患整改台账（PDF，A4 一页）。"""
    today = _today()
    record = ledgers.major_record(get_session(), hazard_id, scope=current_scope(), as_of=today)
    data = ledgers.major_record_pdf(record, unit=current_app.config["ISSUING_UNIT"], filled_on=today)
    record_download("major_record", "pdf", 1, object_id=hazard_id)
    return _download(data, "application/pdf", f"{ledgers.MAJOR_TITLE}_{hazard_id}.pdf", attachment=False)


@bp.get("/hazards/<int:hazard_id>/ledger.docx")
def major_record_docx(hazard_id: int) -> Response:
    """附件6 重大事故隐患整改台账（DOCX）。"""
    today = _today()
    record = ledgers.major_record(get_session(), hazard_id, scope=current_scope(), as_of=today)
    data = ledgers.major_record_docx(record, unit=current_app.config["ISSUING_UNIT"], filled_on=today)
    record_download("major_record", "docx", 1, object_id=hazard_id)
    return _download(data, DOCX, f"{ledgers.MAJOR_TITLE}_{hazard_id}.docx")
