"""The checks an import file passes before any parser touches it
(:mod:`geo_service.services.uploads`), and the importers' use of them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from geo_service.services import importers, uploads
from geo_service.services.uploads import UploadLimits, UploadRejected, UploadTooLarge, check_import_file

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MB = 1024 * 1024


def zip_bomb(path: Path, megabytes: int) -> Path:
    """A ZIP that looks like an XLSX and whose sheet inflates to ``megabytes`` MB of zeros.

    Written in 1 MB chunks so neither the test nor the file ever holds it all.
    """
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            chunk = bytes(MB)
            for _ in range(megabytes):
                member.write(chunk)
    return path


@pytest.fixture(scope="module")
def big_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 200 MB inflated from a file of about 200 KB
    return zip_bomb(tmp_path_factory.mktemp("bomb") / "企业.xlsx", 200)


def test_good_files_pass_and_say_their_format(tmp_path):
    template = importers.write_template("enterprises", tmp_path / "t.xlsx")
    assert check_import_file(template) == "xlsx"
    assert check_import_file(FIXTURES / "enterprises.csv") == "csv"
    assert check_import_file(FIXTURES / "enterprises.geojson") == "geojson"
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes((FIXTURES / "enterprises.csv").read_text(encoding="utf-8-sig").encode("gbk"))
    assert check_import_file(gbk) == "csv"


def test_text_renamed_to_xlsx_is_refused(tmp_path):
    fake = tmp_path / "企业.xlsx"
    fake.write_bytes((FIXTURES / "enterprises.csv").read_bytes())
    with pytest.raises(UploadRejected, match=r"扩展名 \.xlsx 与内容不符：内容是CSV 文本") as info:
        check_import_file(fake)
    assert info.value.http_status == 400


def test_workbook_renamed_to_csv_is_refused(tmp_path):
    book = importers.write_template("hazards", tmp_path / "t.xlsx")
    renamed = tmp_path / "隐患.csv"
    renamed.write_bytes(book.read_bytes())
    with pytest.raises(UploadRejected, match=r"内容是Excel 工作簿"):
        check_import_file(renamed)


def test_json_must_be_an_object_and_csv_must_not_be_json(tmp_path):
    text_only = tmp_path / "a.geojson"
    text_only.write_text("统一社会信用代码,企业名称\n", encoding="utf-8")
    with pytest.raises(UploadRejected, match="内容不是 JSON"):
        check_import_file(text_only)
    as_csv = tmp_path / "a.csv"
    as_csv.write_bytes((FIXTURES / "enterprises.geojson").read_bytes())
    with pytest.raises(UploadRejected, match="内容是GeoJSON"):
        check_import_file(as_csv)


def test_binary_and_other_formats_are_refused(tmp_path):
    binary = tmp_path / "a.csv"
    binary.write_bytes(b"credit,name\x00\x01\x02\n")
    with pytest.raises(UploadRejected, match="含二进制数据"):
        check_import_file(binary)
    xls = tmp_path / "old.xlsx"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))
    with pytest.raises(UploadRejected, match=r"旧版 Excel（\.xls）"):
        check_import_file(xls)
    pdf = tmp_path / "scan.csv"
    pdf.write_bytes(b"%PDF-1.7\n...")
    with pytest.raises(UploadRejected, match="是 PDF、图片或压缩包"):
        check_import_file(pdf)
    docx_like = tmp_path / "doc.xlsx"
    with zipfile.ZipFile(docx_like, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<document/>")
    with pytest.raises(UploadRejected, match=r"不是 Excel 工作簿"):
        check_import_file(docx_like)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04" + bytes(50))
    with pytest.raises(UploadRejected, match="已损坏"):
        check_import_file(broken)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(UploadRejected, match="文件为空"):
        check_import_file(empty)
    other = tmp_path / "a.txt"
    other.write_text("x")
    with pytest.raises(UploadRejected, match=r"不支持的文件类型 \.txt"):
        check_import_file(other)


def test_zip_bomb_over_the_total_is_refused_from_the_directory(big_bomb):
    with zipfile.ZipFile(big_bomb) as zf:  # the relation the guard relies on
        declared = sum(i.file_size for i in zf.infolist())
    assert declared > 100 * MB and big_bomb.stat().st_size < 2 * MB
    with pytest.raises(UploadRejected, match=r"解压后达 200 MB，超过上限 100 MB"):
        check_import_file(big_bomb)


def test_zip_bomb_under_the_total_is_refused_by_its_ratio(tmp_path):
    bomb = zip_bomb(tmp_path / "r.xlsx", 5)  # 5 MB of zeros compress ~1000:1, under the 100 MB total
    with pytest.raises(UploadRejected, match=r"部件 xl/worksheets/sheet1\.xml 压缩比为 \d+:1，超过上限 100:1"):
        check_import_file(bomb)
    # a looser ratio lets the same file through: the ratio is what refused it
    assert check_import_file(bomb, UploadLimits(max_ratio=5000)) == "xlsx"


def test_too_many_members_are_refused(tmp_path):
    many = tmp_path / "many.xlsx"
    with zipfile.ZipFile(many, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        for i in range(1000):
            zf.writestr(f"xl/p{i}.xml", "<p/>")
    with pytest.raises(UploadRejected, match="包含 1001 个部件，超过上限 1000"):
        check_import_file(many)


def test_file_over_the_size_limit_is_413(tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(b"a,b\n" * (300 * 1024))  # 1.2 MB
    with pytest.raises(UploadTooLarge, match=r"文件大小 1\.2 MB 超过导入上限 1 MB") as info:
        check_import_file(big, UploadLimits.from_mb(1))
    assert info.value.http_status == 413
    assert check_import_file(big, UploadLimits.from_mb(2)) == "csv"


class EndlessZeros(io.RawIOBase):
    """A stream that never ends, counting what was read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        buffer[:] = bytes(len(buffer))
        self.read_bytes += len(buffer)
        return len(buffer)


