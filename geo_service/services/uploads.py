"""What an acceptable import file is, decided before any parser touches it.

A file is judged by its bytes, and its extension must agree with them:

- XLSX: a ZIP package holding ``[Content_Types].xml`` and the ``xl/`` part.
  Only the ZIP's central directory is read (:class:`zipfile.ZipFile`
  ``infolist``), never a member: the declared sizes bound what a parser can
  inflate (:mod:`zipfile` stops a member at its declared size and checks its
  CRC), so a package whose members add up to more than
  :attr:`UploadLimits.max_uncompressed_bytes`, whose large members are
  compressed more than :attr:`UploadLimits.max_ratio` : 1, or which has more
  than :attr:`UploadLimits.max_members` members is refused (a "zip bomb").
- CSV: UTF-8 (with or without BOM) or GBK/GB18030 text without NUL bytes.
- GeoJSON: JSON text (UTF-8) whose top level is an object.
- GeoPackage: an SQLite database file (``SQLite format 3`` header).
- Shapefile: a ZIP (the same directory checks as XLSX) holding exactly one
  ``.shp`` with its ``.dbf``.

Files larger than :attr:`UploadLimits.max_bytes` are refused (413) while they
are being received, before the rest is read.  Every refusal is an
:class:`UploadRejected` with a Chinese reason.
"""

from __future__ import annotations

import json
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import GeoServiceError

__all__ = [
    "FORMATS",
    "EXTENSIONS",
    "UploadLimits",
    "UploadRejected",
    "UploadTooLarge",
    "check_import_file",
    "save_upload",
    "safe_filename",
]

MB = 1024 * 1024
# format → its Chinese name, as the reasons show it
FORMATS: dict[str, str] = {"csv": "CSV 文本", "xlsx": "Excel 工作簿（.xlsx）", "geojson": "GeoJSON",
                           "gpkg": "GeoPackage（.gpkg）", "shp": "压缩的 Shapefile（.zip）"}
# extension → the format its content must have
EXTENSIONS: dict[str, str] = {".csv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
                              ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".zip": "shp"}
_ACCEPTED = ".csv、.xlsx、.geojson、.gpkg 或 .zip（Shapefile）"
_CHUNK = 64 * 1024
# Members smaller than this are not held to the compression ratio: a small
# XML part of repeated styles compresses well and can do no harm.
_RATIO_FLOOR_BYTES = 1 * MB


class UploadRejected(GeoServiceError):
    """An import file refused for what it is (type, structure), before parsing."""

    http_status = 400
    code = "upload_rejected"
    user_msg = "该文件不能导入"


class UploadTooLarge(UploadRejected):
    """An import file larger than the limit (413)."""

    http_status = 413
    code = "upload_too_large"
    user_msg = "上传文件过大"


@dataclass(frozen=True)
class UploadLimits:
    """Limits on an import file (bytes; ``max_ratio`` uncompressed : compressed)."""

    max_bytes: int = 20 * MB
    max_uncompressed_bytes: int = 100 * MB
    max_ratio: float = 100.0
    max_members: int = 1000

    @classmethod
    def from_mb(cls, max_mb: float) -> UploadLimits:
        """Default limits with a file size limit of ``max_mb`` megabytes.

        >>> UploadLimits.from_mb(2).max_bytes
        2097152
        """
        return cls(max_bytes=int(max_mb * MB))


def _mb(n: int) -> str:
    """Bytes as megabytes for a message.

    >>> _mb(20 * MB), _mb(1536 * 1024)
    ('20 MB', '1.5 MB')
    """
    return f"{n / MB:.1f}".removesuffix(".0") + " MB"


