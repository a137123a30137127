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

from ..config import Config

__all__ = ["main", "database"]

_COMMAND_MODULES = ("db", "serve", "imports", "demo", "returns", "users")


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


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="详细日志")
def main(verbose: bool) -> None:
    """风险一张图：安全风险分级与事故隐患登记、地图与月报服务。"""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    os.environ.setdefault("PYTHONUNBUFFERED", "1")


for _name in _COMMAND_MODULES:
    _module = importlib.import_module(f"{__name__}.{_name}")
    for _cmd in _module.commands:
        main.add_command(_cmd)
