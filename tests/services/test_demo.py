"""The demo register, loaded once into its own database (committed, like ``make run``)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from geo_service import db
from geo_service.config import Config
from geo_service.queries import metrics
from geo_service.queries.dual_prevention import month_end
from geo_service.queries.scope import ALL
from geo_service.services import demo, returns
from geo_service.services.maprender import MapStyle, grade_counts, load_map_data

TODAY = dt.date(2026, 11, 24)
SEED = 7
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def check_char(first17: str) -> str:
    """GB 32100 check character, written out independently of geo_service.geo."""
    s = sum(CHARSET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=False))
    return CHARSET[(31 - s % 31) % 31]


@pytest.fixture(scope="module")
def demo_db(make_database):
    """A database loaded by the demo, then loaded again to show nothing duplicates."""
    url = make_database()
    engine = db.make_engine(url)
    with Session(engine) as session:
        first = demo.load(session, today=TODAY, seed=SEED)
        session.commit()
        second = demo.load(session, today=TODAY, seed=SEED)
        session.commit()
    yield engine, first, second
    engine.dispose()


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def test_counts_in_range_and_second_load_adds_nothing(demo_db):
    engine, first, second = demo_db
    assert first.regions == 14  # 红河州 and its 13 counties
    assert first.enterprises == 2000
    assert 1.5 * 2000 <= first.risk_points <= 4 * 2000
    assert 1000 <= first.hazards <= 8000
    assert second.enterprises == second.risk_points == second.hazards == 0
    assert scalar(engine, "SELECT count(*) FROM enterprise") == 2000
    assert scalar(engine, "SELECT count(*) FROM region WHERE level = 'county' AND parent_code = '532500'") == 13


def test_every_enterprise_lies_in_its_county(demo_db):
    engine = demo_db[0]
    outside = scalar(engine, """
        SELECT count(*) FROM enterprise e JOIN region r ON r.code = e.region_code
         WHERE r.level <> 'county' OR NOT ST_Covers(r.geom, e.geom)""")
    assert outside == 0
    assert scalar(engine, "SELECT count(*) FROM enterprise WHERE region_code IS NULL") == 0
    # denser around the big four (蒙自, 个旧, 开远, 弥勒) than in the small southern counties
    big = scalar(engine, "SELECT count(*) FROM enterprise WHERE region_code IN ('532501','532502','532503','532504')")
    assert big > 2000 * 0.4


def test_every_credit_code_is_valid_and_carries_a_honghe_region(demo_db):
    engine = demo_db[0]
    with engine.connect() as conn:
        codes = conn.execute(sa.text("SELECT credit_code FROM enterprise")).scalars().all()
    assert len(set(codes)) == len(codes) == 2000
    bad = [c for c in codes if check_char(c[:17]) != c[17] or any(ch not in CHARSET for ch in c)]
    assert bad == []
    assert all(c[2:6] == "5325" for c in codes)


def test_grade_mix_and_overrides(demo_db):
    engine = demo_db[0]
    with engine.connect() as conn:
        mix = dict(conn.execute(sa.text("SELECT grade_auto, count(*) FROM enterprise GROUP BY 1")).all())
        # the trigger's grade_auto is the highest (lowest number) grade of the risk points
        wrong = conn.execute(sa.text("""
            SELECT count(*) FROM enterprise e
             WHERE e.grade_auto IS DISTINCT FROM (SELECT min(grade) FROM risk_point WHERE enterprise_id = e.id)
        """)).scalar()
        overridden = conn.execute(sa.text(
            "SELECT count(*) FROM enterprise WHERE grade_override IS NOT NULL AND grade = grade_override")).scalar()
    assert wrong == 0
    assert mix.get(None, 0) > 0  # some enterprises have no risk points yet
    graded = sum(v for k, v in mix.items() if k is not None)
    share = {k: mix.get(k, 0) / graded for k in (1, 2, 3, 4)}
    assert 0.01 <= share[1] <= 0.07 and 0.07 <= share[2] <= 0.18
    assert 0.28 <= share[3] <= 0.45 and 0.40 <= share[4] <= 0.60
    assert overridden >= 5


def test_risk_point_scores_agree_with_their_grade(demo_db):
    engine = demo_db[0]
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT method, score, grade, method_params FROM risk_point")).all()
    for method, score, grade, params in rows:
        if method == "LEC":
            assert float(score) == pytest.approx(params["L"] * params["E"] * params["C"])
            d = float(score)
            expected = 1 if d > 320 else 2 if d > 160 else 3 if d > 70 else 4
        else:
            assert method == "LS" and float(score) == params["L"] * params["S"]
            r = float(score)
            expected = 1 if r >= 20 else 2 if r >= 10 else 3 if r >= 4 else 4
        assert grade == expected, (method, score, grade)
    assert scalar(engine, "SELECT count(*) FROM risk_point WHERE controls_implemented") > 0


def test_hazards_cover_every_state_with_consistent_dates(demo_db):
    engine = demo_db[0]
    with engine.connect() as conn:
        states = dict(conn.execute(sa.text("SELECT state, count(*) FROM hazard GROUP BY 1")).all())
        overdue = conn.execute(sa.text(
            "SELECT count(*) FROM hazard WHERE state IN ('registered','rectifying') AND deadline < :d"),
            {"d": TODAY}).scalar()
        inconsistent = conn.execute(sa.text("""
            SELECT count(*) FROM hazard WHERE found_on > :d OR found_on < :d - 365
                OR deadline < found_on OR rectified_on < found_on OR verified_on < rectified_on
                OR (state IN ('rectified','closed')) <> (rectified_on IS NOT NULL)
                OR (state = 'closed') <> (verified_on IS NOT NULL)"""), {"d": TODAY}).scalar()
        major = conn.execute(sa.text("SELECT count(*) FILTER (WHERE level = 'major')::float / count(*) FROM hazard")).scalar()
        sources = set(conn.execute(sa.text("SELECT DISTINCT source FROM hazard")).scalars())
        supervised_without_doc = conn.execute(sa.text(
            "SELECT count(*) FROM hazard WHERE source = 'supervised' AND supervision_doc_no IS NULL")).scalar()
    assert set(states) == {"registered", "rectifying", "rectified", "closed"}
    assert overdue > 0
    assert inconsistent == 0
    assert 0.05 <= major <= 0.15
    assert sources == {"self", "inspection", "supervised", "report"}
    assert supervised_without_doc == 0


def test_origin_and_sign_off_follow_the_accountability_rules(demo_db):
    """企业自查 is the enterprise's own report; every closed hazard carries a 验收意见 and was
    signed off by someone other than whoever recorded its last 整改完成."""
    engine = demo_db[0]
    with engine.connect() as conn:
        wrong_origin = conn.execute(sa.text(
            "SELECT count(*) FROM hazard WHERE origin <> CASE WHEN source = 'self' THEN 'enterprise'"
            " ELSE 'regulator' END")).scalar()
        closed_major = conn.execute(sa.text(
            "SELECT count(*) FROM hazard WHERE state = 'closed' AND level = 'major'")).scalar()
        without_opinion = conn.execute(sa.text(
            "SELECT count(*) FROM hazard WHERE state = 'closed' AND coalesce(verification_note, '') = ''")).scalar()
        self_signed = conn.execute(sa.text("""
            SELECT count(*) FROM hazard h
             WHERE h.state = 'closed'
               AND h.verifier = (SELECT ev.actor FROM hazard_event ev
                                  WHERE ev.hazard_id = h.id AND ev.to_state = 'rectified'
                                  ORDER BY ev.at DESC, ev.id DESC LIMIT 1)""")).scalar()
    assert wrong_origin == 0
    assert closed_major > 0 and without_opinion == 0 and self_signed == 0


def test_each_hazard_history_leads_to_its_state(demo_db):
    engine = demo_db[0]
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT h.id, h.state, array_agg(ev.from_state ORDER BY ev.at, ev.id),
                   array_agg(ev.to_state ORDER BY ev.at, ev.id)
              FROM hazard h JOIN hazard_event ev ON ev.hazard_id = h.id GROUP BY h.id, h.state""")).all()
        n_hazards = conn.execute(sa.text("SELECT count(*) FROM hazard")).scalar()
    assert len(rows) == n_hazards  # every hazard has a history
    legal = {("registered", "rectifying"), ("rectifying", "rectified"), ("rectified", "closed"),
             ("rectified", "rectifying")}
    for _, state, froms, tos in rows:
        assert froms[0] is None and tos[0] == "registered"
        assert tos[-1] == state
        for i in range(1, len(tos)):
            assert froms[i] == tos[i - 1] and (froms[i], tos[i]) in legal


