"""Change tokens per county (migration 0014, ``geo_service/tokens.py``): a write
in one county leaves the other counties' cached tiles, OGC pages and summaries
valid, and the county it changed gets fresh answers.

The hand-made world of ``tests/queries/world.py``: county 532501 is the box
103–103.5 E, county 532502 the box 103.5–104 E (both 23–24 N); the plant, the
school, the market and the shop are in 532501 around (103.25, 23.50), the mill
in 532502 at (103.70, 23.60).  At z14 the plant's tile and the mill's tile each
lie inside one county's box.  Which tile holds a point comes from the
slippy-map formula (``tile_of``).  Requests here run inside the test's
transaction, so nothing is notified: the workers read the tokens on every
request (the fallback); the notifications are tested with committed data at
the end.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator

import mapbox_vector_tile
import pytest
from helpers import wait_for
from queries.world import World, build_world
from sqlalchemy import create_engine, text
from web.test_tile_aggregates import tile_of

from geo_service import create_app
from geo_service.config import TestConfig
from geo_service.web.changes import region_tokens

Z = 14


def tokens(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Every key's token: the committed statements that changed it (migration 0014)."""
    return {k: int(v) for k, v in session.execute(text("SELECT code, sum(weight) FROM region_change GROUP BY code"))}


def tile_url(key: str, z: int = Z) -> str:
    x, y = tile_of(*World.POINTS[key], z)
    return f"/tiles/enterprises/{z}/{x}/{y}.pbf"


def names_and_grades(data: bytes) -> dict[str, int]:
    layer = mapbox_vector_tile.decode(data).get("enterprises", {"features": []})
    return {f["properties"]["name"]: f["properties"].get("grade") for f in layer["features"]}


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    w = build_world(session)
    session.commit()
    return w


def test_a_statement_bumps_each_county_it_changed_once(session, world):
    before = tokens(session)
    # four enterprises of 532501 in one statement: its token grows by one, 532502's not at all
    session.execute(text("UPDATE enterprise SET address = address || '号' WHERE region_code = '532501'"))
    after = tokens(session)
    assert after["532501"] == before["532501"] + 1
    assert after.get("532502") == before.get("532502")
    # a hazard of the mill: the mill's county
    session.execute(text("UPDATE hazard SET description = description || '。' WHERE id = :id"),
                    {"id": world.h_closed.id})
    again = tokens(session)
    assert again["532502"] == after.get("532502", 0) + 1 and again["532501"] == after["532501"]


def test_the_old_global_token_is_no_longer_appended(session, world):
    """Migration 0023: the per-county tokens replaced ``data_change``; a write
    on every table that used to append it moves its county's token only."""
    def global_rows() -> int:
        return session.execute(text("SELECT count(*) FROM data_change")).scalar_one()

    before, county = global_rows(), tokens(session)["532502"]
    session.execute(text("UPDATE enterprise SET address = address WHERE id = :id"), {"id": world.mill.id})
    session.execute(text("UPDATE hazard SET description = description WHERE id = :id"), {"id": world.h_closed.id})
    session.execute(text("UPDATE risk_point SET name = name WHERE enterprise_id = :id"), {"id": world.mill.id})
    session.execute(text("UPDATE region SET name = name WHERE code = '532502'"))
    assert global_rows() == before
    assert tokens(session)["532502"] >= county + 3


def test_old_rows_are_folded_and_the_token_keeps_counting(session, world):
    before = tokens(session)["532502"]
    for _ in range(1500):
        session.execute(text("UPDATE enterprise SET address = address WHERE id = :id"), {"id": world.mill.id})
    assert tokens(session)["532502"] == before + 1500
    # folded into one row per key now and then: far fewer rows than statements
    assert session.execute(text("SELECT count(*) FROM region_change")).scalar_one() < 1400


def test_a_move_bumps_both_counties(session, world):
    before = tokens(session)
    session.execute(text("UPDATE enterprise SET geom = 'SRID=4326;POINT(103.8 23.4)', region_code = '532502'"
                         " WHERE id = :id"), {"id": world.shop.id})
    after = tokens(session)
    assert after["532501"] == before["532501"] + 1
    assert after["532502"] == before.get("532502", 0) + 1
    assert after.get("") == before.get("")  # both points inside their counties' boxes