def _format_of_extension(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        raise UploadRejected(f"不支持的文件类型 {suffix or '（无扩展名）'}：应为 {_ACCEPTED}")
    return EXTENSIONS[suffix]


def _check_zip_directory(path: Path, limits: UploadLimits, fmt: str = "xlsx") -> None:
    """Refuse an XLSX or a zipped Shapefile by its ZIP directory alone (no member is inflated)."""
    what = "Excel 文件" if fmt == "xlsx" else "Shapefile 压缩包"
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise UploadRejected(f"文件以 ZIP 开头但已损坏，不是有效的{'Excel 工作簿' if fmt == 'xlsx' else 'ZIP 压缩包'}") from err
    if len(members) > limits.max_members:
        raise UploadRejected(f"{what}内部包含 {len(members)} 个部件，超过上限 {limits.max_members}，"
                             "疑似恶意压缩文件，已拒绝")
    names = {m.filename for m in members}
    if fmt == "xlsx":
        if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
            raise UploadRejected("文件是 ZIP 压缩包，但不是 Excel 工作簿（.xlsx）")
    else:
        shp = [n for n in names if n.lower().endswith(".shp")]
        if len(shp) != 1 or shp[0][:-4] + ".dbf" not in {n[:-4] + n[-4:].lower() for n in names}:
            raise UploadRejected("ZIP 压缩包中应恰有一个 Shapefile（同名的 .shp、.shx、.dbf，最好含 .prj 和 .cpg）")
    if any(m.flag_bits & 0x1 for m in members):
        raise UploadRejected(f"{what}已加密，请取消密码保护后再导入")
    total = sum(m.file_size for m in members)
    if total > limits.max_uncompressed_bytes:
        raise UploadRejected(f"{what}解压后达 {_mb(total)}，超过上限 {_mb(limits.max_uncompressed_bytes)}，"
                             "疑似恶意压缩文件，已拒绝")
    for m in members:
        if m.file_size > _RATIO_FLOOR_BYTES and m.file_size > limits.max_ratio * max(m.compress_size, 1):
            ratio = m.file_size / max(m.compress_size, 1)
            raise UploadRejected(f"{what}中的部件 {m.filename} 压缩比为 {ratio:.0f}:1，"
                                 f"超过上限 {limits.max_ratio:.0f}:1，疑似恶意压缩文件，已拒绝")


def _decode_text(data: bytes) -> str | None:
    """``data`` as text (UTF-8 with or without BOM, else GB18030/GBK), None when binary."""
    if b"\x00" in data:
        return None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _content_format(path: Path, claimed: str) -> str:
    """The format of the file by its bytes (``claimed`` decides between text formats)."""
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "shp" if claimed == "shp" else "xlsx"
    if head == b"SQLite format 3\x00":
        return "gpkg"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UploadRejected("这是旧版 Excel（.xls）或其他 Office 旧格式文件，请在 Excel 中另存为 .xlsx 后再导入")
    if head.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf")):
        raise UploadRejected("文件内容不是表格或 GeoJSON（是 PDF、图片或压缩包），请上传 .csv、.xlsx 或 .geojson 文件")
    text = _decode_text(path.read_bytes())
    if text is None:
        raise UploadRejected("文件内容不是文本（含二进制数据），也不是 Excel 工作簿，无法导入")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            doc = json.loads(stripped)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            return "geojson"
        if claimed == "geojson":
            raise UploadRejected("GeoJSON 文件内容不是有效的 JSON 对象")
    if claimed == "geojson":
        raise UploadRejected("文件扩展名为 GeoJSON，但内容不是 JSON")
    return "csv"


def check_import_file(path: Path | str, limits: UploadLimits | None = None) -> str:
    """Check an import file before it is parsed; return its format.

    Parameters
    ----------
    path
        The file; its extension (``.csv``, ``.xlsx``/``.xlsm``,
        ``.geojson``/``.json``, ``.gpkg``, ``.zip`` holding one Shapefile)
        must agree with its content.
    limits
        Size and ZIP limits (defaults: 20 MB, 100 MB unpacked, 100:1, 1000 members).

    Returns
    -------
    str
        ``"csv"``, ``"xlsx"``, ``"geojson"``, ``"gpkg"`` or ``"shp"``.

    Raises
    ------
    UploadTooLarge
        Larger than ``limits.max_bytes`` (413).
    UploadRejected
        Empty, unknown extension, content of another type than the extension
        says, or an XLSX over the ZIP limits (400).
    """
    limits = limits or UploadLimits()
    path = Path(path)
    claimed = _format_of_extension(path)
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise UploadTooLarge(f"文件大小 {_mb(size)} 超过导入上限 {_mb(limits.max_bytes)}")
    if size == 0:
        raise UploadRejected("文件为空")
    actual = _content_format(path, claimed)
    if actual != claimed:
        raise UploadRejected(f"文件扩展名 {path.suffix} 与内容不符：内容是{FORMATS[actual]}，"
                             f"扩展名却表示{FORMATS[claimed]}")
    if actual in ("xlsx", "shp"):
        _check_zip_directory(path, limits, actual)
    return actual


def safe_filename(filename: str | None, default_stem: str = "upload") -> str:
    """A file name safe to create in a private directory, keeping Chinese
    characters and the (lower-cased) extension.

    >>> safe_filename("C:\\\\Users\\\\张三\\\\企业名单.XLSX"), safe_filename("../../etc/passwd.csv")
    ('企业名单.xlsx', 'passwd.csv')
    >>> safe_filename(".csv"), safe_filename(None)
    ('upload.csv', 'upload')
    """
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = re.sub(r"[\s]+", " ", stem).strip(" .")[:100] or default_stem
    ext = re.sub(r"[^A-Za-z0-9]", "", ext).lower()[:10]
    return f"{stem}.{ext}" if ext else stem


def save_upload(stream: IO[bytes], filename: str | None, directory: Path | str,
                limits: UploadLimits | None = None) -> Path:
    """Receive an uploaded file into ``directory`` and check it (:func:`check_import_file`).

    The stream is copied in chunks and refused (:class:`UploadTooLarge`) as
    soon as it passes ``limits.max_bytes``; a refused file is deleted.
    """
    limits = limits or UploadLimits()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / safe_filename(filename)
    _format_of_extension(target)  # refuse an unknown extension before reading anything
    received = 0
    try:
        with target.open("wb") as out:
            while chunk := stream.read(_CHUNK):
                received += len(chunk)
                if received > limits.max_bytes:
                    raise UploadTooLarge(f"文件超过导入上限 {_mb(limits.max_bytes)}")
                out.write(chunk)
        check_import_file(target, limits)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target
