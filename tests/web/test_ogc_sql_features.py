"""The OGC items of the point collections are serialised by PostgreSQL
(``web/ogc/geojson.py``); they must equal, member for member, what the Python
path of the data API builds from the same rows (``decorate`` + ``feature``)."""

from __future__ import annotations

import datetime as dt

import pytest
from queries.world import build_world

from geo_service.queries import enterprises as eq
from geo_service.queries import hazards as hq
from geo_service.queries import risk_points as rpq
from geo_service.queries.filters import Filters
from geo_service.queries.scope import ALL
from geo_service.web import ogc
from geo_service.web.api.common import decorate, feature, jsonable


@pytest.fixture
def world(session):
    w = build_world(session)
    session.commit()
    return w


@pytest.mark.parametrize("cid", ["enterprises", "risk-points", "hazards"])
def test_sql_features_equal_the_python_features(client, session, world, cid):
    today = dt.date.today()
    stmt = {"enterprises": eq.enterprises_select(Filters(), scope=ALL, as_of=today),
            "risk-points": rpq.risk_points_select(Filters(), scope=ALL),
            "hazards": hq.hazards_select(Filters(), scope=ALL, as_of=today)}[cid]
    expected = [jsonable(feature(decorate(cid, dict(r._mapping)))) for r in session.execute(stmt)]
    body = client.get(f"/ogc/collections/{cid}/items?limit=100").get_json()
    assert body["features"] == expected and len(expected) >= 4
    assert body["numberMatched"] == body["numberReturned"] == len(expected)


def test_number_matched_is_omitted_beyond_the_count_cap(client, world, monkeypatch):
    # five enterprises; counting at most 2 + 1 rows past the page cannot give the total
    monkeypatch.setattr(ogc, "COUNT_BEYOND", 1)
    body = client.get("/ogc/collections/enterprises/items?limit=2").get_json()
    assert "numberMatched" not in body and body["numberReturned"] == 2
    assert any(ln["rel"] == "next" for ln in body["links"])
    # on the last page the count is exact again
    body = client.get("/ogc/collections/enterprises/items?limit=2&offset=4").get_json()
    assert body["numberMatched"] == 5 and body["numberReturned"] == 1
    assert not any(ln["rel"] == "next" for ln in body["links"])


def test_cached_pages_are_fresh_after_a_write(client, session, world):
    from sqlalchemy import text

    url = "/ogc/collections/risk-points/items?limit=100"
    names = {f["properties"]["name"] for f in client.get(url).get_json()["features"]}
    assert names == {f["properties"]["name"] for f in client.get(url).get_json()["features"]}  # cached
    # a risk point renamed: the very next page shows the new name (risk_point bumps the change token)
    session.execute(text("UPDATE risk_point SET name = '新储罐区' WHERE enterprise_id = :id AND grade = 1"),
                    {"id": world.plant.id})
    session.commit()
    after = {f["properties"]["name"] for f in client.get(url).get_json()["features"]}
    assert "新储罐区" in after and after != names
    # an enterprise moved out of a bbox leaves it at once
    bbox = "/ogc/collections/enterprises/items?bbox=103.6,23.5,103.8,23.7"
    assert [f["id"] for f in client.get(bbox).get_json()["features"]] == [world.mill.id]
    session.execute(text("UPDATE enterprise SET geom = 'SRID=4326;POINT(103.4 23.4)' WHERE id = :id"),
                    {"id": world.mill.id})
    session.commit()
    assert client.get(bbox).get_json()["features"] == []
