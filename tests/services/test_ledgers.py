"""The ledger exports read back and compared with the register: 附件4 and 附件5
(XLSX, the forms' own headings), 附件6 (one A4 PDF page with the CJK font
embedded, DOCX with every field)."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from pypdf import PdfReader
from web.test_ledger_world import ENTERPRISES, LedgerWorld, build

from geo_service.errors import NotFound
from geo_service.queries.scope import ALL, Scope
from geo_service.services import ledgers

# The headings as printed in shared/forms/001_*.txt, copied by hand.
FORM4_HEADINGS = ["序号", "企业名称", "企业主要负责人姓名", "隐患主要内容", "交办时间",
                  "目前采取的管控措施（限期整改、查封、停产等）", "挂牌督办文件", "备注"]
FORM5_HEADINGS = ["检查企业（单位）名称", "检查人员", "检查时间", "问题隐患", "整改措施", "整改责任人",
                  "整改时限", "复查情况", "备注"]


@pytest.fixture
def world(session) -> LedgerWorld:  # type: ignore[no-untyped-def]
    w = build(session)
    session.commit()
    return w


def _heading(cell_value: object) -> str:
    return re.sub(r"\s+", "", str(cell_value))


def _date(value: object) -> dt.date:
    assert isinstance(value, dt.datetime), f"{value!r} is not a typed date"
    return value.date()


# --------------------------------------------------------------------------- 附件4 / 附件5 (through the app)


def test_checklist_xlsx_lists_the_major_hazards(client, world):
    resp = client.get("/hazards/export/checklist.xlsx?region=532500")
    assert resp.status_code == 200
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(resp.data)).active
    assert ws["A1"].value == "红河州重大事故隐患专项排查清单"
    assert ws["A2"].value.startswith("报送单位（公章）：")
    t = world.today
    assert ws.cell(2, 5).value == f"填表时间：{t.year}年{t.month}月{t.day}日"
    assert [_heading(c.value) for c in ws[3]] == FORM4_HEADINGS
    # The major hazards of the fixture, oldest first: h3 (−100), h1 (−40), h7 (−5).
    body = [row for row in ws.iter_rows(min_row=4, max_row=6, values_only=True)]
    keys = ["h3", "h1", "h7"]
    facts = {h["key"]: h for h in world.hazard_facts()}
    for i, (row, key) in enumerate(zip(body, keys, strict=True), start=1):
        ent = ENTERPRISES[facts[key]["ent"]]
        assert row[0] == i and isinstance(row[0], int)
        assert row[1] == ent["name"]
        assert row[2] == ent["legal_rep"]
        assert row[3] == facts[key]["description"]
        assert _date(row[4]) == facts[key]["found_on"]
    assert body[0][6] == "红安办督〔2026〕1号"  # h3 挂牌督办
    assert "已验收销号" in body[0][7]
    assert "限期整改" in body[1][5] and "加装有毒气体报警仪" in body[1][5]  # h1 measures + deadline
    assert "已逾期5天" in body[1][7]
    # Nothing more than the three: the note row follows.
    assert str(ws.cell(7, 1).value).startswith("备注：")


def test_worklog_xlsx_follows_the_filter(client, world):
    resp = client.get("/hazards/export/worklog.xlsx?region=532501")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    assert ws["A1"].value == "问题隐患排查整治工作台账"
    assert [_heading(c.value) for c in ws[3]] == FORM5_HEADINGS
    facts = {h["key"]: h for h in world.hazard_facts()}
    # 个旧市 hazards by found date: h3 (−100), h1 (−40), h4 (−20), h5 (−15), h2 (−10).
    keys = ["h3", "h1", "h4", "h5", "h2"]
    rows = list(ws.iter_rows(min_row=4, max_row=3 + len(keys), values_only=True))
    for row, key in zip(rows, keys, strict=True):
        f = facts[key]
        assert row[0] == f["enterprise"]
        assert _date(row[2]) == f["found_on"]
        assert row[3] == f["description"]
        assert _date(row[6]) == f["deadline"]
    assert rows[0][7].startswith(f"{world.today.year}年") and "市应急局验收组" in rows[0][7]  # h3 复查情况
    assert rows[3][7].endswith("待复查")  # h5 rectified
    assert rows[2][5] == "吴工" and rows[2][4] == "加装防护罩"  # h4 整改责任人, 整改措施
    assert ws.cell(4 + len(keys), 1).value is None  # nothing else listed
    signs = [c.value for row in ws.iter_rows(min_row=4 + len(keys)) for c in row if c.value]
    assert signs == ["审核人：", "填报人："]


def test_exports_respect_the_scope(session, world):
    from geo_service.queries import ledger as q
    from geo_service.queries.filters import Filters

    scope = Scope(region="532502")
    rows = session.execute(q.hazard_rows(Filters(), scope=scope, as_of=world.today)).mappings().all()
    assert {r["id"] for r in rows} == {world.hazards[k].id for k in ("h6", "h7", "h8")}
    with pytest.raises(NotFound, match="不存在或不在管辖范围内"):
        ledgers.major_record(session, world.hazards["h1"].id, scope=scope, as_of=world.today)


# --------------------------------------------------------------------------- 附件6


def test_major_record_fields_come_from_the_register(session, world):
    rec = ledgers.major_record(session, world.hazards["h1"].id, scope=ALL, as_of=world.today)
    chem = ENTERPRISES["chem"]
    assert (rec.enterprise_name, rec.address, rec.legal_rep, rec.phone, rec.industry, rec.dept) == (
        chem["name"], chem["address"], chem["legal_rep"], chem["contact_phone"], "危险化学品",
        chem["supervising_dept"])
    assert rec.hazard_name == "液氯储罐区未设置泄漏报警装置"
    assert rec.level == "重大事故隐患"
    assert rec.category == "设备设施"
    assert "安监总管三〔2017〕121号" in rec.nature
    assert "市应急局检查组" in rec.situation and "部门检查" in rec.situation
    assert rec.method == "加装有毒气体报警仪并与紧急切断阀联锁"
    assert rec.funds == "12.50 万元"
    assert "王工" in rec.organisation
    deadline = world.today - dt.timedelta(days=5)
    assert f"{deadline.year}年{deadline.month}月{deadline.day}日前完成整改" in rec.time_limit
    assert "已逾期5天" in rec.time_limit
    assert rec.emergency == "液氯泄漏专项应急预案"
    # Every field of the form is filled for this fully recorded hazard.
    assert all(value for _label, value in ledgers.record_items(rec))


def test_general_hazard_has_no_major_record(session, world):
    with pytest.raises(NotFound, match="一般隐患"):
        ledgers.major_record(session, world.hazards["h2"].id, scope=ALL, as_of=world.today)


def test_major_record_pdf_is_one_a4_page_with_the_fields(client, world, tmp_path: Path):
    resp = client.get(f"/hazards/{world.hazards['h1'].id}/ledger.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(resp.data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    content = re.sub(r"\s+", "", reader.pages[0].extract_text())
    for value in ("重大事故隐患整改台账", "甲化工有限公司", "张三", "0873-1234567", "个旧市应急管理局",
                  "液氯储罐区未设置泄漏报警装置", "12.50万元", "液氯泄漏专项应急预案", "验收组成员签字",
                  "省辖市主管部门意见"):
        assert value in content, value
    # The CJK font is embedded (not merely referenced).
    fonts = []
    for font in reader.pages[0]["/Resources"]["/Font"].values():
        font = font.get_object()
        for desc in font.get("/DescendantFonts", [font]):
            fd = desc.get_object().get("/FontDescriptor")
            if fd is not None:
                fd = fd.get_object()
                fonts.append((str(fd["/FontName"]), any(k in fd for k in ("/FontFile", "/FontFile2", "/FontFile3"))))
    assert any("CJK" in name and embedded for name, embedded in fonts), fonts
    # It renders: poppler draws it, and the page is not blank.
    pdf = tmp_path / "f6.pdf"
    pdf.write_bytes(resp.data)
    subprocess.run(["pdftoppm", "-r", "30", "-png", "-singlefile", str(pdf), str(tmp_path / "f6")], check=True)
    import numpy as np
    from PIL import Image

    with Image.open(tmp_path / "f6.png") as img:
        assert img.size[0] < img.size[1]  # portrait
        dark = int((np.asarray(img.convert("L")) < 128).sum())
    assert dark > 500


def test_long_texts_still_fit_one_page(session, world):
    rec = ledgers.major_record(session, world.hazards["h1"].id, scope=ALL, as_of=world.today)
    long = rec.__class__(**{**rec.__dict__, "method": "加装报警装置并联锁切断。" * 60,
                            "emergency": "启动专项应急预案，疏散人员。" * 40})
    reader = PdfReader(io.BytesIO(ledgers.major_record_pdf(rec.__class__(**long.__dict__), unit="某单位",
                                                           filled_on=world.today)))
    assert len(reader.pages) == 1


def test_major_record_docx_has_every_field_and_blank_sign_off(client, world):
    resp = client.get(f"/hazards/{world.hazards['h1'].id}/ledger.docx")
    assert resp.status_code == 200
    doc = Document(io.BytesIO(resp.data))
    section = doc.sections[0]
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    table = doc.tables[0]
    cells: dict[str, str] = {}
    for row in table.rows:
        texts = [c.text for c in row.cells]
        # label → the next distinct cell's text (merged cells repeat).
        for i, label in enumerate(texts[:-1]):
            nxt = next((t for t in texts[i + 1:] if t != label), None)
            if nxt is not None:
                cells.setdefault(re.sub(r"\s+", "", label), nxt)
    chem = ENTERPRISES["chem"]
    assert cells["企业名称"] == chem["name"]
    assert cells["联系地址"] == chem["address"]
    assert cells["法定代表人"] == chem["legal_rep"]
    assert cells["联系电话"] == chem["contact_phone"]
    assert cells["所属行业"] == "危险化学品"
    assert cells["主管部门"] == chem["supervising_dept"]
    assert cells["隐患名称"] == "液氯储罐区未设置泄漏报警装置"
    assert cells["隐患等级"] == "重大事故隐患"
    assert cells["隐患类型"] == "设备设施"
    assert "121号" in cells["隐患性质"]
    assert "市应急局检查组" in cells["隐患现状及产生原因"]
    assert cells["治理方法治理措施"] == "加装有毒气体报警仪并与紧急切断阀联锁"
    assert cells["经费物资保障"] == "12.50 万元"
    assert "王工" in cells["负责治理的机构和人员"]
    assert "前完成整改" in cells["治理时限和要求"]
    assert cells["安全措施应急预案"] == "液氯泄漏专项应急预案"
    # Sign-off rows: no name, only the printed prompts.
    for label in ("验收组成员签字", "乡镇（街道）意见", "县市区行业主管部门意见", "县市区政府意见", "省辖市主管部门意见"):
        filled = re.sub(r"[\s　]|年|月|日|（盖章）|主要负责人签字：|分管区处级领导签字：", "", cells[label])
        assert filled == "", (label, cells[label])
    full = "\n".join(p.text for p in doc.paragraphs)
    assert "重大事故隐患整改台账" in full and "填报日期" in full
