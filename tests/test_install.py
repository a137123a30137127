"""Reproducible installs: the lock, the plain ``postgresql://`` URL, frozen migrations."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
import uuid
from importlib import metadata
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent

# The industry table as migration 0001 seeded it when it was written
# (code, name, parent, stat_group, sort): old migrations never change.
INDUSTRIES_0001 = [
    ("coal", "煤矿", None, "coal", 10),
    ("mine", "非煤矿山", None, "mine", 20),
    ("hazchem", "危险化学品", None, "hazchem", 30),
    ("fireworks", "烟花爆竹", None, "other", 40),
    ("trade", "工贸", None, "other", 50),
    ("trade.metallurgy", "冶金", "trade", "other", 51),
    ("trade.nonferrous", "有色", "trade", "other", 52),
    ("trade.building_materials", "建材", "trade", "other", 53),
    ("trade.machinery", "机械", "trade", "other", 54),
    ("trade.light", "轻工", "trade", "other", 55),
    ("trade.textile", "纺织", "trade", "other", 56),
    ("trade.tobacco", "烟草", "trade", "other", 57),
    ("trade.commerce", "商贸", "trade", "other", 58),
    ("construction", "建筑施工", None, "other", 60),
    ("transport", "交通运输", None, "other", 70),
    ("gas", "燃气", None, "other", 80),
    ("crowded", "人员密集场所", None, "other", 90),
    ("other", "其他", None, "other", 100),
]


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return pins


def _requirement_name(req: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.\-]+", req).group(0)).lower()  # type: ignore[union-attr]


def test_the_lock_pins_every_dependency_and_the_venv_matches_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = list(project["dependencies"])
    for extra in ("test", "cnmaps"):
        wanted += project["optional-dependencies"][extra]
    pins = _lock()
    missing = [r for r in wanted if _requirement_name(r) not in pins]
    assert not missing, f"not in requirements.lock (run make lock): {missing}"
    # the suite runs on what the lock says (make test installs from it)
    differ = {}
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            differ[name] = (version, installed)
    assert not differ, f"installed versions differ from requirements.lock: {differ}"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install -q -r requirements.lock" in makefile
    assert "pip install -q --no-deps -e ." in makefile
    assert re.search(r"^lock:", makefile, re.M)


def test_no_migration_imports_the_live_code():
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n == "geo_service" or n.startswith("geo_service.") for n in names), \
                f"{path.name} imports {names}: a migration copies the vocabulary it needs"


def test_plain_postgresql_url_migrates_from_the_command_line(server_url, tmp_path):
    name = f"geo_plain_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server_url).set(database=name)
        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        assert plain.startswith("postgresql://")
        env = {**os.environ, "DATABASE_URL": plain, "PYTHONPATH": str(ROOT),
               "GEO_SERVICE_VAR": str(tmp_path / "var")}
        done = subprocess.run(
            [sys.executable, "-c", "from geo_service.cli import main; main()", "db", "upgrade"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        assert "数据库已迁移到最新版本" in done.stdout
        assert "Traceback" not in done.stderr
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            rows = conn.execute(text(
                "SELECT code, name, parent_code, stat_group, sort FROM industry ORDER BY sort")).all()
        engine.dispose()
        assert [tuple(r) for r in rows] == INDUSTRIES_0001
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
