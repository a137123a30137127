"""The 双重预防 figures on the map: 任务完成率 as a district heat metric and in the
indicator strip, and the enterprise layers drawn "as of" the end of a month.

The register is the hand-built world of ``services/test_dual_prevention.py``;
its October counts, worked out there by hand (seen after the month is over):
甲县 (539901) 甲厂 due 35 done 22, 乙厂 due 31 done 0; 乙县 (539902) 丙厂 due 31
done 31.
"""

from __future__ import annotations

import pytest
from services.test_dual_prevention import build


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    return build(session)


def test_task_completion_is_a_district_heat_metric(client, world):  # type: ignore[no-untyped-def]
    resp = client.get("/map/districts.geojson?region=539900&metric=task_completion_rate&month=2026-10&zoom=9")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    body = resp.get_json()
    assert body["metric_title"].startswith("任务完成率") and body["task_month"] == "2026-10"
    got = {f["properties"]["name"]: f["properties"] for f in body["features"]}
    # 甲县: (22 + 0) / (35 + 31) = 33.3 %; 乙县: 31 / 31 = 100 %
    assert (got["甲县"]["tasks_due"], got["甲县"]["tasks_done"]) == (66, 22)
    assert (got["乙县"]["tasks_due"], got["乙县"]["tasks_done"]) == (31, 31)
    assert got["甲县"]["value"] == got["甲县"]["task_completion_rate"] == 33.3
    assert got["乙县"]["value"] == got["乙县"]["task_completion_rate"] == 100.0
    # the lagging county is in a lower class than the complete one
    assert got["甲县"]["class"] < got["乙县"]["class"]
    # the other metrics' features carry the rate in their tooltips too
    other = client.get("/map/districts.geojson?region=539900&metric=weighted_risk&month=2026-10").get_json()
    assert {f["properties"]["name"]: f["properties"]["task_completion_rate"] for f in other["features"]} == {
        "甲县": 33.3, "乙县": 100.0}


def test_a_month_with_nothing_due_has_no_rate_and_the_no_data_colour(client, world):  # type: ignore[no-untyped-def]
    # September: the tasks start on 1 October, nothing was due.
    body = client.get("/map/districts.geojson?region=539900&metric=task_completion_rate&month=2026-09").get_json()
    assert {f["properties"]["name"]: (f["properties"]["value"], f["properties"]["class"])
            for f in body["features"]} == {"甲县": (None, None), "乙县": (None, None)}
    assert len({f["properties"]["color"] for f in body["features"]}) == 1


def test_task_completion_in_the_indicator_strip(client, world):  # type: ignore[no-untyped-def]
    def tc(query: str) -> dict:
        resp = client.get("/map/indicators.json?" + query)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return resp.get_json()["task_completion"]

    # the prefecture: (22 + 0 + 31) / (35 + 31 + 31) = 53 / 97 = 54.6 %
    assert tc("region=539900&month=2026-10") == {"month": "2026-10", "due": 97, "done": 53, "rate": 54.6}
    assert tc("region=539901&month=2026-10") == {"month": "2026-10", "due": 66, "done": 22, "rate": 33.3}
    assert tc("region=539902&month=2026-10")["rate"] == 100.0
    assert tc("region=539900&month=2026-09")["rate"] is None
