"""The maintained tile aggregates (``enterprise_cell``) and the change token
(``data_change``) of migration 0003: a low-zoom tile stays right after an
enterprise is inserted, re-graded, moved and deleted, the maintained cells
equal a rebuild from scratch, and the tile cache never serves a tile older
than the last write.

Independent reference: which tile a point lies in comes from the slippy-map
formula in Python (``tile_of``), and the expected counts from the hand-made
world of ``tests/queries/world.py`` (five enterprises; four within 2 km of
(103.25, 23.50), the mill ~46 km east)."""

from __future__ import annotations

import mapbox_vector_tile
import pytest
from queries.world import World, build_world, credit_code
from sqlalchemy import text

from geo_service.models import Enterprise, RiskPoint

Z = 6  # one tile holds the prefecture; enterprise_cell serves zooms 0–11


def tile_of(lng: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 2 ** z
    return int((lng + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def features(client, z: int, lng: float, lat: float, query: str = "") -> list[dict]:
    x, y = tile_of(lng, lat, z)
    r = client.get(f"/tiles/enterprises/{z}/{x}/{y}.pbf{query}")
    assert r.status_code == 200
    return mapbox_vector_tile.decode(r.data).get("enterprises", {}).get("features", [])


def total(feats: list[dict]) -> int:
    return sum(f["properties"]["count"] for f in feats)


def cells(session) -> list[tuple]:
    return session.execute(text(
        "SELECT z, cx, cy, region_code, industry_code, grade, n, round(sum_mx::numeric, 3),"
        " round(sum_my::numeric, 3), sum_id FROM enterprise_cell ORDER BY 1, 2, 3, 4, 5, 6")).all()


@pytest.fixture
def world(session):
    w = build_world(session)
    session.commit()
    return w


def test_cells_follow_insert_regrade_move_delete(client, session, world):
    plant = World.POINTS["plant"]
    assert total(features(client, Z, *plant)) == 5  # the whole world is in this z6 tile
    # a new enterprise 1 km south of the plant: counted at once, ungraded (no risk point)
    e = Enterprise(credit_code=credit_code(90), name="新建加油站", industry_code="hazchem",
                   geom="SRID=4326;POINT(103.25 23.491)")
    session.add(e)
    session.commit()
    assert total(features(client, Z, *plant)) == 6
    assert total(features(client, Z, *plant, "?grade=1")) == 1  # only the plant is red
    # a red risk point makes it red (risk_point → grade_auto trigger → cell trigger)
    session.add(RiskPoint(enterprise_id=e.id, name="储罐区", grade=1))
    session.commit()
    assert total(features(client, Z, *plant, "?grade=1")) == 2
    assert total(features(client, Z, *plant, "?industry=hazchem")) == 2
    # moved 1,000 km east into another z6 tile: it leaves this tile and appears there
    session.execute(text("UPDATE enterprise SET geom = 'SRID=4326;POINT(113.25 23.49)' WHERE id = :id"),
                    {"id": e.id})
    session.commit()
    assert total(features(client, Z, *plant)) == 5
    moved = features(client, Z, 113.25, 23.49)
    assert [(f["properties"]["count"], f["properties"]["id"], f["properties"]["grade"]) for f in moved] == \
        [(1, e.id, 1)]
    # deleted: gone everywhere, and no empty cell rows remain
    session.execute(text("DELETE FROM enterprise WHERE id = :id"), {"id": e.id})  # its risk point cascades
    session.commit()
    assert features(client, Z, 113.25, 23.49) == []
    assert session.execute(text("SELECT count(*) FROM enterprise_cell WHERE n <= 0")).scalar_one() == 0


def test_maintained_cells_equal_a_rebuild(session, world):
    # some churn first: a regrade, a move and a delete
    session.execute(text("UPDATE enterprise SET grade_override = 1 WHERE id = :id"), {"id": world.mill.id})
    session.execute(text("UPDATE enterprise SET geom = 'SRID=4326;POINT(103.31 23.52)' WHERE id = :id"),
                    {"id": world.shop.id})
    session.execute(text("DELETE FROM enterprise WHERE id = :id"), {"id": world.market.id})
    maintained = cells(session)
    # each zoom counts every remaining enterprise once
    per_zoom = session.execute(text("SELECT z, sum(n) FROM enterprise_cell GROUP BY z ORDER BY z")).all()
    assert per_zoom == [(z, 4) for z in range(12)]
    session.execute(text("SELECT tile_agg_rebuild()"))
    assert cells(session) == maintained


def test_change_token_grows_with_each_write(session, world):
    def token() -> int:
        return session.execute(text("SELECT sum(weight) FROM data_change")).scalar_one()

    t0 = token()
    session.execute(text("UPDATE enterprise SET name = name || '（改）' WHERE id = :id"), {"id": world.plant.id})
    t1 = token()
    session.execute(text("UPDATE hazard SET description = description || '。' WHERE id = :id"),
                    {"id": world.h_school.id})
    t2 = token()
    assert t0 < t1 < t2
    # folding old rows into one keeps the sum: 600 statements later it has grown by exactly 600
    for _ in range(600):
        session.execute(text("UPDATE region SET name = name WHERE code = '532501'"))
    assert token() == t2 + 600
    assert session.execute(text("SELECT count(*) FROM data_change")).scalar_one() < 400


def test_cached_tile_is_replaced_after_a_write(client, session, world):
    x, y = tile_of(*World.POINTS["plant"], 14)
    url = f"/tiles/enterprises/14/{x}/{y}.pbf"
    first = client.get(url)
    again = client.get(url)  # served from the worker's cache: same bytes, same ETag
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    session.execute(text("UPDATE enterprise SET name = '红河化工集团' WHERE id = :id"), {"id": world.plant.id})
    session.commit()
    after = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != first.headers["ETag"]
    names = {f["properties"].get("name") for f in mapbox_vector_tile.decode(after.data)["enterprises"]["features"]}
    assert "红河化工集团" in names and "红河化工有限公司" not in names


def test_low_zoom_hazards_are_grouped_into_cells(client, world):
    # at z6 the world's four hazards: three around the plant share a cell (the plant's
    # major overdue one among them), the mill's closed one has a cell of its own
    x, y = tile_of(*World.POINTS["plant"], Z)
    r = client.get(f"/tiles/hazards/{Z}/{x}/{y}.pbf?as_of=2026-03-15")
    feats = mapbox_vector_tile.decode(r.data)["hazards"]["features"]
    by_count = sorted((f["properties"] for f in feats), key=lambda p: p["count"])
    assert [p["count"] for p in by_count] == [1, 3]
    single, group = by_count
    assert single["id"] == world.h_closed.id and single["overdue"] is False
    assert group["level"] == "major" and group["overdue"] is True and "id" not in group
    # the open ones only (the map's filter): the mill's closed hazard is gone
    r = client.get(f"/tiles/hazards/{Z}/{x}/{y}.pbf?as_of=2026-03-15&hazard_state=registered,rectifying")
    feats = mapbox_vector_tile.decode(r.data)["hazards"]["features"]
    assert [f["properties"]["count"] for f in feats] == [3]
