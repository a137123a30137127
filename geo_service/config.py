"""Settings: one typed declaration, read from the environment and checked at start-up.

Every key the application reads is declared once below, on :class:`Config`,
as a :class:`Setting` with its type, its default and the environment variable
it is read from.  ``Config()`` parses the environment in one place and raises
:class:`SettingsError` naming every bad variable (中文 / English), so a bad
value stops ``create_app`` or the ``geo-service`` command before anything runs.
``app.config`` is filled from :meth:`Config.as_flask`; tests pass a subclass.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from .domain import GRADES

__all__ = ["Config", "TestConfig", "Setting", "SettingsError", "PROCESS_ENVIRONMENT", "project_root"]

T = TypeVar("T")

# Environment read before any Config exists (where the checkout and PostgreSQL are).
PROCESS_ENVIRONMENT: dict[str, str] = {
    "GEO_SERVICE_HOME": "the checkout (templates, static/, layers/, migrations/, default var/)",
    "PG_BINDIR": "PostgreSQL server binaries for the embedded cluster",
}


def project_root() -> Path:
    """The checkout this package runs from (where ``var/`` lives by default)."""
    return Path(os.environ.get("GEO_SERVICE_HOME", Path(__file__).resolve().parent.parent))


class SettingsError(ValueError):
    """One or more settings from the environment cannot be used."""


class _Invalid(ValueError):
    """A parser's refusal: the reason in Chinese and in English."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


# ---------------------------------------------------------------- parsers: str -> typed value


def _str(raw: str) -> str:
    return raw


def _optional_str(raw: str) -> str | None:
    return raw or None


def _path(raw: str) -> Path:
    return Path(raw)


def _int(raw: str) -> int:
    """A non-negative whole number."""
    try:
        value = int(raw.strip())
    except ValueError:
        raise _Invalid("应为整数", "not an integer") from None
    if value < 0:
        raise _Invalid("不能为负数", "must not be negative")
    return value


def _port(raw: str) -> int:
    value = _int(raw)
    if not 1 <= value <= 65535:
        raise _Invalid("端口应在 1–65535 之间", "a port is 1-65535")
    return value


def _float(raw: str) -> float:
    """A non-negative finite number."""
    try:
        value = float(raw.strip())
    except ValueError:
        raise _Invalid("应为数字", "not a number") from None
    if not value >= 0 or value == float("inf"):
        raise _Invalid("应为非负有限数", "must be a finite number, not negative")
    return value


def _flag(raw: str) -> bool:
    if raw.strip() not in ("0", "1"):
        raise _Invalid("应为 0 或 1", "must be 0 or 1")
    return raw.strip() == "1"


def _megabytes(raw: str) -> int:
    return _int(raw) * 1024 * 1024


def _hours(raw: str) -> int:
    return _int(raw) * 3600