def test_a_point_outside_its_countys_box_bumps_the_stray_key(session, world):
    before = tokens(session)
    # registered in 532501 but placed in 532502's box: a tile there must see it too
    session.execute(text("UPDATE enterprise SET geom = 'SRID=4326;POINT(103.8 23.4)', region_code = '532501'"
                         " WHERE id = :id"), {"id": world.shop.id})
    after = tokens(session)
    assert after["532501"] == before["532501"] + 1 and after[""] == before.get("", 0) + 1
    # a hazard with its own point far outside its enterprise's county
    session.execute(text("UPDATE hazard SET geom = 'SRID=4326;POINT(103.9 23.9)' WHERE id = :id"),
                    {"id": world.h_general_open.id})
    assert tokens(session)[""] == after[""] + 1


def test_region_edits_and_rebuilds_bump_the_everything_key(session, world):
    before = tokens(session).get("*", 0)
    session.execute(text("UPDATE region SET name = '个旧' WHERE code = '532501'"))
    assert tokens(session)["*"] == before + 1
    # rebuilding the aggregates (after a bulk load with triggers off) changes everything too
    session.execute(text("SELECT tile_agg_rebuild()"))
    assert tokens(session)["*"] == before + 2
    session.execute(text("SELECT summary_agg_rebuild()"))
    assert tokens(session)["*"] == before + 3