def test_same_seed_and_today_give_the_same_register():
    a = demo.build(TODAY, seed=SEED, n_enterprises=150)
    b = demo.build(TODAY, seed=SEED, n_enterprises=150)
    c = demo.build(TODAY, seed=SEED + 1, n_enterprises=150)
    assert a == b
    assert a.enterprises != c.enterprises


def test_load_if_empty_loads_once(make_database):
    url = make_database()
    assert demo.load_if_empty(url) is True
    assert demo.load_if_empty(url) is False  # a second `make run`: nothing added
    engine = db.make_engine(url)
    try:
        assert scalar(engine, "SELECT count(*) FROM enterprise") == 2000
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the register's past

OCTOBER = metrics.period(2026, 10)  # the month before TODAY's: the return an official signs now


def grades_then(at: dt.datetime, county: str | None = None) -> dict[str, int | None]:
    """credit code → effective grade at ``at`` of the enterprises registered by then, worked out
    from the pure register :func:`demo.build` gives (not from the database's grade history):
    the explicit grade, else the highest grade of the risk points recorded by then, each with
    the grade it had then (a point re-assessed after ``at`` had its previous one)."""
    reg = demo.build(TODAY, seed=SEED)
    points: dict[str, list[int]] = {}
    for rp in reg.risk_points:
        if rp["created_at"] <= at:
            g = rp["previous"]["grade"] if rp["regraded_at"] and rp["regraded_at"] > at else rp["grade"]
            points.setdefault(rp["credit_code"], []).append(g)
    out: dict[str, int | None] = {}
    for e in reg.enterprises:
        if e["created_at"] <= at and (county is None or e["region_code"] == county):
            out[e["credit_code"]] = e["grade_override"] or min(points.get(e["credit_code"], []), default=None)
    return out


