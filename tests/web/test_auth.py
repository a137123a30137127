"""Login, sessions, CSRF, throttling, API tokens, roles and security headers."""

from __future__ import annotations

import pytest
from helpers import PASSWORD
from helpers import csrf as _csrf
from sqlalchemy import event, text

from geo_service.services import accounts


def _login(client, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    token = _csrf(client)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def test_anonymous_sees_only_the_login_page(secure_app, client, users):
    resp = client.get("/account")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    api = client.get("/api/enterprises")
    assert api.status_code == 401
    assert api.get_json()["error"] == "unauthorised"
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_login_and_logout(secure_app, client, users):
    resp = _login(client, "r")
    assert resp.status_code == 302
    page = client.get("/account")
    assert page.status_code == 200
    assert "监管人员" in page.get_data(as_text=True)
    token = _csrf(client, "/account")
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/account").status_code == 302


def test_wrong_password_is_refused(secure_app, client, users):
    resp = _login(client, "r", "wrong-password")
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_login_without_csrf_token_is_refused(secure_app, client, users):
    resp = client.post("/login", data={"username": "r", "password": PASSWORD})
    assert resp.status_code == 400
    assert "表单已过期" in resp.get_data(as_text=True)


def test_throttling_refuses_even_the_right_password(secure_app, client, users, session):
    for _ in range(accounts.MAX_FAILURES):
        assert _login(client, "r", "guess-guess").status_code == 401
    resp = _login(client, "r")
    assert resp.status_code == 429
    assert "登录失败次数过多" in resp.get_data(as_text=True)
    failures = session.execute(
        text("SELECT count(*) FROM login_attempt WHERE username = 'r' AND NOT succeeded")
    ).scalar_one()
    assert failures == accounts.MAX_FAILURES


def test_api_token_works_until_revoked(secure_app, client, users, session):
    token = accounts.create_token(session, users["regulator"], "脚本")
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/account", headers=headers).status_code == 200
    token_id = session.execute(text("SELECT id FROM api_token")).scalar_one()
    accounts.revoke_token(session, token_id)
    session.commit()
    resp = client.get("/account", headers=headers)
    assert resp.status_code == 401
    assert client.get("/account", headers={"Authorization": "Bearer gs_nonsense"}).status_code == 401


def test_only_the_hash_of_a_token_is_stored(session, users):
    token = accounts.create_token(session, users["admin"], "x")
    stored = session.execute(text("SELECT token_hash FROM api_token")).scalar_one()
    assert token not in stored and len(stored) == 64


def test_read_only_account_cannot_write(secure_app, client, users, session):
    token = accounts.create_token(session, users["readonly"], "x")
    session.commit()
    resp = client.post("/api/hazards", json={}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403
    assert "只读" in resp.get_json()["message"]


def test_audit_log_is_for_administrators(secure_app, client, users, session):
    for role, expected in (("regulator", 403), ("admin", 200)):
        token = accounts.create_token(session, users[role], "x")
        session.commit()
        resp = client.get("/admin/audit", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == expected


def test_token_creation_is_audited(secure_app, client, users, session):
    _login(client, "r")
    client.post("/account/tokens", data={"name": "同步", "csrf_token": _csrf(client, "/account")})
    row = session.execute(
        text("SELECT actor, action, object_type FROM audit_log ORDER BY id DESC LIMIT 1")
    ).one()
    assert tuple(row) == (users["regulator"].display_name, "create", "api_token")


def test_security_headers(secure_app, client, users):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_session_cookie_is_httponly_and_samesite(secure_app, client, users):
    resp = _login(client, "r")
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_passwords_are_hashed_with_a_current_algorithm(users):
    assert users["admin"].password_hash.startswith("scrypt:")
    assert PASSWORD not in users["admin"].password_hash


def test_short_password_is_refused(session):
    with pytest.raises(accounts.InvalidParameter, match="密码至少"):
        accounts.create_user(session, "x", "short", "admin")


def test_regulator_needs_an_existing_region(session):
    with pytest.raises(accounts.InvalidParameter, match="行政区划"):
        accounts.create_user(session, "x", PASSWORD, "regulator", region_code="999999")


def test_scope_follows_the_role(users):
    assert accounts.scope_for(users["admin"]).unrestricted
    assert accounts.scope_for(users["regulator"]).region == "539901"
    assert accounts.scope_for(users["enterprise"]).enterprise_id == users["enterprise"].enterprise_id
    assert not accounts.actor_for(users["enterprise"]).may("verify")
    assert accounts.actor_for(users["regulator"]).may("verify")


def test_static_files_read_nothing_from_the_database_when_signed_in(secure_app, client, users):
    # the map page names some twenty static files: none of them should load the account
    assert _login(client, "r").status_code == 302
    statements: list[str] = []

    def note(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]  # noqa: ARG001
        if not statement.endswith("ROLE geo_app") and statement != "RESET ROLE":  # the tests' own role switch
            statements.append(statement)

    bind = secure_app.extensions["geo_bind"]
    event.listen(bind, "before_cursor_execute", note)
    try:
        with client.get("/static/css/app.css") as resp:
            assert resp.status_code == 200
        assert statements == []
        assert client.get("/account").status_code == 200 and statements  # a page does read the account
        with client.post("/static/css/app.css") as resp:
            assert resp.status_code in (400, 403, 405)
    finally:
        event.remove(bind, "before_cursor_execute", note)
