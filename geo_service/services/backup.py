"""Backup and restore: one archive holding the database dump and the evidence files.

A backup is a tar archive:

``geo-service-backup.json``
    The manifest: format and version, when, the schema revision, the database
    roles the dump grants privileges to (``geo_app`` …), the number of files.
``register.dump``
    ``pg_dump`` of the whole database (custom format, ``--no-owner``).
``uploads/…``
    The evidence files, as stored under ``UPLOAD_DIR`` (named by their SHA-256).

:func:`restore` writes into an empty database (created when it does not exist
yet) on any server: it first creates the roles the dump grants to, restores
the dump in one transaction, then copies the files.  ``replace=True`` instead
overwrites a database that has content.  Every failure is a
:class:`BackupFailed` with a Chinese message saying what to do.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ..embedded import find_bindir
from ..errors import GeoServiceError

__all__ = ["backup", "restore", "libpq_args", "BackupFailed", "BackupInfo", "MANIFEST", "FORMAT"]

LOGGER = logging.getLogger(__name__)

FORMAT = "geo-service-backup"
VERSION = 1
MANIFEST = "geo-service-backup.json"
DUMP = "register.dump"
UPLOADS = "uploads"

# Roles the dump grants to, which the target server must have before the restore.
_GRANTEES = """
SELECT DISTINCT r.rolname, r.rolcanlogin
  FROM (SELECT (aclexplode(relacl)).grantee AS oid FROM pg_class WHERE relacl IS NOT NULL
        UNION SELECT (aclexplode(attacl)).grantee FROM pg_attribute WHERE attacl IS NOT NULL
        UNION SELECT (aclexplode(nspacl)).grantee FROM pg_namespace WHERE nspacl IS NOT NULL
        UNION SELECT (aclexplode(defaclacl)).grantee FROM pg_default_acl) g
  JOIN pg_roles r ON r.oid = g.oid
 WHERE NOT r.rolsuper AND r.rolname NOT LIKE 'pg\\_%' AND r.rolname <> current_user
 ORDER BY 1
