"""The 双重预防 pages over the hand-built register of tests/services/test_dual_prevention.py
(see its docstring for the counts)."""

from __future__ import annotations

import re

from services.test_dual_prevention import world  # noqa: F401  (the fixture)
from sqlalchemy import text


def _flat(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_overview_for_october_in_one_county(client, world):  # noqa: F811
    # 甲县 in October: 甲厂 22 of 35, 乙厂 0 of 31 → 22 / 66 = 33.3 %
    resp = client.get("/dual-prevention?region=539901&from=2026-10&to=2026-10")
    assert resp.status_code == 200
    page = _flat(resp.get_data(as_text=True))
    assert "33.3% 任务完成率（22 / 66）" in page
    assert "乙厂 539901 31 0 0.0%" in page and "甲厂 539901 35 22 62.9%" in page
    assert "丙厂" not in page.split("本月")[0]  # the other county is not in the table


def test_overview_rejects_a_bad_month(client, world):  # noqa: F811
    assert client.get("/dual-prevention?from=2026-13").status_code == 400


def test_enterprise_page_shows_the_chain(client, world):  # noqa: F811
    page = _flat(client.get(f"/enterprises/{world.jia}").get_data(as_text=True))
    assert "双重预防运行情况" in page
    assert "液氯储罐区泄漏（中毒和窒息）" in page and "每天" in page and "每周" in page and "每月" in page


def test_major_ledger_and_an_assignment(client, session, world):  # noqa: F811
    hazard = session.execute(text(
        "INSERT INTO hazard (enterprise_id, description, level, source, found_on, deadline)"
        " VALUES (:e, '液氯储罐未设紧急切断', 'major', 'inspection', '2026-10-02', '2026-12-31') RETURNING id"),
        {"e": world.jia}).scalar_one()
    page = _flat(client.get("/major-hazards").get_data(as_text=True))
    assert "液氯储罐未设紧急切断" in page and "延期申请：2026-12-03" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/major-hazards").get_data(as_text=True))
    resp = client.post(f"/major-hazards/{hazard}/actions",
                       data={"kind": "supervise", "doc_no": "州应急督〔2026〕1号", "decided_on": "2026-10-09",
                             "csrf_token": token.group(1) if token else ""})
    assert resp.status_code == 303
    page = _flat(client.get("/major-hazards").get_data(as_text=True))
    # 9 Oct (Fri) + 5 working days = 16 Oct; not published: overdue today
    assert "州应急督〔2026〕1号" in page and "挂牌公布：2026-10-16 已逾期" in page