def test_write_in_one_county_leaves_the_others_cached(app, client, session, world):
    tiles = app.extensions  # the caches are made on first use
    mill, plant = tile_url("mill"), tile_url("plant")
    first_mill = client.get(mill)
    first_plant = client.get(plant)
    assert names_and_grades(first_plant.data)["红河化工有限公司"] == 1
    assert names_and_grades(first_mill.data) == {"开远钢铁厂": 2}
    ogc_b, ogc_a = "/ogc/collections/enterprises/items?region=532502", "/ogc/collections/enterprises/items?region=532501"
    page_b, page_a = client.get(ogc_b).get_json(), client.get(ogc_a).get_json()
    summary_b, summary_a = client.get("/api/regions/532502/summary"), client.get("/api/regions/532501/summary")
    prefecture = client.get("/api/regions/532500/summary").get_json()
    assert summary_a.get_json()["enterprises_by_grade"]["1"] == 1

    # a write in county 532501: the plant renamed and set to 低风险 (蓝, 4)
    session.execute(text("UPDATE enterprise SET name = '红河化工集团', grade_override = 4 WHERE id = :id"),
                    {"id": world.plant.id})
    session.commit()

    tile_cache, ogc_cache = tiles["tile_cache"], tiles["ogc_cache"]
    summary_cache = tiles["summary_cache"]
    # county 532502: the browser's copy is still valid, and the worker's too
    assert client.get(mill, headers={"If-None-Match": first_mill.headers["ETag"]}).status_code == 304
    hits = tile_cache.hits
    again = client.get(mill)
    assert tile_cache.hits == hits + 1 and again.data == first_mill.data
    hits = ogc_cache.hits
    assert client.get(ogc_b).get_json()["features"] == page_b["features"]
    assert ogc_cache.hits == hits + 1
    hits = summary_cache.hits
    assert client.get("/api/regions/532502/summary").get_json() == summary_b.get_json()
    assert summary_cache.hits == hits + 1
    assert client.get("/api/regions/532502/summary",
                      headers={"If-None-Match": summary_b.headers["ETag"]}).status_code == 304

    # county 532501: rebuilt, showing the write
    after = client.get(plant, headers={"If-None-Match": first_plant.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != first_plant.headers["ETag"]
    grades = names_and_grades(after.data)
    assert grades.get("红河化工集团") == 4 and "红河化工有限公司" not in grades
    names = {f["properties"]["name"] for f in client.get(ogc_a).get_json()["features"]}
    assert "红河化工集团" in names and names != {f["properties"]["name"] for f in page_a["features"]}
    fresh = client.get("/api/regions/532501/summary", headers={"If-None-Match": summary_a.headers["ETag"]})
    assert fresh.status_code == 200
    summary = fresh.get_json()
    assert summary["enterprises_by_grade"]["1"] == 0 and summary["enterprises_by_grade"]["4"] == 2
    # the prefecture covers both counties: rebuilt too
    assert client.get("/api/regions/532500/summary").get_json()["enterprises_by_grade"]["1"] == \
        prefecture["enterprises_by_grade"]["1"] - 1


def test_a_write_in_one_county_recounts_only_its_district(app, client, session, world, monkeypatch):
    """The district layer of 红河州 (532500): cached whole, and each district's
    numbers under its own county's token; after a write in 个旧市 (532501) the
    answer is rebuilt with 个旧市 alone counted again, 开远市's numbers kept."""
    import geo_service.web.map as web_map

    counted: list[list[str]] = []
    real = web_map.summaries

    def spy(session, regions, **kw):  # type: ignore[no-untyped-def]
        counted.append([code for code, _, _ in regions])
        return real(session, regions, **kw)

    monkeypatch.setattr(web_map, "summaries", spy)
    url = "/map/districts.geojson?region=532500&metric=weighted_risk&zoom=9"
    first = client.get(url)
    weights = {f["id"]: f["properties"]["weighted_risk"] for f in first.get_json()["features"]}
    # by hand: 个旧市 the plant 红 4 + the school 蓝 1 + the market 黄 2 (the shop ungraded); 开远市 the mill 橙 3
    assert weights == {"532501": 7, "532502": 3} and counted == [["532501", "532502"]]
    assert client.get(url).data == first.data
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    outlines = client.get("/map/regions.geojson?region=532500&zoom=9")
    assert counted == [["532501", "532502"]]  # nothing counted again

    session.execute(text("UPDATE enterprise SET grade_override = 4 WHERE id = :id"), {"id": world.plant.id})
    session.commit()
    after = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != first.headers["ETag"]
    assert counted == [["532501", "532502"], ["532501"]]
    props = {f["id"]: f["properties"] for f in after.get_json()["features"]}
    assert props["532501"]["weighted_risk"] == 4 and props["532501"]["major_risk_enterprises"] == 0
    assert props["532502"] == {f["id"]: f["properties"] for f in first.get_json()["features"]}["532502"]
    # the outlines follow the boundaries' token only: a write in a county leaves them valid
    assert client.get("/map/regions.geojson?region=532500&zoom=9",
                      headers={"If-None-Match": outlines.headers["ETag"]}).status_code == 304
    # … and a boundary edit does not (nor the map page's region list)
    assert "开远市" in client.get("/map").get_data(as_text=True)
    session.execute(text("UPDATE region SET name = '开远' WHERE code = '532502'"))
    session.commit()
    renamed = client.get("/map/regions.geojson?region=532500&zoom=9",
                         headers={"If-None-Match": outlines.headers["ETag"]})
    assert renamed.status_code == 200
    assert "开远" in {f["properties"]["name"] for f in renamed.get_json()["features"]}
    names = {f["id"]: f["properties"]["name"] for f in client.get(url).get_json()["features"]}
    assert names["532502"] == "开远"
    page = client.get("/map").get_data(as_text=True)
    config = json.loads(re.search(r"window\.RiskMap = \{map: \w+, config: (\{.*\})\};", page).group(1))
    assert "开远市" not in page and {"532502": "开远"}.items() <= {r["code"]: r["name"] for r in config["regions"]}.items()


def test_the_indicator_strip_follows_its_own_counties(app, client, session, world):
    west, east = "/map/indicators.json?region=532501", "/map/indicators.json?region=532502"
    first_west, first_east = client.get(west).get_json(), client.get(east).get_json()
    assert first_west["grades"]["1"] == 1 and first_east["grades"] == {"1": 0, "2": 1, "3": 0, "4": 0}
    session.execute(text("UPDATE enterprise SET grade_override = 4 WHERE id = :id"), {"id": world.plant.id})
    session.commit()
    cache = app.extensions["summary_cache"]
    hits = cache.hits
    assert client.get(east).get_json() == first_east  # 开远市's counts from the cache
    assert cache.hits == hits + 1
    after = client.get(west).get_json()  # 个旧市's counted again
    assert after["grades"]["1"] == 0 and after["grades"]["4"] == first_west["grades"]["4"] + 1
    assert cache.hits == hits + 1


def test_a_tile_near_a_county_border_follows_both(client, session, world):
    # the mill's z9 tile (103.36–104.06 E) reaches into county 532501's box: a write
    # there rebuilds it, though no enterprise of 532501 lies in it
    url = tile_url("mill", 9)
    first = client.get(url)
    session.execute(text("UPDATE enterprise SET grade_override = 1 WHERE id = :id"), {"id": world.plant.id})
    session.commit()
    after = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200 and after.data == first.data


# --------------------------------------------------------------------------- committed data, notifications

WORLD_SQL = """
INSERT INTO region (code, name, level, parent_code, geom) VALUES
  ('530000', '云南省', 'province', NULL, ST_Multi(ST_MakeEnvelope(102, 22, 105, 25, 4326)));
INSERT INTO region (code, name, level, parent_code, geom) VALUES
  ('532500', '红河州', 'prefecture', '530000', ST_Multi(ST_MakeEnvelope(103, 23, 104, 24, 4326)));
INSERT INTO region (code, name, level, parent_code, geom) VALUES
  ('532501', '个旧市', 'county', '532500', ST_Multi(ST_MakeEnvelope(103, 23, 103.5, 24, 4326))),
  ('532502', '开远市', 'county', '532500', ST_Multi(ST_MakeEnvelope(103.5, 23, 104, 24, 4326)));
INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES
  (:c1, '红河化工有限公司', 'hazchem', ST_SetSRID(ST_MakePoint(103.25, 23.50), 4326)),
  (:c2, '开远钢铁厂', 'trade.metallurgy', ST_SetSRID(ST_MakePoint(103.70, 23.60), 4326));
"""


@pytest.fixture
def committed(make_database, tmp_path) -> Iterator[tuple]:  # type: ignore[no-untyped-def]
    """A committed world, a writer engine (the owner) and two applications on it,
    as two worker processes would be, each with its own listener."""
    from helpers import credit_code

    url = make_database()
    writer = create_engine(url)
    with writer.begin() as conn:
        conn.execute(text(WORLD_SQL), {"c1": credit_code(1), "c2": credit_code(2, "532502")})
    apps = [create_app(TestConfig(url, tmp_path / f"var{i}")) for i in (1, 2)]
    try:
        yield writer, apps
    finally:
        for a in apps:
            listener = a.extensions.get("region_tokens")
            if listener is not None:
                listener.dispose()
            a.extensions["geo_engine"].dispose()
        writer.dispose()


def rename(writer, code: str, name: str) -> None:  # type: ignore[no-untyped-def]
    with writer.begin() as conn:
        conn.execute(text("UPDATE enterprise SET name = :n WHERE region_code = :c"), {"n": name, "c": code})


def test_a_notify_reaches_another_workers_listener(committed):
    writer, (one, two) = committed
    listeners = []
    for a in (one, two):
        with a.app_context():
            listeners.append(region_tokens(a))
    for listener in listeners:
        wait_for(lambda lst=listener: lst.listening, "the listener connects")
    _, second = listeners
    before = second.tokens(None) or {}
    rename(writer, "532501", "红河化工集团")
    wait_for(lambda: (second.tokens(("532501",)) or {}).get("532501", 0) > before.get("532501", 0),
             "the second worker hears of the write")
    assert (second.tokens(("532502",)) or {}).get("532502", 0) == before.get("532502", 0)
    # a boundary edit: every worker reloads the boxes with the new '*' token
    with writer.begin() as conn:
        conn.execute(text("UPDATE region SET geom = ST_Multi(ST_MakeEnvelope(103.5, 23, 104.2, 24, 4326))"
                          " WHERE code = '532502'"))
    wait_for(lambda: any(b[0] == "532502" and b[3] > 104.1 for b in (second.boxes() or _no_boxes()).boxes),
             "the second worker reloads the county boxes")


def _no_boxes():  # type: ignore[no-untyped-def]
    from geo_service.tokens import Boxes

    return Boxes(0, ())


def test_the_listener_reconnects_and_catches_up(committed):
    writer, (app, _) = committed
    with app.app_context():
        listener = region_tokens(app)
    wait_for(lambda: listener.listening, "the listener connects")
    before = (listener.tokens(("532502",)) or {}).get("532502", 0)
    with writer.begin() as conn:  # the database drops the listener's connection (a restart, a network cut)
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE application_name = 'geo-service-tokens' AND datname = current_database()"))
    rename(writer, "532502", "开远钢铁集团")
    wait_for(lambda: (listener.tokens(("532502",)) or {}).get("532502", 0) > before,
             "the listener reconnects and reads the write it missed")


def test_tiles_answered_from_pushed_tokens_and_fresh_after_a_write(committed):
    writer, (app, _) = committed
    client = app.test_client()
    with app.app_context():
        listener = region_tokens(app)
    wait_for(lambda: listener.listening, "the listener connects")
    mill, plant = tile_url("mill"), tile_url("plant")
    first_mill, first_plant = client.get(mill), client.get(plant)
    seen = listener.notifications
    rename(writer, "532501", "红河化工集团")
    wait_for(lambda: listener.notifications > seen, "the write is notified")
    assert client.get(mill, headers={"If-None-Match": first_mill.headers["ETag"]}).status_code == 304
    after = client.get(plant, headers={"If-None-Match": first_plant.headers["ETag"]})
    assert after.status_code == 200 and "红河化工集团" in names_and_grades(after.data)


def test_a_write_through_a_worker_is_heard_before_it_answers(committed, monkeypatch):
    """The worker that wrote answers the POST only once its listener has applied the
    write, so its next tile shows it, even when the listener thread is slow."""
    from helpers import credit_code

    _, (app, _) = committed
    client = app.test_client()
    with app.app_context():
        listener = region_tokens(app)
    wait_for(lambda: listener.listening, "the listener connects")
    apply = listener._apply

    def busy(cur, payloads):  # type: ignore[no-untyped-def]  # a listener thread that lags behind
        time.sleep(0.5)
        apply(cur, payloads)

    monkeypatch.setattr(listener, "_apply", busy)
    plant = tile_url("plant")
    first = client.get(plant)
    seen = listener.notifications
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [103.2505, 23.5005]},
               "properties": {"credit_code": credit_code(90), "name": "新建加油站", "industry": "危险化学品"}}
    r = client.post("/api/enterprises", json=feature)
    assert r.status_code == 201, r.get_json()
    assert listener.notifications > seen
    after = client.get(plant, headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200 and "新建加油站" in names_and_grades(after.data)


def test_listener_down_still_correct(committed):
    writer, (app, _) = committed
    client = app.test_client()
    with app.app_context():
        listener = region_tokens(app)
    wait_for(lambda: listener.listening, "the listener connects")
    plant = tile_url("plant")
    first = client.get(plant)
    listener.stop()
    assert not listener.listening
    # a write nobody is told about: the worker reads the tokens and rebuilds the tile
    rename(writer, "532501", "红河化工集团")
    after = client.get(plant, headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200 and "红河化工集团" in names_and_grades(after.data)
    # and a request with the new ETag is a 304 again, still without the listener
    assert client.get(plant, headers={"If-None-Match": after.headers["ETag"]}).status_code == 304


def test_never_cached_under_a_pushed_token_newer_than_its_data(committed, monkeypatch):
    """The pushed tokens run ahead of the data read (a replica that has not replayed
    the last write yet): the tile is served, stored under the tokens read with it."""
    writer, (app, _) = committed
    client = app.test_client()
    with app.app_context():
        listener = region_tokens(app)
    wait_for(lambda: listener.listening, "the listener connects")
    real = listener.tokens
    ahead = threading.Event()

    def pushed(selection):  # type: ignore[no-untyped-def]
        known = real(selection)
        if known is not None and ahead.is_set() and "532501" in known:
            known = {**known, "532501": known["532501"] + 1000}
        return known

    monkeypatch.setattr(listener, "tokens", pushed)
    plant = tile_url("plant")
    ahead.set()
    built = client.get(plant)
    cache = app.extensions["tile_cache"]
    # asked again under the same (newer) pushed tokens: not in the cache, built again
    misses = cache.misses
    again = client.get(plant)
    assert cache.misses == misses + 1 and again.data == built.data
    # once the pushed tokens are those of the data, the stored tile is served
    ahead.clear()
    hits = cache.hits
    settled = client.get(plant)
    assert cache.hits == hits + 1 and settled.headers["ETag"] == built.headers["ETag"]


def test_a_bbox_page_follows_the_counties_its_box_meets(app, client, session, world):
    east = "/ogc/collections/enterprises/items?bbox=103.6,23.5,103.8,23.7"  # inside 532502's box: the mill
    west = "/ogc/collections/enterprises/items?bbox=103.2,23.45,103.3,23.55"  # inside 532501's: the plant …
    first_east, first_west = client.get(east).get_json(), client.get(west).get_json()
    assert [f["properties"]["name"] for f in first_east["features"]] == ["开远钢铁厂"]
    assert "红河化工有限公司" in {f["properties"]["name"] for f in first_west["features"]}
    session.execute(text("UPDATE enterprise SET name = '红河化工集团' WHERE id = :id"), {"id": world.plant.id})
    session.commit()
    cache = app.extensions["ogc_cache"]
    hits = cache.hits
    assert client.get(east).get_json()["features"] == first_east["features"]
    assert cache.hits == hits + 1
    names = {f["properties"]["name"] for f in client.get(west).get_json()["features"]}
    assert "红河化工集团" in names and "红河化工有限公司" not in names
    assert cache.hits == hits + 1  # the west page was built again
