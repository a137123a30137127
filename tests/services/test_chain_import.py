"""The 排查任务清单 import: one row per task with its chain, per-row errors with
the Chinese headers, all-or-nothing by default, idempotent, scoped."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import credit_code
from openpyxl import Workbook, load_workbook
from sqlalchemy import text

from geo_service.domain import Actor
from geo_service.errors import Forbidden
from geo_service.queries.scope import ALL, Scope
from geo_service.services import chain_import
from geo_service.services.importers import ImportFailed

SYSTEM = Actor("数据导入")
OURS, THEIRS = credit_code(31, "539901"), credit_code(32, "539902")
HEADERS = [c.header for c in chain_import.CHAIN_COLUMNS]


def _row(**kw: object) -> list[object]:
    base = {"统一社会信用代码": OURS, "风险分析对象": "1号液氯罐区", "对象类型": "重大危险源",
            "风险分析单元": "液氯储罐", "单元风险等级": "红", "风险事件": "储罐泄漏", "事故类型": "中毒和窒息",
            "事件后果": "人员中毒", "事件风险等级": "红", "管控措施": "液位、压力报警与紧急切断联锁",
            "措施类型": "工程技术", "管控层级": "车间", "排查内容": "检查液位计读数", "排查周期": 1,
            "周期单位": "天", "责任岗位": "罐区操作工", "开始日期": "2026-11-01"}
    base.update(kw)
    return [base[h] for h in HEADERS]


def _xlsx(path: Path, rows: list[list[object]]) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@pytest.fixture
def plants(session):  # type: ignore[no-untyped-def]
    session.execute(text(
        "INSERT INTO region (code, name, level, geom) VALUES"
        " ('539901', '甲县', 'county', ST_Multi(ST_MakeEnvelope(100, 20, 101, 21, 4326))),"
        " ('539902', '乙县', 'county', ST_Multi(ST_MakeEnvelope(101, 20, 102, 21, 4326)))"))
    for code, name, lng in ((OURS, "甲化工", 100.5), (THEIRS, "乙化工", 101.5)):
        session.execute(text(
            "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
            " (:c, :n, 'hazchem', ST_SetSRID(ST_MakePoint(:x, 20.5), 4326))"), {"c": code, "n": name, "x": lng})


def _counts(session) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    return tuple(session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                 for t in ("risk_object", "risk_point", "risk_event", "control_measure", "inspection_task"))


def test_a_chain_of_three_tasks_imports_once(session, plants, tmp_path):  # type: ignore[no-untyped-def]
    # three tasks: two under the same measure, one under a second measure of the same event
    path = _xlsx(tmp_path / "tasks.xlsx", [
        _row(),
        _row(排查内容="检查压力表读数"),
        _row(管控措施="泄漏应急处置卡上墙、防毒面具完好", 措施类型="应急措施", 管控层级="班组",
             排查内容="检查防毒面具", 排查周期=1, 周期单位="月"),
    ])
    result = chain_import.import_chain(session, path, SYSTEM, scope=ALL)
    assert result.errors == [] and result.written
    assert result.created == {"object": 1, "unit": 1, "event": 1, "measure": 2, "task": 3}
    assert _counts(session) == (1, 1, 1, 2, 3)
    unit = session.execute(text("SELECT r.grade, o.kind FROM risk_point r JOIN risk_object o ON o.id = r.object_id"
                                " WHERE r.name = '液氯储罐'")).one()
    assert tuple(unit) == (1, "major_source")
    again = chain_import.import_chain(session, path, SYSTEM, scope=ALL)
    assert again.created == {"object": 0, "unit": 0, "event": 0, "measure": 0, "task": 0}
    assert _counts(session) == (1, 1, 1, 2, 3)


def test_bad_rows_are_reported_and_nothing_is_written(session, plants, tmp_path):  # type: ignore[no-untyped-def]
    path = _xlsx(tmp_path / "bad.xlsx", [
        _row(),
        _row(周期单位="年", 排查周期="1.5"),                    # row 3: two problems
        _row(统一社会信用代码=THEIRS),                         # row 4: outside 甲县 for its regulator
        _row(风险分析对象="2号罐区", 对象类型="", 排查内容="x"),  # row 5: object without its kind
    ])
    result = chain_import.import_chain(session, path, SYSTEM, scope=Scope(region="539901"))
    assert {(e.row, e.column, e.reason) for e in result.errors} == {
        (3, "周期单位", "应为：小时、天、周、月"), (3, "排查周期", "应为 1–1000 的整数"),
        (4, "统一社会信用代码", "不在本账号管辖范围内"), (5, "对象类型", "填写风险分析对象时必填")}
    assert not result.written and _counts(session) == (0, 0, 0, 0, 0)
    # skipping the bad rows writes the good one
    result = chain_import.import_chain(session, path, SYSTEM, scope=Scope(region="539901"), skip_bad=True)
    assert result.written and result.rejected == 3 and _counts(session) == (1, 1, 1, 1, 1)


def test_a_new_unit_needs_its_grade(session, plants, tmp_path):  # type: ignore[no-untyped-def]
    path = _xlsx(tmp_path / "nograde.xlsx", [_row(单元风险等级="")])
    result = chain_import.import_chain(session, path, SYSTEM, scope=ALL)
    assert [(e.row, e.column) for e in result.errors] == [(2, "单元风险等级")]
    assert _counts(session) == (0, 0, 0, 0, 0)


def test_the_file_itself_can_be_refused(session, plants, tmp_path):  # type: ignore[no-untyped-def]
    wb = Workbook()
    wb.active.append(["统一社会信用代码", "风险单元"])
    wb.save(tmp_path / "wrong.xlsx")
    with pytest.raises(ImportFailed, match="未知的列：风险单元"):
        chain_import.import_chain(session, tmp_path / "wrong.xlsx", SYSTEM, scope=ALL)
    with pytest.raises(Forbidden):
        chain_import.import_chain(session, tmp_path / "wrong.xlsx", Actor("企业", None, "enterprise"), scope=ALL)


def test_template_has_the_headers(tmp_path):  # type: ignore[no-untyped-def]
    wb = load_workbook(chain_import.write_chain_template(tmp_path / "t.xlsx"))
    assert [c.value for c in wb["数据"][1]] == HEADERS
    assert wb["数据"]["A1"].font.color.rgb.endswith("C00000")  # required: red
