"""Migration 0004 (accountability) on a register that already holds hazards:
origin from the source, the accounts from the events, the free-text 验收人 kept;
and back down again.

Rows before the migration (written with the pre-0004 columns only):

* h_self    企业自查, 已登记, registered by the enterprise account → origin enterprise.
* h_insp    部门检查, 已整改: registered by regulator A, rectified by the enterprise
            account → origin regulator, rectified_by = enterprise.
* h_closed  举报, 已验收销号, signed off by regulator B with the free text 验收人
            "县应急局 赵六" → verifier_id = B, the text kept.
"""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from helpers import box, credit_code
from sqlalchemy import create_engine, text

from geo_service import db


def test_upgrade_backfills_and_downgrade_drops(make_database):
    url = make_database()
    cfg = db.alembic_config(url)
    before = ScriptDirectory.from_config(cfg).get_revision("0004").down_revision
    command.downgrade(cfg, before)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO region (code, name, level, geom) VALUES ('532501', '个旧市', 'county', "
                              "ST_GeomFromEWKT(:g))"), {"g": box(103, 23, 103.5, 24)})
            ent = conn.execute(text(
                "INSERT INTO enterprise (credit_code, name, industry_code, region_code, geom) VALUES "
                "(:c, '机械厂', 'trade.machinery', '532501', ST_GeomFromEWKT('SRID=4326;POINT(103.3 23.4)')) "
                "RETURNING id"), {"c": credit_code(7)}).scalar_one()
            users = {}
            for name, role, where in [("qiye", "enterprise", f"enterprise_id = {ent}"),
                                      ("a", "regulator", "region_code = '532501'"),
                                      ("b", "regulator", "region_code = '532501'")]:
                column = where.split(" = ")[0]
                users[name] = conn.execute(text(
                    f"INSERT INTO app_user (username, display_name, password_hash, role, {column}) "
                    f"VALUES (:u, :u, '!', :r, {where.split(' = ')[1]}) RETURNING id"),
                    {"u": name, "r": role}).scalar_one()

            def hazard(desc: str, source: str, state: str, extra: str = "", values: str = "") -> int:
                return conn.execute(text(
                    f"INSERT INTO hazard (enterprise_id, description, level, source, found_on, state{extra}) "
                    f"VALUES (:e, :d, 'general', :s, '2026-03-01', :st{values}) RETURNING id"),
                    {"e": ent, "d": desc, "s": source, "st": state}).scalar_one()

            h_self = hazard("护栏缺失", "self", "registered")
            h_insp = hazard("配电箱未接地", "inspection", "rectified", ", rectified_on", ", '2026-03-05'")
            h_closed = hazard("通道堵塞", "report", "closed", ", rectified_on, verified_on, verifier",
                              ", '2026-03-05', '2026-03-06', '县应急局 赵六'")
            path = [(None, "registered"), ("registered", "rectifying"), ("rectifying", "rectified"),
                    ("rectified", "closed")]
            trail = {h_self: ["qiye"], h_insp: ["a", "a", "qiye"], h_closed: ["a", "qiye", "qiye", "b"]}
            for hid, actors in trail.items():
                for (a, b), who in zip(path, actors, strict=False):
                    conn.execute(text("INSERT INTO hazard_event (hazard_id, actor, user_id, from_state, to_state) "
                                      "VALUES (:h, :who, :u, :a, :b)"),
                                 {"h": hid, "who": who, "u": users[who], "a": a, "b": b})
        db.upgrade(url)
        with engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(text(
                "SELECT id, origin, created_by_id, rectified_by_id, verifier_id, verifier, rectification_note "
                "FROM hazard"))}
        assert (rows[h_self].origin, rows[h_self].created_by_id) == ("enterprise", users["qiye"])
        assert (rows[h_insp].origin, rows[h_insp].created_by_id, rows[h_insp].rectified_by_id) == (
            "regulator", users["a"], users["qiye"])
        assert (rows[h_closed].origin, rows[h_closed].verifier_id, rows[h_closed].verifier) == (
            "regulator", users["b"], "县应急局 赵六")
        assert all(r.rectification_note is None for r in rows.values())
        command.downgrade(cfg, before)
        with engine.connect() as conn:
            columns = set(conn.execute(text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'hazard'")).scalars())
            kept = conn.execute(text("SELECT verifier FROM hazard WHERE id = :h"), {"h": h_closed}).scalar()
        assert not columns & {"origin", "created_by_id", "rectified_by_id", "verifier_id", "rectification_note"}
        assert kept == "县应急局 赵六"
        db.upgrade(url)
    finally:
        engine.dispose()