"""
# Tables in the database that an extension did not make (PostGIS's spatial_ref_sys).
_USER_TABLES = """
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                   AND d.objid = c.oid AND d.deptype = 'e')
"""


class BackupFailed(GeoServiceError):
    code = "backup_failed"
    user_msg = "备份或恢复失败"


class BackupInfo(dict):  # type: ignore[type-arg]
    """The manifest of a backup archive (a dict, as written to JSON)."""


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


def _where(url: str) -> str:
    """The database as a person names it: ``name @ host`` (no password)."""
    u = make_url(url)
    host = u.query.get("host") or u.host or "localhost"
    return f"{u.database or 'postgres'}（{host}{':' + str(u.port) if u.port else ''}）"


def _engine(url: str, **kw):  # type: ignore[no-untyped-def]
    return create_engine(url, connect_args={"connect_timeout": 5}, **kw)


def _unreachable(url: str, err: DBAPIError) -> BackupFailed:
    return BackupFailed(
        f"无法连接数据库服务器 {_where(url)}：请确认服务器已启动，地址、端口、用户名和密码正确。",
        detail=str(err.orig).strip())


# --------------------------------------------------------------------------- backup


def _manifest(url: str, files: int) -> BackupInfo:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            roles = [{"name": name, "login": login} for name, login in conn.execute(text(_GRANTEES))]
            revision = None
            if conn.execute(text("SELECT to_regclass('alembic_version')")).scalar() is not None:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError as err:
        raise _unreachable(url, err) from err
    finally:
        engine.dispose()
    return BackupInfo(format=FORMAT, version=VERSION, created_at=dt.datetime.now(dt.UTC).isoformat(),
                      revision=revision, roles=roles, uploads=files)


def backup(url: str, output: Path, upload_dir: Path | None = None) -> BackupInfo:
    """Write one archive with the database at ``url`` and the files under ``upload_dir``.

    The archive is written to a temporary name and renamed when complete, so
    ``output`` is never half a backup.
    """
    output = Path(output)
    files = sorted(p for p in Path(upload_dir).rglob("*") if p.is_file() and not p.name.startswith(".")) \
        if upload_dir is not None and Path(upload_dir).is_dir() else []
    info = _manifest(url, len(files))
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="geo-backup-", dir=output.parent) as tmp:
        dump = Path(tmp) / DUMP
        args, env = libpq_args(url)
        proc = subprocess.run(
            [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(dump), *args],
            capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False,
        )
        if proc.returncode != 0:
            raise BackupFailed(f"备份数据库 {_where(url)} 失败：{_last_line(proc.stderr)}",
                               detail=proc.stderr.strip())
        part = Path(tmp) / "backup.tar"
        with tarfile.open(part, "w") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(info, ensure_ascii=False, indent=1).encode("utf-8"))
            tar.add(dump, arcname=DUMP)
            for path in files:
                tar.add(path, arcname=f"{UPLOADS}/{path.relative_to(upload_dir).as_posix()}")  # type: ignore[arg-type]
        part.replace(output)
    LOGGER.info("backup written to %s (%d files)", output, len(files))
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    member.mtime = int(dt.datetime.now().timestamp())
    member.mode = 0o644
    tar.addfile(member, io.BytesIO(data))


def _last_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "未知错误"


# --------------------------------------------------------------------------- restore


def read_manifest(archive: Path) -> BackupInfo:
    """The manifest of ``archive``; :class:`BackupFailed` when it is not a backup."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupFailed(f"备份文件不存在：{archive}")
    with archive.open("rb") as fh:
        if fh.read(5) == b"PGDMP":
            raise BackupFailed(f"{archive.name} 是旧格式的备份（只有数据库，没有佐证材料），"
                               "请用 PostgreSQL 的 pg_restore 恢复到空数据库后再运行 geo-service backup 重新备份")
    not_backup = BackupFailed(f"{archive.name} 不是本系统的备份文件（应为 geo-service backup 生成的 .tar 归档）")
    try:
        with tarfile.open(archive, "r") as tar:
            member = tar.getmember(MANIFEST)
            fh = tar.extractfile(member)
            info = json.loads(fh.read().decode("utf-8")) if fh else None
            names = set(tar.getnames())
    except (tarfile.TarError, KeyError, ValueError, UnicodeDecodeError, OSError) as err:
        raise not_backup from err
    if not isinstance(info, dict) or info.get("format") != FORMAT or DUMP not in names:
        raise not_backup
    if int(info.get("version", 0)) > VERSION:
        raise BackupFailed(f"{archive.name} 由更新版本的本系统生成（格式版本 {info.get('version')}），请先升级软件")
    return BackupInfo(info)


