"""The maintained tile aggregates (``enterprise_cell``) of migration 0003 and
the change tokens (per county since migration 0014): a low-zoom tile stays right after an
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


# --- hazards: hazard.loc and hazard_cell (migration 0015) --------------------------------------
# The map asks for the open hazards from tile zoom 8; hazard_cell answers zooms 8–12.
HZ = 8
OPEN = "?hazard_state=registered,rectifying,rectified"


def hazard_features(client, z: int, lng: float, lat: float, query: str = OPEN) -> list[dict]:
    x, y = tile_of(lng, lat, z)
    r = client.get(f"/tiles/hazards/{z}/{x}/{y}.pbf{query}")
    assert r.status_code == 200
    return mapbox_vector_tile.decode(r.data).get("hazards", {}).get("features", [])


def hazard_cells(session) -> list[tuple]:
    return session.execute(text(
        "SELECT z, cx, cy, region_code, level, state, n, round(sum_mx::numeric, 3), round(sum_my::numeric, 3),"
        " sum_id, min_deadline FROM hazard_cell ORDER BY 1, 2, 3, 4, 5, 6")).all()


def stale_locations(session) -> int:
    """Hazards whose maintained loc / ent_region differ from what they are drawn at (independent SQL)."""
    return session.execute(text(
        "SELECT count(*) FROM hazard h JOIN enterprise e ON e.id = h.enterprise_id"
        " WHERE NOT ST_Equals(h.loc, coalesce(h.geom, e.geom)) OR h.ent_region IS DISTINCT FROM e.region_code"
    )).scalar_one()


def test_hazard_cells_follow_insert_deadline_state_move_delete(client, session, world):
    plant = World.POINTS["plant"]
    march = "&as_of=2026-03-15"
    # the open hazards near the plant: h1 (major, rectifying, deadline 1 March: overdue in
    # mid-March), h2 (registered, deadline 1 April), the school's h4 (registered, no deadline);
    # the mill's is closed.  All three share one z8 cell (~9 km).
    [cell] = hazard_features(client, HZ, *plant, OPEN + march)
    assert (cell["properties"]["count"], cell["properties"]["level"], cell["properties"]["overdue"]) == \
        (3, "major", True)
    # on 15 February nothing had passed its deadline
    [cell] = hazard_features(client, HZ, *plant, OPEN + "&as_of=2026-02-15")
    assert cell["properties"]["overdue"] is False
    # a registered hazard due 10 March at the plant: registered ones alone are now overdue
    h5 = session.execute(text(
        "INSERT INTO hazard (enterprise_id, description, level, source, found_on, deadline, state)"
        " VALUES (:e, '配电室门未关', 'general', 'self', '2026-03-02', '2026-03-10', 'registered') RETURNING id"),
        {"e": world.plant.id}).scalar_one()
    session.commit()
    [cell] = hazard_features(client, HZ, *plant, "?hazard_state=registered" + march)
    assert (cell["properties"]["count"], cell["properties"]["overdue"]) == (3, True)
    # its deadline put back to May: the cell's earliest registered deadline is h2's 1 April again
    session.execute(text("UPDATE hazard SET deadline = '2026-05-01' WHERE id = :id"), {"id": h5})
    session.commit()
    [cell] = hazard_features(client, HZ, *plant, "?hazard_state=registered" + march)
    assert (cell["properties"]["count"], cell["properties"]["overdue"]) == (3, False)
    [cell] = hazard_features(client, HZ, *plant, "?hazard_state=registered&as_of=2026-04-15")
    assert cell["properties"]["overdue"] is True
    # h1 reported rectified: the clock stops, nothing open is overdue in mid-March
    session.execute(text("UPDATE hazard SET state = 'rectified', rectified_on = '2026-03-12' WHERE id = :id"),
                    {"id": world.h_major_overdue.id})
    session.commit()
    [cell] = hazard_features(client, HZ, *plant, OPEN + march)
    assert (cell["properties"]["count"], cell["properties"]["level"], cell["properties"]["overdue"]) == \
        (4, "major", False)
    assert [f["properties"]["count"] for f in hazard_features(client, HZ, *plant, "?hazard_level=major&"
                                                               + OPEN[1:] + march)] == [1]
    # the plant moves 1,000 km east: its three hazards without a point of their own go with it,
    # the school's stays
    session.execute(text("UPDATE enterprise SET geom = 'SRID=4326;POINT(113.25 23.49)' WHERE id = :id"),
                    {"id": world.plant.id})
    session.commit()
    assert [f["properties"]["count"] for f in hazard_features(client, HZ, *plant, OPEN + march)] == [1]
    [moved] = hazard_features(client, HZ, 113.25, 23.49, OPEN + march)
    assert moved["properties"]["count"] == 3
    # at z14 (the register path, through hazard.loc) they are drawn there too
    assert len(hazard_features(client, 14, 113.25, 23.49, OPEN + march)) == 3
    assert stale_locations(session) == 0
    # signed off and deleted: gone, and no empty cell rows remain
    session.execute(text("UPDATE hazard SET state = 'closed', verified_on = '2026-03-14', verifier = '王五'"
                         " WHERE id = :id"), {"id": world.h_major_overdue.id})
    session.execute(text("DELETE FROM hazard WHERE id = :id"), {"id": h5})
    session.commit()
    [moved] = hazard_features(client, HZ, 113.25, 23.49, OPEN + march)
    assert moved["properties"]["count"] == 1 and moved["properties"]["id"] == world.h_general_open.id
    # an enterprise deleted with its hazard (no lifecycle events yet): the cascade subtracts it
    eid = session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES (:cc, '临时仓库', 'trade',"
        " 'SRID=4326;POINT(113.251 23.491)') RETURNING id"), {"cc": credit_code(91)}).scalar_one()
    session.execute(text(
        "INSERT INTO hazard (enterprise_id, description, level, source, found_on, state)"
        " VALUES (:e, '货架超载', 'general', 'self', '2026-03-02', 'registered')"), {"e": eid})
    session.commit()
    [moved] = hazard_features(client, HZ, 113.25, 23.49, OPEN + march)
    assert moved["properties"]["count"] == 2
    session.execute(text("DELETE FROM enterprise WHERE id = :id"), {"id": eid})
    session.commit()
    [moved] = hazard_features(client, HZ, 113.25, 23.49, OPEN + march)
    assert moved["properties"]["count"] == 1
    assert session.execute(text("SELECT count(*) FROM hazard_cell WHERE n <= 0")).scalar_one() == 0


def test_maintained_hazard_cells_equal_a_rebuild(session, world):
    # churn: a new hazard with its own point, a deadline moved, a state change, an
    # enterprise moved and another one deleted (its hazards cascade)
    session.execute(text(
        "INSERT INTO hazard (enterprise_id, description, level, source, found_on, deadline, state, geom)"
        " VALUES (:e, '围墙破损', 'general', 'self', '2026-03-02', '2026-03-20', 'registered',"
        " 'SRID=4326;POINT(103.71 23.61)')"), {"e": world.mill.id})
    session.execute(text("UPDATE hazard SET deadline = '2026-06-01' WHERE id = :id"),
                    {"id": world.h_major_overdue.id})
    session.execute(text("UPDATE hazard SET state = 'rectifying' WHERE id = :id"), {"id": world.h_school.id})
    session.execute(text("UPDATE enterprise SET geom = 'SRID=4326;POINT(103.31 23.52)' WHERE id = :id"),
                    {"id": world.plant.id})
    eid = session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES (:cc, '临时仓库', 'trade',"
        " 'SRID=4326;POINT(103.251 23.491)') RETURNING id"), {"cc": credit_code(91)}).scalar_one()
    session.execute(text(
        "INSERT INTO hazard (enterprise_id, description, level, source, found_on, state)"
        " VALUES (:e, '货架超载', 'general', 'self', '2026-03-02', 'registered')"), {"e": eid})
    session.execute(text("DELETE FROM enterprise WHERE id = :id"), {"id": eid})
    assert stale_locations(session) == 0
    maintained = hazard_cells(session)
    # each zoom 8–12 counts every open hazard once: h1, h2, the school's and the new one
    per_zoom = session.execute(text("SELECT z, sum(n) FROM hazard_cell GROUP BY z ORDER BY z")).all()
    assert per_zoom == [(z, 4) for z in range(8, 13)]
    session.execute(text("SELECT hazard_cell_rebuild()"))
    assert hazard_cells(session) == maintained


def test_hazard_cells_draw_what_the_register_draws(session, world):
    """The tile read from hazard_cell equals the one grouped from the hazards, cell for cell."""
    import datetime as dt

    from geo_service.queries import tiles as tq
    from geo_service.queries.filters import Filters
    from geo_service.queries.scope import ALL

    session.execute(text(
        "INSERT INTO hazard (enterprise_id, description, level, source, found_on, deadline, state, geom)"
        " VALUES (:e, '围墙破损', 'general', 'inspection', '2026-03-02', '2026-03-20', 'rectifying',"
        " 'SRID=4326;POINT(103.71 23.61)')"), {"e": world.mill.id})
    f = Filters(hazard_state=("registered", "rectifying", "rectified"))
    for z in range(8, 13):
        x, y = tile_of(*World.POINTS["plant"], z)
        for as_of in (dt.date(2026, 2, 15), dt.date(2026, 3, 15), dt.date(2026, 3, 25)):
            assert tq._hazard_cells_serve(z, f, ALL)
            bounds = tq._bounds(z, x, y)
            agg = session.execute(tq._hazard_cells_agg(z, x, y, f, ALL, as_of, bounds)).scalar_one()
            reg = session.execute(tq._hazard_cells(z, f, ALL, as_of, tq._bounds(z, x, y))).scalar_one()

            def props(tile: bytes) -> list[tuple]:
                feats = mapbox_vector_tile.decode(tile).get("hazards", {}).get("features", [])
                return sorted((tuple(f["geometry"]["coordinates"]), tuple(sorted(f["properties"].items())))
                              for f in feats)

            assert props(agg) == props(reg) and props(agg), (z, as_of)
