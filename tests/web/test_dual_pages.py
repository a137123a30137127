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
    # missed windows: 乙厂 31, 甲厂 13; no 异常 (the tasks behind today depend on today's date:
    # tested at fixed times in tests/services/test_dual_prevention.py)
    assert "乙厂 539901 31 0 0.0% 31 0 " in page and "甲厂 539901 35 22 62.9% 13 0 " in page
    assert "44 期间漏检" in page
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


def test_review_rule_raise_shows_red_without_rewriting_the_grade(app, client, session, world):  # noqa: F811
    # 甲厂 (its unit is 橙) gets an open 重大隐患: it enters the review queue
    session.execute(text(
        "INSERT INTO hazard (enterprise_id, description, level, source, found_on)"
        " VALUES (:e, '液氯储罐区未设紧急切断', 'major', 'inspection', '2026-10-02')"), {"e": world.jia})
    page = _flat(client.get(f"/enterprises/{world.jia}").get_data(as_text=True))
    assert "待复核等级：未销号重大隐患 1 项" in page and "等级不自动调整" in page
    app.config["GRADE_REVIEW_RULE"] = "raise"
    page = _flat(client.get(f"/enterprises/{world.jia}").get_data(as_text=True))
    assert "复核期间显示为 红色（登记等级不变）" in page
    overview = _flat(client.get("/dual-prevention?region=539901").get_data(as_text=True))
    assert "甲厂 橙 · 较大风险 红 · 重大风险 1 0" in overview
    assert session.execute(text("SELECT grade FROM enterprise WHERE id = :e"), {"e": world.jia}).scalar_one() == 2


def test_overview_by_child_region(client, world):  # noqa: F811
    # under 测试州 in October: 甲县 22 / 66 (33.3 %), 乙县 31 / 31
    page = _flat(client.get("/dual-prevention?region=539900&from=2026-10&to=2026-10").get_data(as_text=True))
    assert "甲县 2 66 22 33.3% 0" in page and "乙县 1 31 31 100.0% 0" in page


def test_a_long_list_shows_its_worst_first_and_the_rest_on_request(client, world, monkeypatch):  # noqa: F811
    """A province has thousands of enterprises: the overview lists the worst ones and says how many there are."""
    from geo_service.web.dual import views

    monkeypatch.setattr(views, "LIST_LIMIT", 1)
    url = "/dual-prevention?region=539901&from=2026-10&to=2026-10"
    page = client.get(url).get_data(as_text=True)
    table = page.split('id="enterprises"')[1].split("</section>")[0]
    # 乙厂 (0.0 %) is worse than 甲厂 (62.9 %): only 乙厂, and the count of both
    assert "乙厂" in table and "甲厂" not in table
    assert "仅列出前 1 家（共 2 家）" in _flat(table)
    full = client.get(url + "&all=1").get_data(as_text=True).split('id="enterprises"')[1].split("</section>")[0]
    assert "乙厂" in full and "甲厂" in full and "仅列出前" not in full
