"""Sessions end when they should, passwords are changed safely, ``next=`` stays
on this site, and an unknown user name costs one password hash like a known one.

"Another device" is a second test client signed in as the same account; a
"stolen cookie" is the session cookie copied to a fresh client, replayed
after the account's sessions were ended.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from helpers import PASSWORD
from helpers import csrf as _csrf
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo_service import create_app
from geo_service.cli import main
from geo_service.config import TestConfig
from geo_service.errors import InvalidParameter
from geo_service.models import User
from geo_service.services import accounts

NEW_PASSWORD = "battery-staple-42"


def _login(client, username: str = "r", password: str = PASSWORD, next_: str | None = None):  # type: ignore[no-untyped-def]
    token = _csrf(client)
    url = "/login" if next_ is None else f"/login?next={next_}"
    return client.post(url, data={"username": username, "password": password, "csrf_token": token})


def _signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    resp = client.get("/account")
    assert resp.status_code in (200, 302)
    return resp.status_code == 200


def _stolen(app, client):  # type: ignore[no-untyped-def]
    """A fresh client holding a copy of ``client``'s session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value, domain=cookie.domain)
    return thief


# --------------------------------------------------------------------------- ending sessions


def test_logout_ends_every_session_of_the_account(secure_app, users):
    laptop, phone = secure_app.test_client(), secure_app.test_client()
    _login(laptop)
    _login(phone)
    thief = _stolen(secure_app, laptop)
    assert _signed_in(laptop) and _signed_in(phone) and _signed_in(thief)
    laptop.post("/logout", data={"csrf_token": _csrf(laptop, "/account")})
    assert not _signed_in(laptop)
    assert not _signed_in(phone)
    assert not _signed_in(thief)  # the copied cookie is worthless after logout
    assert _login(phone).status_code == 302 and _signed_in(phone)  # signing in again works


def test_password_change_ends_the_other_sessions_and_keeps_this_one(secure_app, users, session):
    laptop, phone = secure_app.test_client(), secure_app.test_client()
    _login(laptop)
    _login(phone)
    thief = _stolen(secure_app, laptop)
    resp = laptop.post("/account/password", data={
        "old_password": PASSWORD, "password": NEW_PASSWORD, "password2": NEW_PASSWORD,
        "csrf_token": _csrf(laptop, "/account/password")})
    assert resp.status_code == 303
    page = laptop.get("/account")
    assert page.status_code == 200 and "密码已修改" in page.get_data(as_text=True)
    assert not _signed_in(phone) and not _signed_in(thief)
    assert _login(secure_app.test_client(), "r", PASSWORD).status_code == 401
    assert _login(secure_app.test_client(), "r", NEW_PASSWORD).status_code == 302
    actions = session.execute(text(
        "SELECT action FROM audit_log WHERE object_type = 'app_user' AND object_id = :u"),
        {"u": str(users["regulator"].id)}).scalars().all()
    assert actions == ["set_password"]


def test_disable_then_enable_ends_earlier_sessions(secure_app, users, session):
    laptop = secure_app.test_client()
    _login(laptop)
    assert _signed_in(laptop)
    user = session.get(User, users["regulator"].id)
    accounts.set_active(user, False)
    session.commit()
    accounts.set_active(user, True)
    session.commit()
    assert not _signed_in(laptop)
    assert _login(laptop).status_code == 302 and _signed_in(laptop)


def test_cli_passwd_disable_and_enable_end_sessions(make_database, monkeypatch, tmp_path):
    """``geo-service user passwd`` and ``disable``/``enable`` as an operator runs them."""
    url = make_database()
    engine = create_engine(url)
    with Session(engine) as s:
        accounts.create_user(s, "li", PASSWORD, "admin")
        s.commit()
    app = create_app(TestConfig(url, tmp_path / "var"))
    app.config["LOGIN_REQUIRED"] = True
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("GEO_SERVICE_VAR", str(tmp_path / "cli-var"))

    def cli(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)

    try:
        browser = app.test_client()
        assert _login(browser, "li").status_code == 302 and _signed_in(browser)
        # too short, and a published demo password: refused, nothing changes
        short = cli("user", "passwd", "li", "--password-stdin", stdin="nine-char\n")
        assert short.exit_code != 0 and "密码至少 10 位" in short.output
        demo = cli("user", "passwd", "li", "--password-stdin", stdin="admin-demo-2026\n")
        assert demo.exit_code != 0 and "演示密码" in demo.output
        assert _signed_in(browser)
        assert cli("user", "passwd", "li", "--password-stdin", stdin=NEW_PASSWORD + "\n").exit_code == 0
        assert not _signed_in(browser)
        assert _login(browser, "li", NEW_PASSWORD).status_code == 302 and _signed_in(browser)
        assert cli("user", "disable", "li").exit_code == 0
        assert cli("user", "enable", "li").exit_code == 0
        assert not _signed_in(browser)
    finally:
        app.extensions["geo_engine"].dispose()
        engine.dispose()


# --------------------------------------------------------------------------- the 修改密码 page


