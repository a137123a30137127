"""Reads from a streaming replica (``DATABASE_READ_URL``), for real.

The ``replication`` fixture (tests/conftest.py) gives the suite's cluster a hot
standby made with ``pg_basebackup -R``.  The application here serves requests
as ``geo_app`` with ``DATABASE_URL`` on the primary and ``DATABASE_READ_URL`` on
the standby, against committed data (no rolled-back test transaction: the
standby only sees what the primary commits).

The proof that a view reads the standby: its replay is paused
(``pg_wal_replay_pause()``), an enterprise is committed on the primary, and the
view still answers the standby's older state while a record's own page (primary)
already shows the new enterprise; once the standby has replayed the write, the
view shows it too.

The change tokens per county (``geo_service/tokens.py``) meet the replica
here: each worker's listener stays on the primary (NOTIFY is not delivered on
a standby), so the tokens pushed to it run ahead of the standby while its
replay is paused; the tests wait until the listener has heard the write, and
check that the answers are still the standby's, cached and tagged under the
county tokens the STANDBY has (read there with ``psql``), never the pushed ones.

The world, in county 539901 (the box 100–101°E, 20–21°N), the only region of
the database: enterprises added by each test 0.001° apart around
(100.5 + k/100, 20.5), so each test's points lie in one zoom-14 tile of their
own (a z14 tile is ~0.022° wide here), which covers the keys 539901, ``''``
(strays) and ``'*'`` (boundaries).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from helpers import box, credit_code, wait_for
from sqlalchemy import Engine, create_engine, text

from geo_service import create_app
from geo_service.config import TestConfig
from geo_service.tokens import RegionTokens, combine
from geo_service.web.changes import region_tokens

COUNTY = "539901"
TILE_KEYS = (COUNTY, "", "*")  # what a z14 tile inside the county covers
Z = 14
APP_ROLE = "geo_app"


@pytest.fixture(scope="module")
def replica_db(replication) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """A migrated database on the primary holding county 539901, replicated to the standby."""
    name = replication.database()
    owner = create_engine(replication.url(replication.primary, name))
    with owner.begin() as conn:
        conn.execute(text("INSERT INTO region (code, name, level, geom) VALUES (:c, '复制县', 'county', :g)"),
                     {"c": COUNTY, "g": box(100, 20, 101, 21)})
    replication.standby.catch_up()
    yield {"name": name, "owner": owner, "replication": replication}
    owner.dispose()


@pytest.fixture
def replica_app(replica_db, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The application: writes and record pages on the primary, marked reads on the standby."""
    repl, name = replica_db["replication"], replica_db["name"]
    config = TestConfig(repl.url(repl.primary, name, APP_ROLE), tmp_path / "var")
    config.DATABASE_READ_URL = repl.url(repl.standby, name, APP_ROLE)
    application = create_app(config)
    yield application
    repl.resume_replay()  # a failed test must not leave the standby paused
    listener = application.extensions.get("region_tokens")
    if listener is not None:
        listener.dispose()
    for key in ("geo_engine", "geo_read_engine"):
        engine = application.extensions.get(key)
        if engine is not None:
            engine.dispose()


def listening(application) -> RegionTokens:  # type: ignore[no-untyped-def]
    """The application's change-token listener, once it has connected and loaded."""
    with application.app_context():
        listener = region_tokens(application)
    assert listener is not None
    wait_for(lambda: listener.listening, "the listener connects")
    return listener


def heard(listener: RegionTokens, token: int) -> Callable[[], bool]:
    """Whether the listener's pushed token of the county has reached ``token``."""
    return lambda: (listener.tokens((COUNTY,)) or {}).get(COUNTY, 0) >= token


def add_enterprise(owner: Engine, n: int, lng: float, lat: float) -> int:
    """Commit enterprise ``n`` at (lng, lat) on the primary; its id."""
    with owner.begin() as conn:
        return int(conn.execute(text(
            "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
            " (:code, :name, 'hazchem', ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)) RETURNING id"),
            {"code": credit_code(n, COUNTY), "name": f"复制测试企业{n}", "lng": lng, "lat": lat}).scalar_one())


