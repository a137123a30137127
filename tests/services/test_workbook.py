"""The XLSX workbook read back with openpyxl: headings, merged cells, numbers as numbers.

Figures are those of the register in ``test_statistics`` (return 2026-10 for 红河州).
"""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook

from geo_service.queries import metrics
from geo_service.queries.scope import ALL
from geo_service.services.statistics import TABLE_COLUMNS, TABLE_ROWS, compute_return
from geo_service.services.workbook import FORM000_CONTENT, SHEETS, build_workbook
from services.test_statistics import build_register

OCT = metrics.period(2026, 10)


def workbook(session, **kw):
    build_register(session)
    numbers = compute_return(session, "532500", OCT, scope=ALL, unit="红河州应急管理局",
                             filled_on=dt.date(2026, 11, 5))
    return numbers, load_workbook(io.BytesIO(build_workbook(numbers, **kw)))


def find(ws, text):
    """(row, column) of the first cell whose value is ``text``."""
    for row in ws.iter_rows():
        for c in row:
            if c.value == text:
                return c.row, c.column
    raise AssertionError(f"{text!r} not in sheet {ws.title}")


def merged(ws, row, col):
    return next((str(r) for r in ws.merged_cells.ranges if (row, col) in [(x, y) for x, y in r.cells]), None)


def test_one_sheet_per_table_with_title_unit_and_date(session):
    _, wb = workbook(session)
    assert wb.sheetnames == list(SHEETS)
    ws = wb["防范遏制统计表"]
    assert ws["A1"].value == "防范遏制重特大事故工作统计表（2026年10月）"
    assert "A1:H1" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["A2"].value == "填报单位：红河州应急管理局"
    assert ws["E2"].value == "填报时间：2026年11月5日"
    assert (ws["A3"].value, ws["B3"].value, ws["C3"].value) == ("项目", "主要内容", "进展情况")


def test_form000_items_12_to_14_are_numbers(session):
    _, wb = workbook(session)
    ws = wb["防范遏制统计表"]
    r, c = find(ws, "12.组织开展了安全风险辨识评估分级工作")
    # 是 / 3 enterprises / 2 红 risk points assessed this year (see test_statistics)
    assert ws.cell(r, c + 1).value == "是"
    assert ws.cell(r, c + 3).value == 3 and isinstance(ws.cell(r, c + 3).value, int)
    assert ws.cell(r, c + 5).value == 2
    r13, _ = find(ws, "13.组织开展了事故隐患排查治理工作")
    assert (ws.cell(r13, c + 3).value, ws.cell(r13, c + 5).value) == (4, 4)
    assert ws.cell(r13 + 1, c + 5).value == 1  # 已整改
    coal = [row for row in ws.iter_rows(min_row=r13) if row[2].value == "煤矿"][0]
    assert (coal[3].value, coal[5].value, coal[7].value) == (1, 2, 1)
    # the 主要内容 of item 9 spans all its sub-rows; the section cell spans items 8 and 9
    r9, c9 = find(ws, next(text for _, text in FORM000_CONTENT if text.startswith("9.")))
    assert merged(ws, r9, c9) is not None and merged(ws, r, c9) == merged(ws, r9, c9)
    assert merged(ws, *find(ws, "二、构建双重预防机制")).startswith("A")


def test_dispatch_block(session):
    _, wb = workbook(session)
    ws = wb["进展情况调度表"]
    r, c = find(ws, "企业自查发现的重大事故隐患（个）")
    assert ws.cell(r, c + 1).value == 2
    assert ws.cell(*find(ws, "部门检查发现的重大事故隐患（个）")).offset(0, 1).value == 1
    assert ws.cell(*find(ws, "挂牌督办重大事故隐患中已完成整改的（个）")).offset(0, 1).value == 0
    # the 总体情况 label spans its three rows
    assert merged(ws, *find(ws, "总体情况")) == f"A{r}:A{r + 2}"
    # other blocks present but blank
    assert ws.cell(*find(ws, "部门抽查检查的企业总数（家）")).offset(0, 1).value is None


def test_industry_table_layout_and_values(session):
    _, wb = workbook(session)
    ws = wb["工作情况统计表"]
    ranges = {str(r) for r in ws.merged_cells.ranges}
    # 行业领域 spans the three heading rows; 排查重大风险 spans its three columns; 约谈警示 two rows
    assert {"A3:A5", "B3:D3", "E3:I3", "W3:W4"} <= ranges
    assert [ws.cell(4, 2 + i).value for i in range(8)] == [c.title for c in TABLE_COLUMNS[:8]]
    assert [ws.cell(6 + i, 1).value for i in range(len(TABLE_ROWS))] == [label for _, label in TABLE_ROWS]
    total = {c.key: ws.cell(6, 2 + i) for i, c in enumerate(TABLE_COLUMNS)}
    assert (total["major_risks"].value, total["risks_controlled"].value) == (2, 1)
    assert total["control_rate"].value == 50.0 and total["control_rate"].number_format == "0.0"
    assert isinstance(total["major_found"].value, int) and total["major_found"].value == 4
    assert total["penalties"].value is None  # not in the register: blank
    month = {c.key: ws.cell(7, 2 + i).value for i, c in enumerate(TABLE_COLUMNS)}
    assert (month["major_found"], month["rectified"], month["rectify_rate"]) == (1, 1, 100)
    road = 6 + [k for k, _ in TABLE_ROWS].index("road_facilities")
    assert all(ws.cell(road, col).value is None for col in range(2, 26))


def test_region_and_change_sheets_list_every_child(session):
    numbers, wb = workbook(session)
    ws = wb["分地区汇总"]
    assert [ws.cell(r, 1).value for r in (4, 5, 6)] == ["532500", "532501", "532502"]
    assert ws.cell(5, 3).value == 2 and ws.cell(6, 3).value == 1  # item 12 enterprises west/east
    ch = wb["环比变化"]
    assert [ch.cell(4, c).value for c in range(3, 8)] == [1, 2, 1, 1, 1]


def test_child_workbook_has_the_form_sheets_only(session):
    _, wb = workbook(session, region_code="532501")
    assert wb.sheetnames == list(SHEETS[:3])
    ws = wb["工作情况统计表"]
    assert ws.cell(6, 2).value == 2  # 个旧市: 液氯储罐区 and 装卸区
