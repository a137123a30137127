"""One blueprint per surface; views are thin."""

from __future__ import annotations

from flask import Flask

__all__ = ["register_blueprints"]


def register_blueprints(app: Flask) -> None:
    from . import health

    for module in (health,):
        app.register_blueprint(module.bp)