def tile_of(lng: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding (lng, lat)."""
    n = 2 ** z
    return int((lng + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def tile_ids(client, lng: float, lat: float, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """The response for the enterprise tile at (lng, lat) and the enterprise ids in it."""
    x, y = tile_of(lng, lat, Z)
    resp = client.get(f"/tiles/enterprises/{Z}/{x}/{y}.pbf", headers=headers or {})
    if resp.status_code != 200:
        return resp, None
    layer = mapbox_vector_tile.decode(resp.data).get("enterprises", {"features": []})
    return resp, {f["properties"]["id"] for f in layer["features"]}


def token(cluster: Any, dbname: str) -> int:
    """The county's change token as ``cluster`` has it (primary: committed; standby: replayed)."""
    return int(cluster.psql(f"SELECT coalesce(sum(weight), 0) FROM region_change WHERE code = '{COUNTY}'",
                            dbname=dbname))


def tile_tokens(cluster: Any, dbname: str) -> str:
    """The combined tokens of the keys a tile in the county covers, as ``cluster`` has them."""
    keys = ", ".join(f"'{k}'" for k in TILE_KEYS)
    text_ = cluster.psql("SELECT coalesce(jsonb_object_agg(code, t), '{}') FROM"
                         f" (SELECT code, sum(weight) AS t FROM region_change WHERE code IN ({keys}) GROUP BY code) s",
                         dbname=dbname)
    return combine({k: int(v) for k, v in json.loads(text_).items()})


def cached_under(application, lng: float, lat: float) -> set[str]:  # type: ignore[no-untyped-def]
    """The token parts of the keys the tile at (lng, lat) is cached under in this worker."""
    x, y = tile_of(lng, lat, Z)
    prefix = f"enterprises|{Z}|{x}|{y}|"
    return {k.rsplit("|", 1)[1] for k in application.extensions["tile_cache"]._items if k.startswith(prefix)}


def reads(client, lng: float, lat: float) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """What the marked read views say about the county and the point's neighbourhood."""
    bbox = f"{lng - 0.01},{lat - 0.01},{lng + 0.01},{lat + 0.01}"
    summary = client.get(f"/api/regions/{COUNTY}/summary?children=0").get_json()
    listed = client.get(f"/api/enterprises?format=json&bbox={bbox}").get_json()
    ogc = client.get(f"/ogc/collections/enterprises/items?bbox={bbox}&limit=100").get_json()
    indicators = client.get(f"/map/indicators.json?region={COUNTY}").get_json()
    _, in_tile = tile_ids(client, lng, lat)
    return {
        "summary": summary["enterprises"],
        "list": {r["id"] for r in listed["items"]},
        "ogc": {f["id"] for f in ogc["features"]},
        "indicators": indicators["enterprises"],
        "tile": in_tile,
    }


def test_marked_reads_come_from_the_standby_and_follow_its_replay(replica_app, replica_db) -> None:  # type: ignore[no-untyped-def]
    repl, owner, name = replica_db["replication"], replica_db["owner"], replica_db["name"]
    client = replica_app.test_client()
    listener = listening(replica_app)
    lng, lat = 100.51, 20.5
    first = add_enterprise(owner, 101, lng, lat)
    repl.standby.catch_up()
    before = reads(client, lng, lat)
    assert before["list"] == before["ogc"] == before["tile"] == {first}

    repl.pause_replay()
    second = add_enterprise(owner, 102, lng + 0.001, lat)
    # The listener (on the primary) has heard the write: the county's pushed token is
    # now newer than the standby's, so nothing is answered from the caches of before ...
    wait_for(heard(listener, token(repl.primary, name)), "the listener hears the write")
    assert token(repl.primary, name) > token(repl.standby, name)
    # ... the primary has it: a record's own JSON is read there (it must see the write) ...
    assert client.get(f"/api/enterprises/{second}").status_code == 200
    # ... while every marked read still answers the standby's state.
    assert reads(client, lng, lat) == before

    repl.resume_replay()
    repl.standby.catch_up()
    after = reads(client, lng, lat)
    assert after["summary"] == before["summary"] + 1
    assert after["indicators"] == before["indicators"] + 1
    assert after["list"] == after["ogc"] == after["tile"] == {first, second}
    # The application's own connections to the standby, as the role it runs as ...
    assert int(repl.standby.psql(
        f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' AND usename = '{APP_ROLE}'"
        " AND application_name LIKE 'geo-service%'")) >= 1
    # ... and its change-token listener on the primary only (NOTIFY never reaches a standby).
    listeners = "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'geo-service-tokens'"
    assert int(repl.primary.psql(listeners.format(name))) >= 1
    assert int(repl.standby.psql(listeners.format(name))) == 0


def test_a_tile_is_never_cached_under_a_token_the_standby_has_not_replayed(replica_app, replica_db) -> None:  # type: ignore[no-untyped-def]
    repl, owner, name = replica_db["replication"], replica_db["owner"], replica_db["name"]
    client = replica_app.test_client()
    listener = listening(replica_app)
    lng, lat = 100.53, 20.5
    first = add_enterprise(owner, 201, lng, lat)
    repl.standby.catch_up()
    wait_for(heard(listener, token(repl.primary, name)), "the listener hears the first write")
    resp, ids = tile_ids(client, lng, lat)
    etag = resp.headers["ETag"]
    assert ids == {first}
    old = tile_tokens(repl.standby, name)
    assert cached_under(replica_app, lng, lat) == {old}
    # asked again with the same tokens everywhere: the browser's copy is current
    assert tile_ids(client, lng, lat, {"If-None-Match": etag})[0].status_code == 304

    repl.pause_replay()
    second = add_enterprise(owner, 202, lng + 0.001, lat)
    applied, committed = token(repl.standby, name), token(repl.primary, name)
    assert committed > applied  # the write moved the primary's token only
    wait_for(heard(listener, committed), "the listener hears the second write")

    # The pushed token is newer than the standby's: the tile is built again from the
    # standby, which has not replayed the write, and tagged with the standby's tokens
    # (the same tag as the browser's copy) ...
    cache = replica_app.extensions["tile_cache"]
    misses = cache.misses
    resp, ids = tile_ids(client, lng, lat, {"If-None-Match": etag})
    assert cache.misses == misses + 1
    assert resp.status_code == 200 and resp.headers["ETag"] == etag and ids == {first}
    # ... and kept only under the tokens the standby has, never under the primary's.
    assert tile_tokens(repl.standby, name) == old != tile_tokens(repl.primary, name)
    assert cached_under(replica_app, lng, lat) == {old}

    repl.resume_replay()
    repl.standby.catch_up()
    resp, ids = tile_ids(client, lng, lat, {"If-None-Match": etag})
    assert resp.status_code == 200 and resp.headers["ETag"] != etag
    assert ids == {first, second}
    new = tile_tokens(repl.standby, name)
    assert new == tile_tokens(repl.primary, name)
    assert cached_under(replica_app, lng, lat) == {old, new}
    # now the pushed and the replayed tokens agree: served from the cache
    hits = cache.hits
    assert tile_ids(client, lng, lat)[1] == {first, second} and cache.hits == hits + 1


def test_a_write_waits_for_the_listener_on_the_primary_whatever_the_standby(replica_app, replica_db) -> None:  # type: ignore[no-untyped-def]
    """The write barrier runs on the primary: a POST answers once this worker's
    listener has heard it, even with the standby's replay paused; the map, read
    from the standby, shows the new enterprise only once it is replayed."""
    repl = replica_db["replication"]
    client = replica_app.test_client()
    listener = listening(replica_app)
    lng, lat = 100.55, 20.5
    _, before = tile_ids(client, lng, lat)
    repl.pause_replay()
    seen = listener.notifications
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lng, lat]},
               "properties": {"credit_code": credit_code(301, COUNTY), "name": "复制测试企业301",
                              "industry": "危险化学品"}}
    r = client.post("/api/enterprises", json=feature)
    assert r.status_code == 201, r.get_json()
    assert listener.notifications > seen  # heard before the POST answered
    new_id = int(r.headers["Location"].rsplit("/", 1)[1])  # /api/enterprises/<id>
    _, paused = tile_ids(client, lng, lat)
    assert paused == before
    repl.resume_replay()
    repl.standby.catch_up()
    _, after = tile_ids(client, lng, lat)
    assert after == before | {new_id}


