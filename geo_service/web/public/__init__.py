"""The public surface: an enterprise's safety risk notice (安全风险公告), reached
without login from the QR code of its 风险告知卡.

It shows only what an enterprise must publish: its name and, for each risk
of 较大 and above, the risk point, its location, grade, likely accident type,
responsible person and the complaint phone.  The whole surface is behind the
``PUBLIC_NOTICE`` setting (on by default; off answers 404), and the address
carries a signed token, never a bare id.  A card's QR code adds its unit
(``unit=`` a risk point, ``zone=`` a risk zone): the enterprise's own signed-in
user then also sees that unit's inspection tasks, recordable in two taps.  The auth gate lists ``public.notice``
among its public endpoints.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request

from ... import domain
from ...db import get_session
from ...errors import InvalidParameter, NotFound
from ...models import Enterprise
from ...queries import zones as zq
from ...services.cards import notice_enterprise_id
from ..context import current_actor, current_scope
from ..dual.views import unit_args, unit_task_rows

__all__ = ["bp"]

bp = Blueprint("public", __name__)


@bp.get("/notice/<token>")
def notice(token: str) -> str:
    """企业安全风险公告（公开，无需登录）。"""
    if not current_app.config["PUBLIC_NOTICE"]:
        raise NotFound("页面不存在")
    enterprise_id = notice_enterprise_id(current_app.config["SECRET_KEY"], token)
    session = get_session()
    ent = session.get(Enterprise, enterprise_id) if enterprise_id is not None else None
    if ent is None:
        raise NotFound("页面不存在")
    rows = session.execute(zq.public_notice_points(ent.id)).mappings().all()
    palette = {int(k): v for k, v in current_app.config["GRADE_COLORS"].items()}
    unit_row, tasks = _own_unit_tasks(ent.id)
    return render_template("public/notice.html", name=ent.name, complaint_phone=ent.complaint_phone,
                           hotline=current_app.config["SAFETY_HOTLINE"], rows=rows, palette=palette,
                           grades=domain.GRADE_BY_VALUE, unit_row=unit_row, tasks=tasks,
                           may_record=current_actor().may("report_hazard"))


def _own_unit_tasks(enterprise_id: int) -> tuple[Any, list[Any]]:
    """The tasks of the unit the card's QR code names (``unit``/``zone``), for the enterprise's
    own signed-in user only.  Anyone else gets the public notice alone, whatever the
    parameters say (no lookup is made, so they reveal nothing)."""
    if current_scope().enterprise_id != enterprise_id:
        return None, []
    try:
        unit, zone = unit_args(request.args)
    except InvalidParameter:
        return None, []
    if unit is None and zone is None:
        return None, []
    return unit_task_rows(unit, zone)
