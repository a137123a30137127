"""The demo accounts: one of each role, the enterprise account on a busy enterprise."""

from __future__ import annotations

from sqlalchemy import text

from geo_service.services import accounts


def _world(session) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """州 532500 with 蒙自市 532503: a quieter enterprise (lower id, one open hazard) and a busier one (two)."""
    session.execute(text(
        "INSERT INTO region (code, name, level, parent_code, geom) VALUES"
        " ('532500', '红河州', 'prefecture', NULL, ST_Multi(ST_MakeEnvelope(102, 22, 104, 24, 4326))),"
        " ('532503', '蒙自市', 'county', '532500', ST_Multi(ST_MakeEnvelope(103, 23, 104, 24, 4326)))"))
    ids = []
    for code, name in (("91532503MA0000001", "蒙自甲商贸部"), ("91532503MA0000002", "蒙自乙化工厂")):
        from geo_service.geo import credit_check_char

        ids.append(session.execute(text(
            "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
            " (:c, :n, 'trade', ST_SetSRID(ST_MakePoint(103.5, 23.5), 4326)) RETURNING id"),
            {"c": code + credit_check_char(code), "n": name}).scalar_one())
    quiet, busy = ids
    session.execute(text(
        "INSERT INTO hazard (enterprise_id, description, level, source, found_on, state) VALUES"
        " (:q, '应急照明灯不亮', 'general', 'self', '2026-01-05', 'registered'),"
        " (:b, '消防通道堵塞', 'general', 'inspection', '2026-10-05', 'registered'),"
        " (:b, '配电箱未接地', 'general', 'inspection', '2026-10-06', 'rectifying')"),
        {"q": quiet, "b": busy})
    return quiet, busy


def test_demo_accounts_one_of_each_role_once(session):
    _quiet, busy = _world(session)
    created = accounts.ensure_demo_users(session)
    assert created == [u.username for u in accounts.DEMO_USERS]
    roles = dict(session.execute(text("SELECT username, role FROM app_user")).all())
    assert set(roles.values()) == {"admin", "regulator", "readonly", "enterprise"}
    owner = session.execute(text("SELECT enterprise_id FROM app_user WHERE role = 'enterprise'")).scalar_one()
    assert owner == busy  # the enterprise with open hazards, so the account has work to do
    assert accounts.ensure_demo_users(session) == []  # idempotent
    for demo in accounts.DEMO_USERS:  # the README's passwords work
        assert accounts.authenticate(session, demo.username, demo.password, "127.0.0.1").username == demo.username