def test_only_read_only_gets_are_marked_and_records_stay_on_the_primary(app) -> None:  # type: ignore[no-untyped-def]
    marked = {rule.endpoint: rule.methods for rule in app.url_map.iter_rules()
              if getattr(app.view_functions[rule.endpoint], "reads_replica", False)}
    assert {"tiles.tile", "ogc.items", "api.enterprises", "api.region_summary", "map.districts",
            "returns.numbers_json"} <= set(marked)
    for endpoint, methods in marked.items():
        assert methods <= {"GET", "HEAD", "OPTIONS"}, endpoint
    # what must see its own write: a record read back after a change, the page a
    # form redirects to, the return's page (with its archives), the login
    for endpoint in ("api.enterprise", "api.hazard", "api.risk_point", "ledger.hazard_page", "map.index",
                     "returns.page", "auth.login"):
        assert endpoint in app.view_functions and endpoint not in marked, endpoint


def test_health_reports_the_replica(replica_app, replica_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert replica_app.test_client().get("/healthz").get_json() == {"status": "ok", "database": True, "replica": True}
    # a read URL on a socket directory where no server listens
    repl, name = replica_db["replication"], replica_db["name"]
    config = TestConfig(repl.url(repl.primary, name, APP_ROLE), tmp_path / "var")
    config.DATABASE_READ_URL = f"postgresql://{APP_ROLE}@/{name}?host={tmp_path}"
    broken = create_app(config)
    resp = broken.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "degraded", "database": True, "replica": False}
    for key in ("geo_engine", "geo_read_engine"):
        broken.extensions[key].dispose()
