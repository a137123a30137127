"""One blueprint per surface; views are thin.

Each module in ``SURFACES`` defines ``bp``, a Blueprint, and may define
``init_app(app)`` for app-wide hooks (the auth gate does).
"""

from __future__ import annotations

import base64
import importlib
from pathlib import Path

from flask import Flask

__all__ = ["register_blueprints", "SURFACES", "icon_data_uri"]

SURFACES = ("health", "auth", "map", "api", "ogc", "tiles", "returns", "ledger", "imports", "plantmap", "public", "dual")


def register_blueprints(app: Flask) -> None:
    for name in SURFACES:
        module = importlib.import_module(f"{__name__}.{name}")
        app.register_blueprint(module.bp)
        if hasattr(module, "init_app"):
            module.init_app(app)
    app.jinja_env.globals["icon_uri"] = icon_data_uri(Path(str(app.static_folder)) / "favicon.svg")


def icon_data_uri(path: Path) -> str:
    """The page icon as a ``data:`` URI, written into every page's head: as a file
    the browser asked for it once more at each change of the address (the map
    rewrites it as the view moves), taking one of its six connections from the map's
    first data requests."""
    return "data:image/svg+xml;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
