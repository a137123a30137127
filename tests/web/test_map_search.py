"""The map's search box: enterprises by name or credit code, within the
caller's jurisdiction, through the trigram indexes of migration 0012.

The register is the hand-made one of ``browser/map_world.py``: four of its
seven enterprises have 开远 in their name (c, d, e, g, all in 开远市 532502);
enterprise a (红河化工有限公司) is in 个旧市 532501.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from browser.map_world import ENTERPRISES, build
from helpers import credit_code

from geo_service.queries.enterprises import suggest
from geo_service.queries.scope import Scope


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    return build(session)


def test_suggestions_by_part_of_the_name(client, world):  # type: ignore[no-untyped-def]
    body = client.get("/map/search.json?q=开远").get_json()
    names = sorted(r["name"] for r in body["results"])
    expected = sorted(e["name"] for e in ENTERPRISES.values() if "开远" in e["name"])
    assert len(expected) == 4 and names == expected
    c = next(r for r in body["results"] if r["name"] == ENTERPRISES["c"]["name"])
    assert (c["lng"], c["lat"]) == ENTERPRISES["c"]["lnglat"] and c["id"] == world.ids["c"]


def test_a_credit_code_finds_its_enterprise_first(client, world):  # type: ignore[no-untyped-def]
    code = credit_code(1)  # enterprise a, the first one built
    body = client.get(f"/map/search.json?q={code.lower()}").get_json()
    assert body["results"][0]["id"] == world.ids["a"]
    assert body["results"][0]["credit_code"] == code
    # part of a code finds it too
    assert world.ids["a"] in [r["id"] for r in client.get(f"/map/search.json?q={code[2:12]}").get_json()["results"]]


def test_too_short_or_unknown_terms_find_nothing(client, world):  # type: ignore[no-untyped-def]
    assert client.get("/map/search.json?q=开").get_json()["results"] == []
    assert client.get("/map/search.json?q=不存在的企业").get_json()["results"] == []
    assert client.get("/map/search.json?q=" + "长" * 101).status_code == 400


def test_suggestions_stay_in_the_jurisdiction(session, world):  # type: ignore[no-untyped-def]
    gejiu = Scope(region="532501")
    assert session.execute(suggest("开远", scope=gejiu)).all() == []
    assert [r.name for r in session.execute(suggest("红河", scope=gejiu))] == [ENTERPRISES["a"]["name"]]
    own = Scope(enterprise_id=world.ids["d"])
    assert [r.id for r in session.execute(suggest("开远", scope=own))] == [world.ids["d"]]


def test_the_search_reads_the_trigram_indexes(session, world):  # type: ignore[no-untyped-def]
    # With so few rows the planner would rather scan the table; forbid that to see
    # that the two ILIKE clauses can be answered from the indexes at all.
    session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    stmt = suggest("开远燃气", scope=Scope())
    sql = str(stmt.compile(dialect=session.bind.dialect, compile_kwargs={"literal_binds": True}))
    plan = "\n".join(r[0] for r in session.execute(sa.text("EXPLAIN " + sql)))
    assert "ix_enterprise_name_trgm" in plan and "ix_enterprise_credit_code_trgm" in plan, plan