def test_save_upload_stops_reading_at_the_limit_and_leaves_nothing(tmp_path):
    stream = EndlessZeros()
    with pytest.raises(UploadTooLarge, match="超过导入上限 1 MB"):
        uploads.save_upload(stream, "企业.csv", tmp_path, UploadLimits.from_mb(1))
    assert MB < stream.read_bytes <= MB + 64 * 1024
    assert list(tmp_path.iterdir()) == []


def test_save_upload_refuses_an_unknown_extension_before_reading(tmp_path):
    stream = EndlessZeros()
    with pytest.raises(UploadRejected, match=r"不支持的文件类型 \.exe"):
        uploads.save_upload(stream, "setup.exe", tmp_path)
    assert stream.read_bytes == 0


def test_save_upload_keeps_a_safe_chinese_name(tmp_path):
    data = (FIXTURES / "enterprises.csv").read_bytes()
    path = uploads.save_upload(io.BytesIO(data), "..\\..\\甲县 企业名单.CSV", tmp_path)
    assert path == tmp_path / "甲县 企业名单.csv"
    assert path.read_bytes() == data


def test_the_importer_refuses_a_bomb_without_parsing_it(session, big_bomb, monkeypatch):
    opened: list[object] = []
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: opened.append(a))
    with pytest.raises(importers.ImportFailed, match="疑似恶意压缩文件"):
        importers.import_records(session, "enterprises", big_bomb)
    assert opened == []


def test_the_importer_refuses_a_fake_xlsx(session, tmp_path):
    fake = tmp_path / "e.xlsx"
    fake.write_bytes((FIXTURES / "enterprises.csv").read_bytes())
    with pytest.raises(importers.ImportFailed, match=r"扩展名 \.xlsx 与内容不符"):
        importers.import_records(session, "enterprises", fake)
