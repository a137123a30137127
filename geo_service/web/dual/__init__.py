"""The 双重预防 surface: 今日排查 on a phone, the regulators' 运行效果 ledger,
the 一单四制 register of 重大隐患 with its clocks, and the monthly 通报."""

from flask import Blueprint

bp = Blueprint("dual", __name__)

from . import views  # noqa: E402,F401  (routes register on bp)


def init_app(app) -> None:  # type: ignore[no-untyped-def]
    """The enterprise page's 双重预防 panel reads :func:`views.enterprise_panel`."""
    app.jinja_env.globals["dual_panel"] = views.enterprise_panel