@pytest.mark.parametrize("role", ["admin", "regulator", "readonly", "enterprise"])
def test_every_role_reaches_the_password_page_from_the_nav(secure_app, client, users, role):
    _login(client, users[role].username)
    nav = client.get("/account").get_data(as_text=True)
    assert 'href="/account/password">修改密码</a>' in nav
    page = client.get("/account/password")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="old_password"' in html and 'name="password2"' in html and "csrf_token" in html
    resp = client.post("/account/password", data={
        "old_password": PASSWORD, "password": NEW_PASSWORD, "password2": NEW_PASSWORD,
        "csrf_token": _csrf(client, "/account/password")})
    assert resp.status_code == 303  # a read-only account may change its own password


@pytest.mark.parametrize(("old", "new", "again", "message"), [
    ("wrong-password-1", NEW_PASSWORD, NEW_PASSWORD, "原密码不正确"),
    (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "两次输入的新密码不一致"),
    (PASSWORD, "nine-char", "nine-char", "密码至少 10 位"),
    (PASSWORD, "regulator-demo-2026", "regulator-demo-2026", "不能使用公开的演示密码"),
])
def test_password_page_refuses_with_the_reason(secure_app, client, users, old, new, again, message):
    _login(client)
    resp = client.post("/account/password", data={
        "old_password": old, "password": new, "password2": again,
        "csrf_token": _csrf(client, "/account/password")})
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert _signed_in(client)
    assert _login(secure_app.test_client(), "r", PASSWORD).status_code == 302  # unchanged


def test_guessing_the_old_password_is_throttled_like_a_login(secure_app, client, users):
    _login(client)
    for _ in range(accounts.MAX_FAILURES):
        resp = client.post("/account/password", data={
            "old_password": "guess-guess-1", "password": NEW_PASSWORD, "password2": NEW_PASSWORD,
            "csrf_token": _csrf(client, "/account/password")})
        assert resp.status_code == 400
    resp = client.post("/account/password", data={
        "old_password": PASSWORD, "password": NEW_PASSWORD, "password2": NEW_PASSWORD,
        "csrf_token": _csrf(client, "/account/password")})
    assert resp.status_code == 429 and "登录失败次数过多" in resp.get_data(as_text=True)


def test_password_page_needs_the_csrf_token(secure_app, client, users):
    _login(client)
    resp = client.post("/account/password", data={
        "old_password": PASSWORD, "password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert resp.status_code == 400
    assert _login(secure_app.test_client(), "r", PASSWORD).status_code == 302  # unchanged


def test_minimum_length_follows_the_setting(secure_app, client, users):
    secure_app.config["MIN_PASSWORD_LENGTH"] = 20
    _login(client)
    resp = client.post("/account/password", data={
        "old_password": PASSWORD, "password": NEW_PASSWORD, "password2": NEW_PASSWORD,
        "csrf_token": _csrf(client, "/account/password")})
    assert resp.status_code == 400 and "密码至少 20 位" in resp.get_data(as_text=True)


def test_passwords_have_a_minimum_length_and_are_never_a_demo_password(session):
    with pytest.raises(InvalidParameter, match="密码至少 10 位"):
        accounts.create_user(session, "x", "123456789", "admin")
    accounts.create_user(session, "y", "1234567890", "admin")
    for demo in accounts.DEMO_USERS:
        with pytest.raises(InvalidParameter, match="演示密码"):
            accounts.create_user(session, "z", demo.password, "admin")
    user = accounts.create_user(session, "w", PASSWORD, "admin")
    with pytest.raises(InvalidParameter, match="演示密码"):
        accounts.set_password(user, "admin-demo-2026")


# --------------------------------------------------------------------------- next=


@pytest.mark.parametrize("target", [
    "/%09/evil.example", "/%0a/x", "/%0d/x", "/%00/x", "/%7f/x", "//evil.example", "https://evil.example",
    "/%5Cevil.example", "/\\evil.example", "%2F%2Fevil.example", "javascript:alert(1)",
])
def test_login_next_refuses_anything_but_a_path_on_this_site(secure_app, client, users, target):
    resp = _login(client, next_=target)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"  # the home page (the map), never the given target


def test_login_next_keeps_a_path_on_this_site(secure_app, client, users):
    resp = _login(client, next_="/hazards%3Fregion%3D539901")
    assert resp.status_code == 302 and resp.headers["Location"] == "/hazards?region=539901"


# --------------------------------------------------------------------------- login timing


@pytest.mark.parametrize(("username", "password"), [
    ("nobody-here", PASSWORD),  # unknown user name
    ("r", "wrong-password"),  # known, wrong password
    ("r", PASSWORD),  # known, right password
])
def test_every_login_costs_exactly_one_password_hash(secure_app, client, users, monkeypatch, username, password):
    calls: list[str] = []
    real = accounts.check_password_hash

    def spy(pwhash: str, pw: str) -> bool:
        calls.append(pwhash.split("$", 1)[0])
        return real(pwhash, pw)

    monkeypatch.setattr(accounts, "check_password_hash", spy)
    _login(client, username, password)
    assert len(calls) == 1
    # the same scheme and cost as the real hashes
    assert calls[0] == users["regulator"].password_hash.split("$", 1)[0]


def test_a_disabled_account_costs_one_password_hash_too(secure_app, client, users, session, monkeypatch):
    session.execute(text("UPDATE app_user SET active = false WHERE username = 'r'"))
    session.commit()
    calls: list[int] = []
    real = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda h, p: calls.append(1) or real(h, p))
    assert _login(client).status_code == 401
    assert calls == [1]