def _json(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise _Invalid("不是合法的 JSON", "not valid JSON") from None


_HEX = re.compile(r"#[0-9A-Fa-f]{6}")


def _default_grade_colors() -> dict[int, str]:
    return {g.value: g.default_hex for g in GRADES}


def _grade_colors(raw: str) -> dict[int, str]:
    """``{"1": "#RRGGBB", …}`` over the default palette (红/橙/黄/蓝 are grades 1–4)."""
    given = _json(raw)
    if not isinstance(given, dict):
        raise _Invalid('应为 JSON 对象，如 {"1":"#E60012"}', 'must be a JSON object such as {"1":"#E60012"}')
    colours = _default_grade_colors()
    for key, value in given.items():
        if str(key) not in {str(g) for g in colours}:
            raise _Invalid(f"等级 {key} 不存在（应为 1–4）", f"grade {key} does not exist (1-4)")
        if not isinstance(value, str) or not _HEX.fullmatch(value):
            raise _Invalid(f"等级 {key} 的颜色 {value!r} 不是 #RRGGBB", f"grade {key}: {value!r} is not #RRGGBB")
        colours[int(key)] = value
    return colours


def _thresholds(raw: str) -> tuple[float, float, float]:
    """Three descending numbers (红, 橙, 黄 lower bounds)."""
    value = _json(raw)
    if (not isinstance(value, list) or len(value) != 3
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            or not value[0] > value[1] > value[2] >= 0):
        raise _Invalid("应为三个递减的非负数，如 [320, 160, 70]", "must be 3 descending numbers, e.g. [320, 160, 70]")
    return (value[0], value[1], value[2])


def _holidays(raw: str) -> list[str]:
    value = _json(raw)
    if not isinstance(value, list):
        raise _Invalid('应为日期列表，如 ["2026-10-01"]', 'must be a list of dates, e.g. ["2026-10-01"]')
    for day in value:
        try:
            dt.date.fromisoformat(str(day))
        except ValueError:
            raise _Invalid(f"{day!r} 不是 YYYY-MM-DD 日期", f"{day!r} is not a YYYY-MM-DD date") from None
    return [str(d) for d in value]


def _campaign_start(raw: str) -> str:
    """``MM-DD`` of the reporting year or a full ``YYYY-MM-DD``."""
    from .queries.metrics import campaign_start_of

    setting = raw.strip()
    try:
        campaign_start_of(setting, 2000)  # a leap year: 02-29 is a valid MM-DD
    except ValueError:
        raise _Invalid("应为 MM-DD 或 YYYY-MM-DD", "expected MM-DD or YYYY-MM-DD") from None
    return setting


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.strip() not in options:
            listed = " / ".join(options)
            raise _Invalid(f"应为 {listed} 之一", f"must be one of {listed}")
        return raw.strip()

    return parse


def _min_password_length() -> int:
    from .services.accounts import MIN_PASSWORD_LENGTH

    return MIN_PASSWORD_LENGTH


def _layers_dir() -> Path:
    from .layers import layers_dir

    return layers_dir()


def _secret_key(var_dir: Path) -> str:
    """A stable secret key kept in ``var/secret_key`` (made once, mode 0600)."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


# ---------------------------------------------------------------- the declaration


class Setting(Generic[T]):
    """One key of ``app.config``: its default, and how it is read from the environment.

    ``env`` is the variable (the key's own name unless given; None: not read
    from the environment).  ``default`` is the value, or with ``derived`` a
    function of the settings read so far (for ``VAR_DIR``-relative paths).
    An unset variable takes the default; so does an empty one, except for text.
    """

    def __init__(self, default: T | None = None, parse: Callable[[str], T] | None = None, *,
                 env: str | None = "", derived: Callable[[Any], T] | None = None) -> None:
        self.default, self.parse, self.env, self.derived = default, parse, env, derived
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        if self.env == "":
            self.env = name

    @overload
    def __get__(self, obj: None, owner: type) -> Setting[T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> T: ...
    def __get__(self, obj: object | None, owner: type) -> Setting[T] | T:
        if obj is None:
            return self
        raise AttributeError(self.name)  # read before Config.__init__ set it

    def read(self, config: Any, environ: Mapping[str, str]) -> T:
        raw = environ.get(self.env) if self.env else None
        text_like = self.parse is _str
        if raw is not None and (raw != "" or text_like) and self.parse is not None:
            return self.parse(raw)
        if self.derived is not None:
            return self.derived(config)
        return self.default  # type: ignore[return-value]


class Config:
    """Application settings.  Each is declared once here, with its type and default."""

    # --- Flask and the process
    TESTING: Setting[bool] = Setting(False, env=None)
    VAR_DIR: Setting[Path] = Setting(parse=_path, env="GEO_SERVICE_VAR", derived=lambda c: project_root() / "var")
    # None → the embedded cluster under VAR_DIR.
    DATABASE_URL: Setting[str | None] = Setting(None, _optional_str)
    # A streaming replica of DATABASE_URL for the read-only views (db.replica_reads);
    # None → every view reads the primary.
    DATABASE_READ_URL: Setting[str | None] = Setting(None, _optional_str)
    SECRET_KEY: Setting[str] = Setting(parse=_optional_str, derived=lambda c: _secret_key(c.VAR_DIR))
    HOST: Setting[str] = Setting("127.0.0.1", _str)
    PORT: Setting[int] = Setting(5000, _port)
    UPLOAD_DIR: Setting[Path] = Setting(parse=_path, derived=lambda c: c.VAR_DIR / "uploads")
    # Read from MAX_UPLOAD_MB (whole MB): Flask's request size limit, in bytes.
    MAX_CONTENT_LENGTH: Setting[int] = Setting(50 * 1024 * 1024, _megabytes, env="MAX_UPLOAD_MB")
    # The operational layers (``layers/*.toml``); the checkout's ``layers/`` by default.
    LAYERS_DIR: Setting[Path] = Setting(parse=_path, derived=lambda c: _layers_dir())

    # --- The map
    # The one grade palette (红/橙/黄/蓝); GRADE_COLORS='{"1":"#…"}' overrides.
    GRADE_COLORS: Setting[dict[int, str]] = Setting(parse=_grade_colors, derived=lambda c: _default_grade_colors())
    # Base map: "none" (outlines on plain background), an XYZ URL template,
    # a local .mbtiles/.pmtiles file, or "tianditu" with TIANDITU_KEY.
    BASEMAP: Setting[str] = Setting("none", _str)
    BASEMAP_ATTRIBUTION: Setting[str] = Setting("", _str)
    TIANDITU_KEY: Setting[str] = Setting("", _str)
    # Footer of printed maps: 审图号 or "内部用图".
    MAP_FOOTER: Setting[str] = Setting("内部用图", _str)
    DEFAULT_REGION: Setting[str] = Setting("532500", _str)
    # Below this zoom the enterprise tiles aggregate points into grid cells.
    TILE_CLUSTER_BELOW_ZOOM: Setting[int] = Setting(12, _int)
    # Per-worker caches of built tiles, OGC pages and region summaries, keyed by the
    # change tokens of the counties they cover (geo_service/tokens.py).
    TILE_CACHE_MB: Setting[int] = Setting(24, _int)
    FEATURE_CACHE_MB: Setting[int] = Setting(8, _int)
    # Per-worker cache of the monthly return's numbers, keyed by the same token.
    RETURN_CACHE_MB: Setting[int] = Setting(8, _int)

    # --- Returns
    # 填报单位 when the signed-in account has no unit of its own (app_user.unit).
    ISSUING_UNIT: Setting[str] = Setting("", _str)
    # First day of the 调度表's campaign: MM-DD of the reporting year, or a
    # full date YYYY-MM-DD (the forms: "5月以来累计").
    CAMPAIGN_START: Setting[str] = Setting("05-01", _campaign_start)

    # --- Job queue (procrastinate, in the database): returns and imports
    # Worker processes `geo-service serve` starts beside gunicorn (0: a web-only node).
    JOB_WORKERS: Setting[int] = Setting(1, _int)
    # A worker silent for this long is dead: its job is run again once, then reported failed.
    JOB_STALLED_SECONDS: Setting[float] = Setting(30.0, _float)
    # 1 → jobs run inside the request on its session, without the queue (the tests' rolled-back transactions).
    JOBS_INLINE: Setting[bool] = Setting(False, _flag)

    # --- Limits on query parameters and uploads
    MAX_PAGE_SIZE: Setting[int] = Setting(1000, _int)
    MAX_BBOX_AREA_DEG2: Setting[float] = Setting(400.0, _float)
    MAX_RADIUS_M: Setting[float] = Setting(100_000.0, _float)
    MAX_EXPORT_ROWS: Setting[int] = Setting(100_000, _int)
    MAX_EVIDENCE_MB: Setting[int] = Setting(20, _int)
    MAX_IMPORT_MB: Setting[float] = Setting(20.0, _float)  # one import file (web upload and CLI)
    # The enterprise's own 四色图: a zone (or the layout image) farther than this
    # from the enterprise's point is refused (metres, on the spheroid);
    # the layout image's size limit.
    ZONE_MAX_DISTANCE_M: Setting[float] = Setting(2000.0, _float)
    MAX_LAYOUT_MB: Setting[float] = Setting(20.0, _float)
    # The public risk notice page (the 告知卡's QR code opens it): on by default, 0 → 404.
    PUBLIC_NOTICE: Setting[bool] = Setting(True, _flag)
    # The 举报电话 printed on every 风险告知卡 besides the enterprise's own (12350: 安全生产举报投诉).
    SAFETY_HOTLINE: Setting[str] = Setting("12350", _str)

    # --- Risk assessment and hazards (DOMAIN.md defaults; local standards differ)
    LEC_THRESHOLDS: Setting[tuple[float, float, float]] = Setting((320, 160, 70), _thresholds)
    LS_THRESHOLDS: Setting[tuple[float, float, float]] = Setting((20, 10, 4), _thresholds)
    DUE_SOON_DAYS: Setting[int] = Setting(7, _int)
    # 验收销号 of a 重大隐患 always needs 整改后 evidence and a 验收意见;
    # SIGNOFF_EVIDENCE_GENERAL=1 asks the same of a 一般隐患.
    SIGNOFF_EVIDENCE_GENERAL: Setting[bool] = Setting(False, _flag)

    # --- Accounts: anonymous users see only the login page; PUBLIC_HEAT=1
    # publishes the district heat layer (aggregates, no enterprise details).
    LOGIN_REQUIRED: Setting[bool] = Setting(True, _flag)
    PUBLIC_HEAT: Setting[bool] = Setting(False, _flag)
    SESSION_COOKIE_SECURE: Setting[bool] = Setting(False, _flag)
    SESSION_COOKIE_HTTPONLY: Setting[bool] = Setting(True, env=None)
    SESSION_COOKIE_SAMESITE: Setting[str] = Setting("Lax", env=None)
    REMEMBER_COOKIE_HTTPONLY: Setting[bool] = Setting(True, env=None)
    # Read from SESSION_HOURS (whole hours), in seconds.
    PERMANENT_SESSION_LIFETIME: Setting[int] = Setting(8 * 3600, _hours, env="SESSION_HOURS")
    # Shortest password accepted when one is set or changed (the demo passwords never are).
    MIN_PASSWORD_LENGTH: Setting[int] = Setting(parse=_int, derived=lambda c: _min_password_length())
    WTF_CSRF_ENABLED: Setting[bool] = Setting(True, env=None)
    # Forms are checked in the auth gate (API tokens are exempt), not by Flask-WTF itself.
    WTF_CSRF_CHECK_DEFAULT: Setting[bool] = Setting(False, env=None)

    # --- 双重预防: what an enterprise in the 待复核等级 queue shows ("mark" or "raise": at
    # least 红 while it lasts, as a displayed grade; the stored grade is never rewritten).
    GRADE_REVIEW_RULE: Setting[str] = Setting("mark", _choice("mark", "raise"))
    # 一单四制 clocks for 挂牌督办 (working days skip weekends and PUBLIC_HOLIDAYS, a JSON
    # list of ISO dates; make-up working weekends are not modelled).
    SUPERVISION_PUBLISH_WORKDAYS: Setting[int] = Setting(5, _int)
    SUPERVISION_RECTIFY_MAX_MONTHS: Setting[int] = Setting(12, _int)
    SUPERVISION_EXTENSION_WORKDAYS: Setting[int] = Setting(20, _int)
    SUPERVISION_DELIST_WORKDAYS: Setting[int] = Setting(5, _int)
    PUBLIC_HOLIDAYS: Setting[list[str]] = Setting(parse=_holidays, derived=lambda c: [])

    # --- The database connection
    STATEMENT_TIMEOUT_MS: Setting[int] = Setting(30000, _int)
    POOL_SIZE: Setting[int] = Setting(5, _int)

    def __init__(self, var_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> None:
        """Read every setting from ``environ`` (the process environment); a bad value
        raises :class:`SettingsError` naming each bad variable."""
        environ = os.environ if environ is None else environ
        errors: list[str] = []
        for s in self.settings():
            if s.name == "VAR_DIR" and var_dir is not None:
                value: Any = var_dir
            else:
                try:
                    value = s.read(self, environ)
                except _Invalid as bad:
                    raw = environ.get(s.env or "")
                    errors.append(f"环境变量 {s.env}={raw!r} 无效：{bad.zh} / "
                                  f"invalid environment variable {s.env}={raw!r}: {bad.en}")
                    continue
            setattr(self, s.name, value)
        if errors:
            raise SettingsError("\n".join(["设置有误 / bad settings:", *errors]))

    @classmethod
    def settings(cls) -> list[Setting[Any]]:
        """Every declared setting, in declaration order."""
        seen: dict[str, Setting[Any]] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Setting):
                    seen[name] = value
        return list(seen.values())

    def as_flask(self) -> dict[str, object]:
        """The settings as a dict for ``app.config``."""
        return {k: getattr(self, k) for k in dir(self) if k.isupper()}


class TestConfig(Config):
    """Settings for the test suite: the database URL is given by the fixture."""

    __test__ = False  # not a pytest test class

    def __init__(self, database_url: str, var_dir: Path) -> None:
        super().__init__(var_dir)
        self.TESTING = True
        self.UPLOAD_DIR = var_dir / "uploads"
        self.DATABASE_URL = database_url
        # Most tests run in a transaction rolled back at the end, which no worker
        # process can see: jobs run inside the request.  tests/test_jobs.py runs real workers.
        self.JOBS_INLINE = True
        self.DATABASE_READ_URL = None  # the replica tests set it (tests/web/test_read_replica.py)
        # Each surface's own tests run as an unrestricted caller; the access
        # tests switch login on (tests/web/test_scoping.py covers every
        # endpoint with it on), and so do the browser tests' live servers.
        self.LOGIN_REQUIRED = False
