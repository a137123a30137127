"""风险一张图 — the safety risk and accident hazard register and map."""

from __future__ import annotations

import logging

from flask import Flask

from .config import Config, project_root

__all__ = ["create_app"]


def create_app(config: Config | None = None) -> Flask:
    """Build the application.  ``config.DATABASE_URL`` None means the embedded
    cluster under ``config.VAR_DIR`` (started by ``geo-service serve``)."""
    from . import db, errors
    from .embedded import EmbeddedCluster
    from .web import register_blueprints

    config = config or Config()
    root = project_root()
    app = Flask(
        __name__,
        template_folder=str(root / "templates"),
        static_folder=str(root / "static"),
    )
    app.config.from_mapping(config.as_flask())
    url = config.DATABASE_URL or EmbeddedCluster(config.VAR_DIR).app_url
    app.config["DATABASE_URL"] = url
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db.init_app(app, url, config.DATABASE_READ_URL)
    errors.register_handlers(app)
    register_blueprints(app)
    return app
