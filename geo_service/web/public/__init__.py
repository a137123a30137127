"""The public surface: an enterprise's safety risk notice (安全风险公告), reached
without login from the QR code of its 风险告知卡.

It shows only what an enterprise must publish: its name and, for each risk
of 较大 and above, the risk point, its location, grade, likely accident type,
responsible person and the complaint phone.  The whole surface is behind the
``PUBLIC_NOTICE`` setting (on by default; off answers 404), and the address
carries a signed token, never a bare id.  The auth gate lists ``public.notice``
among its public endpoints.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from ... import domain
from ...db import get_session
from ...errors import NotFound
from ...models import Enterprise
from ...queries import zones as zq
from ...services.cards import notice_enterprise_id

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
    return render_template("public/notice.html", name=ent.name, complaint_phone=ent.complaint_phone,
                           hotline=current_app.config["SAFETY_HOTLINE"], rows=rows, palette=palette,
                           grades=domain.GRADE_BY_VALUE)
