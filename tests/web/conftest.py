"""Fixtures shared by the web tests of accounts and sessions."""

from __future__ import annotations

import pytest
from helpers import PASSWORD
from sqlalchemy import text

from geo_service.services import accounts


@pytest.fixture
def secure_app(app):  # type: ignore[no-untyped-def]
    app.config["LOGIN_REQUIRED"] = True
    return app


@pytest.fixture
def users(session):  # type: ignore[no-untyped-def]
    """One account of each role; the regulator and the read-only user hold region 539901."""
    session.execute(
        text(
            "INSERT INTO region (code, name, level, geom) VALUES ('539901', '测试县', 'county',"
            " ST_Multi(ST_MakeEnvelope(100, 20, 101, 21, 4326)))"
        )
    )
    eid = session.execute(
        text(
            "INSERT INTO enterprise (credit_code, name, industry_code, geom)"
            " VALUES ('91539901MA00000002', '测试化工有限公司', 'hazchem',"
            " ST_SetSRID(ST_MakePoint(100.5, 20.5), 4326)) RETURNING id"
        )
    ).scalar_one()
    made = {
        "admin": accounts.create_user(session, "a", PASSWORD, "admin"),
        "regulator": accounts.create_user(session, "r", PASSWORD, "regulator", region_code="539901"),
        "readonly": accounts.create_user(session, "v", PASSWORD, "readonly", region_code="539901"),
        "enterprise": accounts.create_user(session, "e", PASSWORD, "enterprise", enterprise_id=eid),
    }
    session.commit()
    return made
