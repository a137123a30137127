"""``geo-service user …``, ``backup`` and ``restore`` as an operator runs them."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from geo_service.cli import main


def _run(args: list[str], url: str, monkeypatch, stdin: str | None = None):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", url)
    return CliRunner().invoke(main, args, input=stdin, catch_exceptions=False)


def test_user_commands(make_database, monkeypatch, tmp_path):
    url = make_database()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO region (code, name, level, geom) VALUES ('539901', '测试县', 'county',"
            " ST_Multi(ST_MakeEnvelope(100, 20, 101, 21, 4326)))"))
    added = _run(["user", "add", "li", "--role", "regulator", "--region", "539901", "--name", "李科员",
                  "--password-stdin"], url, monkeypatch, "long-enough-pw\n")
    assert added.exit_code == 0 and "已新增账号 li（监管人员）" in added.output
    # a region that does not exist is refused with the reason, and nothing is added
    bad = _run(["user", "add", "wang", "--role", "regulator", "--region", "999999", "--password-stdin"],
               url, monkeypatch, "long-enough-pw\n")
    assert bad.exit_code != 0 and "行政区划" in bad.output
    listed = _run(["user", "list"], url, monkeypatch)
    assert "li" in listed.output and "wang" not in listed.output
    token = _run(["user", "token", "li", "--name", "同步"], url, monkeypatch).output.strip()
    assert token.startswith("gs_")
    assert _run(["user", "disable", "li"], url, monkeypatch).exit_code == 0
    with engine.connect() as conn:
        active, hashed = conn.execute(text("SELECT active, password_hash FROM app_user WHERE username = 'li'")).one()
    assert active is False and "long-enough-pw" not in hashed
    with engine.connect() as conn:
        actions = conn.execute(text(
            "SELECT action FROM audit_log WHERE object_type = 'app_user' ORDER BY id")).scalars().all()
    assert actions == ["create", "disable"]  # the refused account left no trace

    dump = tmp_path / "register.tar"
    assert _run(["backup", "-o", str(dump)], url, monkeypatch).exit_code == 0
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM api_token"))
        conn.execute(text("DELETE FROM app_user"))
    restored = _run(["restore", str(dump), "--replace", "--yes"], url, monkeypatch)
    assert restored.exit_code == 0, restored.output
    engine.dispose()  # replacing the database ended every connection to it
    with engine.connect() as conn:
        assert conn.execute(text("SELECT display_name FROM app_user")).scalar_one() == "李科员"
    engine.dispose()


def test_user_unit_is_set_on_add_and_changed_later(make_database, monkeypatch):
    """``user add … --unit`` and ``user set … --unit``: the 填报单位 the account's returns carry."""
    url = make_database()
    engine = create_engine(url)
    added = _run(["user", "add", "zhao", "--role", "admin", "--unit", " 红河州应急管理局 ", "--password-stdin"],
                 url, monkeypatch, "long-enough-pw\n")
    assert added.exit_code == 0, added.output
    assert "填报单位：红河州应急管理局" in _run(["user", "list"], url, monkeypatch).output
    changed = _run(["user", "set", "zhao", "--unit", "红河州安委会办公室"], url, monkeypatch)
    assert changed.exit_code == 0 and "红河州安委会办公室" in changed.output
    cleared = _run(["user", "set", "zhao", "--unit", ""], url, monkeypatch)
    assert "使用 ISSUING_UNIT" in cleared.output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT unit FROM app_user WHERE username = 'zhao'")).scalar_one() is None
        audited = conn.execute(text(
            "SELECT before->>'unit', after->>'unit' FROM audit_log WHERE action = 'update' ORDER BY id")).all()
    assert [tuple(a) for a in audited] == [("红河州应急管理局", "红河州安委会办公室"), ("红河州安委会办公室", None)]
    engine.dispose()