def test_last_months_map_draws_the_register_as_it_was(demo_db):
    engine = demo_db[0]
    end = month_end(OCTOBER.month_start)  # 1 Nov 2026 00:00 China time
    with Session(engine) as session:
        data = load_map_data(session, "532500", OCTOBER, scope=ALL, as_of_month=True)
        code_of = dict(session.execute(sa.text("SELECT id, credit_code FROM enterprise")).all())
        registered = session.execute(sa.text("SELECT count(*) FROM enterprise WHERE created_at <= :t"),
                                     {"t": end}).scalar_one()
        now = dict(session.execute(sa.text("SELECT id, grade FROM enterprise")).all())
    drawn = {code_of[eid]: grade for eid, _name, grade, _x, _y in data.enterprises}
    expected = grades_then(end)
    assert len(drawn) == registered == len(expected)
    assert 1900 < registered < 2000  # a few enterprises were registered in November
    assert drawn == expected
    # the grades of then are not those of now: this month's re-assessments
    by_code = {code_of[eid]: g for eid, g in now.items()}
    changed = [c for c, g in drawn.items() if g != by_code[c]]
    assert 5 < len(changed) < 100
    counts = grade_counts(data)
    assert sum(counts.values()) == registered and all(counts[g] > 0 for g in (1, 2, 3, 4))


def test_the_previous_months_return_package_draws_the_county(demo_db, tmp_path):
    engine = demo_db[0]
    end = month_end(OCTOBER.month_start)
    expected: dict[int | None, int] = {1: 0, 2: 0, 3: 0, 4: 0, None: 0}
    for g in grades_then(end, county="532532").values():
        expected[g] += 1
    with Session(engine) as session:
        style = MapStyle.from_config(Config(var_dir=tmp_path))
        bundle = returns.build_bundle(session, "532532", OCTOBER, scope=ALL, style=style, by="演示")
        session.rollback()
    assert bundle.map_grades["532532"] == expected
    assert sum(expected.values()) > 50  # 河口县's map is not empty


def test_grade_events_follow_the_registers_history(demo_db):
    """No grade event before its enterprise was registered, nor after TODAY; each risk point's
    first event is at its recording, in the afternoon of its assessment (or of the one before)."""
    engine = demo_db[0]
    early = scalar(engine, "SELECT count(*) FROM grade_event g JOIN enterprise e ON e.id = g.enterprise_id"
                           " WHERE g.at < e.created_at")
    late = scalar(engine, "SELECT count(*) FROM grade_event WHERE at >= :t",
                  t=dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time(0), tzinfo=demo._BEIJING))
    first_not_at_creation = scalar(engine, """
        SELECT count(*) FROM risk_point r
         WHERE (SELECT min(at) FROM grade_event g WHERE g.risk_point_id = r.id) <> r.created_at""")
    regraded = scalar(engine, "SELECT count(DISTINCT risk_point_id) FROM grade_event"
                              " WHERE kind = 'risk_point' AND from_grade IS NOT NULL AND at >= '2026-11-01 00:00+08'")
    assert (early, late, first_not_at_creation) == (0, 0, 0)
    assert regraded == sum(1 for rp in demo.build(TODAY, seed=SEED).risk_points if rp["regraded_at"])
