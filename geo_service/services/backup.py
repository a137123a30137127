"""Backup and restore with PostgreSQL's own ``pg_dump`` / ``pg_restore``."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from ..embedded import find_bindir
from ..errors import GeoServiceError

__all__ = ["backup", "restore", "libpq_args"]

LOGGER = logging.getLogger(__name__)


class BackupFailed(GeoServiceError):
    code = "backup_failed"
    user_msg = "备份或恢复失败"


def libpq_args(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection arguments and environment (password) for the PostgreSQL tools."""
    u = make_url(url)
    args = ["--dbname", u.database or "postgres"]
    host = u.query.get("host") or u.host
    if host:
        args += ["--host", str(host)]
    if u.port:
        args += ["--port", str(u.port)]
    if u.username:
        args += ["--username", u.username]
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = u.password
    return args, env


def _tool(name: str) -> str:
    return str(find_bindir() / name)


def backup(url: str, output: Path) -> None:
    """Dump the whole database at ``url`` to ``output`` (custom format)."""
    args, env = libpq_args(url)
    tmp = output.with_suffix(output.suffix + ".part")
    proc = subprocess.run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(tmp), *args],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
        check=False,
    )
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise BackupFailed(detail=proc.stderr.strip())
    tmp.replace(output)
    LOGGER.info("backup written to %s", output)


def restore(url: str, dump: Path) -> None:
    """Replace the contents of the database at ``url`` with ``dump``.

    One transaction: a failed restore leaves the database as it was.
    """
    args, env = libpq_args(url)
    proc = subprocess.run(
        [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
         "--exit-on-error", *args, str(dump)],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
        check=False,
    )
    if proc.returncode != 0:
        raise BackupFailed(detail=proc.stderr.strip())
    LOGGER.info("restored %s", dump)
