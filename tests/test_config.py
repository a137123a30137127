"""Settings: one typed declaration (``Config``), every key read is declared, bad values stop start-up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from geo_service import create_app, domain
from geo_service.cli import main
from geo_service.config import PROCESS_ENVIRONMENT, Config, SettingsError

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "geo_service").rglob("*.py"))
DECLARED = {s.name for s in Config.settings()}
DECLARED_ENV = {s.env for s in Config.settings() if s.env}

KEY = r"""["']([A-Z][A-Z0-9_]+)["']"""
# app.config["X"], current_app.config.get("X"), cfg["X"], settings["X"], config.X, Config().X
READS = (
    re.compile(r"\b(?:config|cfg|settings)\s*\[\s*" + KEY),
    re.compile(r"\b(?:config|cfg|settings)\.(?:get|setdefault|pop)\(\s*" + KEY),
    re.compile(r"\b(?:config|Config\(\))\.([A-Z][A-Z0-9_]+)\b"),
)
# os.environ.get("X"), os.environ["X"] (not a write such as env["PGPASSWORD"] = … for a child process)
ENV_READS = re.compile(r"""\b(?:os\.environ|environ|env)(?:\.get\(\s*|\[\s*)["']([A-Z][A-Z0-9_]+)["'](?!\s*\]\s*=[^=])""")


def _reads() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in SOURCES:
        text = path.read_text()
        for pattern in READS:
            for m in pattern.finditer(text):
                found.setdefault(m.group(1), set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_setting_read_in_the_package_is_declared_on_config():
    reads = _reads()
    # The scan sees the reads it is meant to see (so it cannot pass by finding nothing).
    assert {"MAX_PAGE_SIZE", "GRADE_COLORS", "LAYERS_DIR", "JOBS_INLINE", "DATABASE_URL",
            "SUPERVISION_PUBLISH_WORKDAYS", "MAX_IMPORT_MB"} <= set(reads)
    undeclared = {key: sorted(where) for key, where in reads.items() if key not in DECLARED}
    assert undeclared == {}


def test_no_read_site_repeats_a_default():
    with_default = re.compile(r"\b(?:config|cfg|settings)\.get\(\s*" + KEY + r"\s*,")
    repeated = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in SOURCES
                for m in with_default.finditer(p.read_text())]
    assert repeated == []


def test_environment_is_read_only_through_config():
    """Outside config.py the package reads only the declared process variables."""
    stray = {}
    for path in SOURCES:
        if path.name == "config.py" and path.parent.name == "geo_service":
            continue
        for m in ENV_READS.finditer(path.read_text()):
            if m.group(1) not in DECLARED_ENV | set(PROCESS_ENVIRONMENT):
                stray[m.group(1)] = str(path.relative_to(ROOT))
    assert stray == {}


def test_flask_config_holds_every_declared_key(tmp_path):
    assert set(Config(tmp_path, environ={}).as_flask()) == DECLARED


def test_readme_lists_every_environment_variable():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## 配置（环境变量）", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    listed = {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split(" | ")[0])}
    missing = (DECLARED_ENV | set(PROCESS_ENVIRONMENT)) - listed
    assert missing == set()


def test_defaults(tmp_path):
    c = Config(tmp_path, environ={})
    assert c.VAR_DIR == tmp_path and c.UPLOAD_DIR == tmp_path / "uploads"
    assert c.DATABASE_URL is None
    assert (c.HOST, c.PORT) == ("127.0.0.1", 5000)
    assert c.GRADE_COLORS == {1: "#E60012", 2: "#FF8C00", 3: "#FFD700", 4: "#1E6FD9"}
    assert c.GRADE_COLORS == {g.value: g.default_hex for g in domain.GRADES}
    assert (c.MAX_PAGE_SIZE, c.MAX_BBOX_AREA_DEG2, c.MAX_RADIUS_M) == (1000, 400.0, 100_000.0)
    assert c.MAX_CONTENT_LENGTH == 50 * 1024 * 1024
    assert c.PERMANENT_SESSION_LIFETIME == 8 * 3600
    assert (c.MAX_EXPORT_ROWS, c.MAX_EVIDENCE_MB, c.MAX_IMPORT_MB, c.MAX_LAYOUT_MB) == (100_000, 20, 20.0, 20.0)
    assert c.CAMPAIGN_START == "05-01"
    assert c.DEFAULT_REGION == "532500"
    assert (c.BASEMAP, c.MAP_FOOTER, c.SAFETY_HOTLINE) == ("none", "内部用图", "12350")
    assert (c.LOGIN_REQUIRED, c.PUBLIC_HEAT, c.PUBLIC_NOTICE, c.SESSION_COOKIE_SECURE) == (True, False, True, False)
    assert c.MIN_PASSWORD_LENGTH == 10
    assert c.GRADE_REVIEW_RULE == "mark"
    assert (c.LEC_THRESHOLDS, c.LS_THRESHOLDS) == ((320, 160, 70), (20, 10, 4))
    assert (c.SUPERVISION_PUBLISH_WORKDAYS, c.SUPERVISION_RECTIFY_MAX_MONTHS,
            c.SUPERVISION_EXTENSION_WORKDAYS, c.SUPERVISION_DELIST_WORKDAYS) == (5, 12, 20, 5)
    assert c.PUBLIC_HOLIDAYS == []
    assert (c.STATEMENT_TIMEOUT_MS, c.POOL_SIZE, c.JOB_STALLED_SECONDS, c.JOB_WORKERS) == (30000, 5, 30.0, 1)
    assert c.JOBS_INLINE is False and c.LAYERS_DIR == ROOT / "layers"
    # The secret key is made once and kept.
    assert c.SECRET_KEY == (tmp_path / "secret_key").read_text().strip()
    assert Config(tmp_path, environ={}).SECRET_KEY == c.SECRET_KEY


def test_values_from_the_environment_are_typed(tmp_path):
    c = Config(tmp_path, environ={
        "MAX_PAGE_SIZE": "50", "MAX_RADIUS_M": "2500.5", "GRADE_COLORS": '{"1": "#AA0000"}',
        "MAX_UPLOAD_MB": "10", "SESSION_HOURS": "2", "PUBLIC_HEAT": "1", "PUBLIC_NOTICE": "0",
        "LEC_THRESHOLDS": "[400, 200, 80]", "PUBLIC_HOLIDAYS": '["2026-10-01"]',
        "CAMPAIGN_START": " 2026-05-15 ", "GRADE_REVIEW_RULE": "raise", "SECRET_KEY": "s3cret",
        "DATABASE_URL": "", "POOL_SIZE": "",  # empty: the default
    })
    assert c.MAX_PAGE_SIZE == 50 and c.MAX_RADIUS_M == 2500.5
    assert c.GRADE_COLORS == {1: "#AA0000", 2: "#FF8C00", 3: "#FFD700", 4: "#1E6FD9"}  # one overridden
    assert c.MAX_CONTENT_LENGTH == 10 * 1024 * 1024 and c.PERMANENT_SESSION_LIFETIME == 7200
    assert (c.PUBLIC_HEAT, c.PUBLIC_NOTICE) == (True, False)
    assert c.LEC_THRESHOLDS == (400, 200, 80) and c.PUBLIC_HOLIDAYS == ["2026-10-01"]
    assert c.CAMPAIGN_START == "2026-05-15" and c.GRADE_REVIEW_RULE == "raise"
    assert c.SECRET_KEY == "s3cret" and c.DATABASE_URL is None and c.POOL_SIZE == 5


BAD = [
    ("MAX_PAGE_SIZE", "abc"),
    ("MAX_PAGE_SIZE", "-1"),
    ("MAX_EXPORT_ROWS", "1e5"),
    ("MAX_RADIUS_M", "-100"),
    ("MAX_IMPORT_MB", "nan"),
    ("PORT", "70000"),
    ("GRADE_COLORS", "red,orange"),
    ("GRADE_COLORS", '["#E60012"]'),
    ("GRADE_COLORS", '{"1": "red"}'),
    ("GRADE_COLORS", '{"5": "#000000"}'),
    ("CAMPAIGN_START", "5月1日"),
    ("CAMPAIGN_START", "2026-13-01"),
    ("GRADE_REVIEW_RULE", "upgrade"),
    ("PUBLIC_HEAT", "yes"),
    ("LEC_THRESHOLDS", "[70, 160, 320]"),
    ("LS_THRESHOLDS", "[20, 10]"),
    ("PUBLIC_HOLIDAYS", '["2026-02-30"]'),
    ("SESSION_HOURS", "eight"),
    ("MAX_UPLOAD_MB", "-5"),
]


@pytest.mark.parametrize(("var", "value"), BAD)
def test_a_bad_value_stops_create_app_naming_the_variable(monkeypatch, tmp_path, var, value):
    monkeypatch.setenv("GEO_SERVICE_VAR", str(tmp_path))
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as err:
        create_app()
    message = str(err.value)
    assert f"{var}={value!r}" in message
    assert "无效" in message and "invalid" in message
    assert "Traceback" not in message


@pytest.mark.parametrize(("var", "value"), [("MAX_PAGE_SIZE", "abc"), ("GRADE_COLORS", "{"),
                                            ("CAMPAIGN_START", "05/01"), ("GRADE_REVIEW_RULE", "up")])
def test_a_bad_value_stops_the_command_line_naming_the_variable(monkeypatch, tmp_path, var, value):
    monkeypatch.setenv("GEO_SERVICE_VAR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@localhost/none")
    monkeypatch.setenv(var, value)
    result = CliRunner().invoke(main, ["db", "url"])
    assert result.exit_code == 1
    assert var in result.output and "无效" in result.output and "invalid" in result.output
    assert "postgresql://nobody" not in result.output  # the command never ran
    assert not isinstance(result.exception, SettingsError)  # a clean message, not a traceback


def test_every_bad_variable_is_named_at_once(tmp_path):
    with pytest.raises(SettingsError) as err:
        Config(tmp_path, environ={"MAX_PAGE_SIZE": "abc", "GRADE_REVIEW_RULE": "up", "HOST": "0.0.0.0"})
    message = str(err.value)
    assert "MAX_PAGE_SIZE" in message and "GRADE_REVIEW_RULE" in message and "HOST" not in message


def _as_readme(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if value == "" or value is None:
        return "空"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple | list):
        return "[" + ",".join(_as_readme(v) for v in value) + "]"
    return str(value)


def test_readme_gives_each_plain_default_as_declared():
    """Where the README's row names a setting read under its own name, its default is Config's."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## 配置（环境变量）", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for row in table.splitlines():
        cells = row.split(" | ")
        if not row.startswith("| `") or len(cells) < 3:
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        defaults = [d.strip().strip("`") for d in cells[1].split(" / ")]
        if len(names) == len(defaults):
            documented.update(zip(names, defaults, strict=True))
    checked = 0
    for s in Config.settings():
        if s.env == s.name and s.derived is None and s.name in documented:
            assert documented[s.name] == _as_readme(s.default), s.name
            checked += 1
    assert checked >= 30
