"""The ``geo-service`` command.

Each module listed in ``_COMMAND_MODULES`` exposes ``commands``, a list of
click commands or groups added to the main group.  Every command that needs
the database uses :func:`database` so that, with no ``DATABASE_URL``, the
embedded cluster is started for it (and stopped after, if it started it).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from collections.abc import Iterator

import click
from sqlalchemy.orm import Session

from ..config import Config, SettingsError

__all__ = ["main", "database", "session_scope"]

_COMMAND_MODULES = ("db", "serve", "imports", "demo", "returns", "users", "maintenance", "dual")


@contextlib.contextmanager
def database(config: Config | None = None) -> Iterator[str]:
    """The database URL for a command: ``DATABASE_URL`` or the embedded cluster."""
    config = config or Config()
    if config.DATABASE_URL:
        yield config.DATABASE_URL
        return
    from ..embedded import EmbeddedCluster

    with EmbeddedCluster(config.VAR_DIR).session() as url:
        yield url


@contextlib.contextmanager
def session_scope(
    config: Config | None = None, *, dry_run: bool = False, migrate: bool = False
) -> Iterator[Session]:
    """A session on the command's database, committed at the end (rolled back
    with ``dry_run``); a service error becomes a clean Chinese message and a
    non-zero exit.  ``migrate`` applies the migrations first."""
    from ..db import make_engine, upgrade
    from ..errors import GeoServiceError

    with database(config) as url:
        if migrate:
            upgrade(url)
        engine = make_engine(url)
        try:
            with Session(engine) as session:
                try:
                    yield session
                except GeoServiceError as err:
                    session.rollback()
                    raise click.ClickException(err.user_msg) from err
                if dry_run:
                    session.rollback()
                else:
                    session.commit()
        finally:
            engine.dispose()


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="详细日志")
def main(verbose: bool) -> None:
    """风险一张图：安全风险分级与事故隐患登记、地图与月报服务。"""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        Config()  # a bad setting stops every command here, with its variable named
    except SettingsError as err:
        raise click.ClickException(str(err)) from err


for _name in _COMMAND_MODULES:
    _module = importlib.import_module(f"{__name__}.{_name}")
    for _cmd in _module.commands:
        main.add_command(_cmd)
