"""One blueprint per surface; views are thin.

Each module in ``SURFACES`` defines ``bp``, a Blueprint, and may define
``init_app(app)`` for app-wide hooks (the auth gate does).
"""

from __future__ import annotations

import importlib

from flask import Flask

__all__ = ["register_blueprints", "SURFACES"]

SURFACES = ("health", "auth", "map", "api", "ogc", "tiles", "returns", "ledger", "imports", "plantmap", "public", "dual")


def register_blueprints(app: Flask) -> None:
    for name in SURFACES:
        module = importlib.import_module(f"{__name__}.{name}")
        app.register_blueprint(module.bp)
        if hasattr(module, "init_app"):
            module.init_app(app)
