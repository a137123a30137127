"""Settings from the environment, one class.  Tests pass a subclass."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from .domain import GRADES

__all__ = ["Config", "TestConfig", "project_root"]


def project_root() -> Path:
    """The checkout this package runs from (where ``var/`` lives by default)."""
    return Path(os.environ.get("GEO_SERVICE_HOME", Path(__file__).resolve().parent.parent))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _secret_key(var_dir: Path) -> str:
    """A stable secret key kept in ``var/secret_key`` (made once, mode 0600)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def _check_campaign_start(setting: str) -> None:
    """Fail at start-up on a CAMPAIGN_START that is not a date (``MM-DD`` or ``YYYY-MM-DD``)."""
    from .queries.metrics import campaign_start_of

    try:
        campaign_start_of(setting, 2000)  # a leap year: 02-29 is a valid MM-DD
    except ValueError as err:
        raise ValueError(f"CAMPAIGN_START={setting!r}: expected MM-DD or YYYY-MM-DD") from err


class Config:
    """Application settings.  Every value can be set through the environment."""

    TESTING = False

    def __init__(self, var_dir: Path | None = None) -> None:
        env = os.environ
        self.VAR_DIR = var_dir or Path(env.get("GEO_SERVICE_VAR", project_root() / "var"))
        # None → the embedded cluster under VAR_DIR.
        self.DATABASE_URL: str | None = env.get("DATABASE_URL") or None
        self.SECRET_KEY = _secret_key(self.VAR_DIR)
        self.HOST = env.get("HOST", "127.0.0.1")
        self.PORT = int(env.get("PORT", "5000"))
        self.UPLOAD_DIR = Path(env.get("UPLOAD_DIR", self.VAR_DIR / "uploads"))
        self.MAX_CONTENT_LENGTH = int(env.get("MAX_UPLOAD_MB", "50")) * 1024 * 1024

        # The one grade palette (红/橙/黄/蓝); GRADE_COLORS='{"1":"#…"}' overrides.
        colours = {g.value: g.default_hex for g in GRADES}
        colours.update({int(k): v for k, v in json.loads(env.get("GRADE_COLORS", "{}")).items()})
        self.GRADE_COLORS: dict[int, str] = colours

        # Base map: "none" (outlines on plain background), an XYZ URL template,
        # or "tianditu" with TIANDITU_KEY.
        self.BASEMAP = env.get("BASEMAP", "none")
        self.BASEMAP_ATTRIBUTION = env.get("BASEMAP_ATTRIBUTION", "")
        self.TIANDITU_KEY = env.get("TIANDITU_KEY", "")
        # Footer of printed maps: 审图号 or "内部用图".
        self.MAP_FOOTER = env.get("MAP_FOOTER", "内部用图")
        # 填报单位 when the signed-in account has no unit of its own (app_user.unit).
        self.ISSUING_UNIT = env.get("ISSUING_UNIT", "")
        # First day of the 调度表's campaign: MM-DD of the reporting year, or a
        # full date YYYY-MM-DD (the forms: "5月以来累计").
        self.CAMPAIGN_START = env.get("CAMPAIGN_START", "05-01").strip()
        _check_campaign_start(self.CAMPAIGN_START)

        # Limits on query parameters.
        self.MAX_PAGE_SIZE = int(env.get("MAX_PAGE_SIZE", "1000"))
        self.MAX_BBOX_AREA_DEG2 = _env_float("MAX_BBOX_AREA_DEG2", 400.0)
        self.MAX_RADIUS_M = _env_float("MAX_RADIUS_M", 100_000.0)
        self.DEFAULT_REGION = env.get("DEFAULT_REGION", "532500")
        self.MAX_EXPORT_ROWS = int(env.get("MAX_EXPORT_ROWS", "100000"))
        self.MAX_EVIDENCE_MB = int(env.get("MAX_EVIDENCE_MB", "20"))
        self.MAX_IMPORT_MB = _env_float("MAX_IMPORT_MB", 20.0)  # one import file (web upload and CLI)
        # The enterprise's own 四色图: a zone (or the layout image) farther than this
        # from the enterprise's point is refused (metres, on the spheroid);
        # the layout image's size limit.
        self.ZONE_MAX_DISTANCE_M = _env_float("ZONE_MAX_DISTANCE_M", 2000.0)
        self.MAX_LAYOUT_MB = _env_float("MAX_LAYOUT_MB", 20.0)
        # The public risk notice page (the 告知卡's QR code opens it): on by default, 0 → 404.
        self.PUBLIC_NOTICE = env.get("PUBLIC_NOTICE", "1") != "0"
        # The 举报电话 printed on every 风险告知卡 besides the enterprise's own (12350: 安全生产举报投诉).
        self.SAFETY_HOTLINE = env.get("SAFETY_HOTLINE", "12350")
        # Below this zoom the enterprise tiles aggregate points into grid cells.
        self.TILE_CLUSTER_BELOW_ZOOM = int(env.get("TILE_CLUSTER_BELOW_ZOOM", "12"))
        # Per-worker caches of built tiles and OGC pages, keyed by the data's change token.
        self.TILE_CACHE_MB = int(env.get("TILE_CACHE_MB", "24"))
        self.FEATURE_CACHE_MB = int(env.get("FEATURE_CACHE_MB", "8"))

        # Risk assessment thresholds (DOMAIN.md defaults; local standards differ).
        self.LEC_THRESHOLDS = tuple(
            json.loads(env.get("LEC_THRESHOLDS", "[320, 160, 70]"))
        )
        self.LS_THRESHOLDS = tuple(json.loads(env.get("LS_THRESHOLDS", "[20, 10, 4]")))
        self.DUE_SOON_DAYS = int(env.get("DUE_SOON_DAYS", "7"))
        # 验收销号 of a 重大隐患 always needs 整改后 evidence and a 验收意见;
        # SIGNOFF_EVIDENCE_GENERAL=1 asks the same of a 一般隐患.
        self.SIGNOFF_EVIDENCE_GENERAL = env.get("SIGNOFF_EVIDENCE_GENERAL", "0") == "1"

        # Accounts: anonymous users see only the login page; PUBLIC_HEAT=1
        # publishes the district heat layer (aggregates, no enterprise details).
        self.LOGIN_REQUIRED = env.get("LOGIN_REQUIRED", "1") != "0"
        self.PUBLIC_HEAT = env.get("PUBLIC_HEAT", "0") == "1"
        self.SESSION_COOKIE_SECURE = env.get("SESSION_COOKIE_SECURE", "0") == "1"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.PERMANENT_SESSION_LIFETIME = int(env.get("SESSION_HOURS", "8")) * 3600
        # Shortest password accepted when one is set or changed (the demo passwords never are).
        from .services.accounts import MIN_PASSWORD_LENGTH

        self.MIN_PASSWORD_LENGTH = int(env.get("MIN_PASSWORD_LENGTH", str(MIN_PASSWORD_LENGTH)))

        # A monthly-return job whose worker gave no sign of life for this long is reported failed.
        self.RETURN_JOB_STALE_SECONDS = _env_float("RETURN_JOB_STALE_SECONDS", 60.0)

        # 双重预防: what an enterprise in the 待复核等级 queue shows ("mark" or "raise": at
        # least 红 while it lasts, as a displayed grade; the stored grade is never rewritten).
        self.GRADE_REVIEW_RULE = env.get("GRADE_REVIEW_RULE", "mark")
        if self.GRADE_REVIEW_RULE not in ("mark", "raise"):
            raise ValueError("GRADE_REVIEW_RULE must be 'mark' or 'raise'")
        # 一单四制 clocks for 挂牌督办 (working days skip weekends and PUBLIC_HOLIDAYS, a JSON
        # list of ISO dates; make-up working weekends are not modelled).
        self.SUPERVISION_PUBLISH_WORKDAYS = int(env.get("SUPERVISION_PUBLISH_WORKDAYS", "5"))
        self.SUPERVISION_RECTIFY_MAX_MONTHS = int(env.get("SUPERVISION_RECTIFY_MAX_MONTHS", "12"))
        self.SUPERVISION_EXTENSION_WORKDAYS = int(env.get("SUPERVISION_EXTENSION_WORKDAYS", "20"))
        self.SUPERVISION_DELIST_WORKDAYS = int(env.get("SUPERVISION_DELIST_WORKDAYS", "5"))
        self.PUBLIC_HOLIDAYS: list[str] = list(json.loads(env.get("PUBLIC_HOLIDAYS", "[]")))

        self.STATEMENT_TIMEOUT_MS = int(env.get("STATEMENT_TIMEOUT_MS", "30000"))
        self.POOL_SIZE = int(env.get("POOL_SIZE", "5"))

    def as_flask(self) -> dict[str, object]:
        """The settings as a dict for ``app.config``."""
        return {k: getattr(self, k) for k in dir(self) if k.isupper()}


class TestConfig(Config):
    """Settings for the test suite: the database URL is given by the fixture."""

    TESTING = True
    __test__ = False  # not a pytest test class

    def __init__(self, database_url: str, var_dir: Path) -> None:
        super().__init__(var_dir)
        self.UPLOAD_DIR = var_dir / "uploads"
        self.DATABASE_URL = database_url
        self.WTF_CSRF_ENABLED = True
        # Each surface's own tests run as an unrestricted caller; the access
        # tests switch login on (tests/web/test_scoping.py covers every
        # endpoint with it on), and so do the browser tests' live servers.
        self.LOGIN_REQUIRED = False
