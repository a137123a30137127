"""Reading F: one word, one meaning.  The state an enterprise reports ("rectified") is
shown as 已整改待验收 and the signed-off one as 已验收销号 on the ledger page, in the API
and in the downloads; the bare 已整改 is the forms' word for signed off, so it never
names a state.  Register: ``test_return_hand_count`` (H06a is rectified, awaiting
verification; H06b is signed off)."""

from __future__ import annotations

import csv
import io
import re

from services.test_return_hand_count import build
from sqlalchemy import select

from geo_service import domain
from geo_service.models import Hazard


def test_the_rectified_state_reads_awaiting_verification_everywhere(client, session):
    assert domain.HAZARD_STATES["rectified"] == "已整改待验收" and domain.HAZARD_STATES["closed"] == "已验收销号"
    build(session)
    waiting = session.scalar(select(Hazard).where(Hazard.description == "H06a隐患"))
    closed = session.scalar(select(Hazard).where(Hazard.description == "H06b隐患"))
    page = client.get(f"/hazards/{waiting.id}").get_data(as_text=True)
    assert "已整改待验收" in re.search(r"<h1.*?</h1>", page, re.S).group(0)
    body = client.get(f"/api/hazards/{waiting.id}").get_json()
    assert (body.get("properties") or body)["state_name"] == "已整改待验收"
    rows = list(csv.DictReader(io.StringIO(client.get("/api/hazards?format=csv").data.decode("utf-8-sig"))))
    states = {r["隐患描述"]: r["整改状态"] for r in rows}
    assert states["H06a隐患"] == "已整改待验收" and states["H06b隐患"] == "已验收销号"
    assert "已整改" not in set(states.values())
    assert closed.state == domain.CLOSED_STATE