def _prepare_target(url: str, *, replace: bool) -> None:
    """Create the database when the server has none of that name; refuse one with content."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(text(_USER_TABLES)).scalar_one()
    except DBAPIError as err:
        if "does not exist" not in str(err.orig) or make_url(url).database in (None, "postgres"):
            raise _unreachable(url, err) from err
        _create_database(url)
        return
    finally:
        engine.dispose()
    if tables and not replace:
        raise BackupFailed(
            f"目标数据库 {_where(url)} 不是空库（已有 {tables} 张表）。恢复只写入空数据库："
            "请指定一个新的数据库名（不存在时会自动创建），或加 --replace 覆盖其现有内容。")


def _create_database(url: str) -> None:
    u = make_url(url)
    admin = _engine(u.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    except DBAPIError as err:
        raise BackupFailed(f"目标数据库 {_where(url)} 不存在，且无法创建：{str(err.orig).strip()}",
                           detail=str(err.orig).strip()) from err
    finally:
        admin.dispose()
    LOGGER.info("created database %s", u.database)


def _ensure_roles(url: str, roles: list[dict[str, object]]) -> list[str]:
    """Create the roles the dump grants to that the server lacks; returns those created."""
    created = []
    engine = _engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for role in roles:
                name = str(role["name"])
                if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first():
                    continue
                quoted = conn.dialect.identifier_preparer.quote(name)
                try:
                    conn.execute(text(f"CREATE ROLE {quoted} {'LOGIN' if role.get('login') else 'NOLOGIN'}"))
                except DBAPIError as err:
                    raise BackupFailed(
                        f"数据库服务器上没有角色 {name}，且当前账号无权创建（需要 CREATEROLE）：请由管理员先创建该角色。",
                        detail=str(err.orig).strip()) from err
                created.append(name)
    except DBAPIError as err:
        raise _unreachable(url, err) from err
    finally:
        engine.dispose()
    return created


def _safe_upload_name(name: str) -> PurePosixPath | None:
    """The path under the upload directory of archive member ``name`` (None: not an upload
    or not a safe relative path)."""
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or path.parts[0] != UPLOADS or ".." in path.parts:
        return None
    rest = PurePosixPath(*path.parts[1:])
    return rest if rest.parts else None


def _pg_restore(url: str, dump: Path) -> None:
    """``pg_restore`` of ``dump`` into the empty database at ``url``, in one transaction."""
    args, env = libpq_args(url)
    proc = subprocess.run(
        [_tool("pg_restore"), "--no-owner", "--single-transaction", "--exit-on-error", *args, str(dump)],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False,
    )
    if proc.returncode != 0:
        raise BackupFailed(f"恢复数据库 {_where(url)} 失败，数据库未改动：{_last_line(proc.stderr)}",
                           detail=proc.stderr.strip())


def _replace_database(url: str, dump: Path) -> None:
    """Replace the database at ``url`` by ``dump``: restored first into a new database
    beside it, which then takes its name (``pg_restore --clean`` cannot drop the
    constraints of partitioned tables, and a failure here leaves the old database as it was)."""
    u = make_url(url)
    name = u.database or "postgres"
    staging = f"{name[:40]}_restore_{secrets.token_hex(4)}"
    staging_url = u.set(database=staging).render_as_string(hide_password=False)
    _create_database(staging_url)
    admin = _engine(u.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    try:
        try:
            _pg_restore(staging_url, dump)
        except BackupFailed:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{staging}" WITH (FORCE)'))
            raise
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            conn.execute(text(f'ALTER DATABASE "{staging}" RENAME TO "{name}"'))
    except DBAPIError as err:
        raise BackupFailed(f"替换数据库 {_where(url)} 失败：{str(err.orig).strip()}", detail=str(err.orig).strip()) from err
    finally:
        admin.dispose()
    LOGGER.info("replaced database %s with the restored copy", name)


def restore(url: str, archive: Path, upload_dir: Path | None = None, *, replace: bool = False) -> BackupInfo:
    """Restore ``archive`` into the database at ``url`` and its files into ``upload_dir``.

    The database must be empty or absent (it is then created) unless
    ``replace`` (restored beside it, then swapped in: its connections are
    ended and its clients reconnect); the roles the dump grants to are created when missing; the
    dump is restored in one transaction (a failure leaves the database as it
    was), and only then are the files copied (existing files of the same name
    are kept: evidence is stored by its SHA-256).
    """
    info = read_manifest(archive)
    _prepare_target(url, replace=replace)
    info["roles_created"] = _ensure_roles(url, list(info.get("roles") or []))
    with tempfile.TemporaryDirectory(prefix="geo-restore-") as tmp, tarfile.open(archive, "r") as tar:
        tar.extract(DUMP, tmp, filter="data")
        if replace:
            _replace_database(url, Path(tmp) / DUMP)
        else:
            _pg_restore(url, Path(tmp) / DUMP)
        copied = 0
        if upload_dir is not None:
            for member in tar.getmembers():
                rel = _safe_upload_name(member.name)
                if rel is None or not member.isfile():
                    continue
                target = Path(upload_dir).joinpath(*rel.parts)
                if target.exists():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                if src is None:
                    continue
                part = target.with_name(f".restore-{target.name}")
                with src, part.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
                part.replace(target)
                copied += 1
        info["uploads_restored"] = copied
    LOGGER.info("restored %s into %s", archive, _where(url))
    return info
