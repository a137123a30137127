"""Evidence on a hazard: photos and documents (before/after rectification, the
治理方案, the acceptance record), stored outside the database.

A file is accepted by what its bytes are, never by its name: JPEG, PNG, PDF,
DOCX or XLSX (the last two are ZIP packages checked for their main part).
It is stored once per content under ``UPLOAD_DIR/<sha256[:2]>/<sha256>``
(written to a temporary name, then renamed), and its row records the
SHA-256, size, type and the original file name.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import Actor
from ..errors import Forbidden, GeoServiceError, InvalidParameter, NotFound
from ..models import Enterprise, Hazard, HazardEvidence
from ..queries.scope import Scope, enterprise_scope
from .register import audit, load_hazard, snapshot

__all__ = ["KINDS", "TYPES", "sniff", "store_evidence", "load_evidence", "evidence_path", "store_content",
           "read_limited", "FileTooLarge"]

KINDS: dict[str, str] = {
    "before": "整改前照片",
    "after": "整改后照片",
    "plan": "治理方案",
    "acceptance": "验收记录",
    "other": "其他",
}
# content type → extension of the accepted kinds of file.
TYPES: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}


class FileTooLarge(GeoServiceError):
    http_status = 413
    code = "file_too_large"
    user_msg = "上传文件过大"


def sniff(data: bytes) -> str | None:
    """The content type of ``data`` by its magic bytes, or None when not accepted.

    >>> sniff(b"\\x89PNG\\r\\n\\x1a\\n...."), sniff(b"%PDF-1.7 ..."), sniff(b"MZ\\x90\\x00")
    ('image/png', 'application/pdf', None)
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
        except zipfile.BadZipFile:
            return None
        if "[Content_Types].xml" not in names:
            return None
        if "word/document.xml" in names:
            return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        if "xl/workbook.xml" in names:
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return None


def evidence_path(upload_dir: Path, sha256: str) -> Path:
    """Where the content with ``sha256`` is stored."""
    return Path(upload_dir) / sha256[:2] / sha256


def store_content(upload_dir: Path, data: bytes) -> str:
    """Store ``data`` once under its SHA-256 (temporary name, then rename); return the digest."""
    digest = hashlib.sha256(data).hexdigest()
    target = evidence_path(upload_dir, digest)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return digest


def read_limited(stream: BinaryIO, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of ``stream``; :class:`FileTooLarge` (413) when there is more."""
    return _read_limited(stream, max_bytes)


def _read_limited(stream: BinaryIO, max_bytes: int) -> bytes:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileTooLarge(f"上传文件过大（上限 {max_bytes // (1024 * 1024)} MB）")
    return data


def store_evidence(session: Session, hazard_id: int, stream: BinaryIO, filename: str, kind: str,
                   actor: Actor, *, scope: Scope, upload_dir: Path, max_bytes: int) -> HazardEvidence:
    """Check, store and record one evidence file on a hazard.

    Raises :class:`InvalidParameter` (``file`` or ``kind``) for an empty file,
    a type that is not JPEG/PNG/PDF/DOCX/XLSX or an unknown kind;
    :class:`FileTooLarge` (413) above ``max_bytes``; 404 for a hazard that is
    missing or outside the scope (the same answer).
    """
    if not (actor.may("report_hazard") or actor.may("rectify") or actor.may("verify")):
        raise Forbidden()
    if kind not in KINDS:
        raise InvalidParameter("kind", f"未知材料类别 {kind!r}，可选：{', '.join(KINDS)}")
    hazard = load_hazard(session, hazard_id, scope=scope, write=True)
    data = _read_limited(stream, max_bytes)
    if not data:
        raise InvalidParameter("file", "文件为空")
    content_type = sniff(data)
    if content_type is None:
        raise InvalidParameter("file", "只接受 JPEG、PNG、PDF、DOCX、XLSX 文件（按文件内容判断）")
    digest = store_content(upload_dir, data)
    name = Path(filename or "").name[:255] or f"evidence.{TYPES[content_type]}"
    row = HazardEvidence(hazard_id=hazard.id, kind=kind, filename=name, content_type=content_type,
                         size_bytes=len(data), sha256=digest,
                         stored_path=str(Path(digest[:2]) / digest), uploaded_by=actor.name)
    session.add(row)
    session.flush()
    session.refresh(row)
    audit(session, actor, "upload", "hazard_evidence", row.id, None, snapshot(row))
    return row


def load_evidence(session: Session, evidence_id: int, *, scope: Scope,
                  upload_dir: Path) -> tuple[HazardEvidence, Path]:
    """An evidence row in the caller's scope and the path of its stored content."""
    row = session.execute(
        sa.select(HazardEvidence)
        .join(Hazard, Hazard.id == HazardEvidence.hazard_id)
        .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .where(HazardEvidence.id == evidence_id, enterprise_scope(scope))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"材料 {evidence_id} 不存在")
    path = Path(upload_dir) / row.stored_path
    if not path.is_file():
        raise NotFound("材料文件已丢失")
    return row, path
