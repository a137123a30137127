"""XLSX workbooks of the monthly return, laid out like the paper forms.

One sheet per table, with the forms' rows, Chinese headings and merged
cells; the region, the period, 填报单位 and 填报时间 filled in; numbers
written as numbers (rates as numbers with one decimal).  Cells the register
cannot answer are left empty, never invented.

* ``防范遏制统计表`` — form 000 (items 12–14 filled, the others left for the unit);
* ``进展情况调度表`` — 003 附件1 (the 调度表; the 总体情况 block filled);
* ``工作情况统计表`` — 003 附件2 (per industry; the register's eight columns filled);
* ``分地区汇总`` — the main figures for the region and each child region;
* ``环比变化`` — what changed during the month, per child region.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from . import spreadsheet
from .statistics import CHANGE_ITEMS, DISPATCH_ITEMS, TABLE_COLUMNS

__all__ = ["build_workbook", "SHEETS", "FORM000_CONTENT", "cn_date", "cn_datetime", "dispatch_heading",
           "dispatch_blank_note"]

SHEETS = ("防范遏制统计表", "进展情况调度表", "工作情况统计表", "分地区汇总", "环比变化")

_THIN = Side(style="thin", color="000000")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="center")
_CENTRE = Alignment(wrap_text=True, vertical="center", horizontal="center")
_TITLE = Font(name="宋体", size=16, bold=True)
_BOLD = Font(name="宋体", size=11, bold=True)
_RATE_FORMAT = "0.0"

# Form 000: (section, 主要内容) in the form's order; item 9 carries the return's items 12–14.
FORM000_CONTENT: tuple[tuple[str, str], ...] = (
    ("一、部署推进", "1.党委、政府召开会议进行专题研究。"),
    ("一、部署推进", "2.成立政府负责人牵头的组织领导机构。"),
    ("一、部署推进", "3.制定印发工作方案或相关文件。"),
    ("一、部署推进", "4.召开专题会议部署推进。"),
    ("一、部署推进", "5.建立研究部署、督促检查、考核评估等常态化、制度化的领导、组织、落实工作机制。"),
    ("一、部署推进", "6.制定本地遏制重特大事故试点工作方案并进行试点。"),
    ("一、部署推进", "7.在广播、电视、报刊和政府网站开设安全生产专题栏目，充分利用政务微信、微博、新闻客户端和手机报进行了遏制重特大事故工作宣传。"),
    ("二、构建双重预防机制", "8.制定区域和行业安全风险分级管控标准和重大隐患分级标准。"),
    ("二、构建双重预防机制", "9.开展本地区年度重点行业领域企业生产经营单位的安全风险、事故隐患评估分级工作，组织绘制省、市、县以及企业“红、橙、黄、蓝”安全风险等级和重大事故隐患分布电子图。"),
    ("三、安全技术保障", "10.推广使用先进适用安全技术装备和淘汰不符合安全标准、安全性能低下、职业病危害严重、危及安全生产的工艺、技术和装备，推动一批高危行业企业实现“机械化换人、自动化减人”。"),
    ("四、打击整治违法违规行为", "11.分行业领域制定安全监管执法工作细则。"),
    ("四、打击整治违法违规行为", "12.依法依规严格落实执法措施。"),
    ("四、打击整治违法违规行为", "13.组织开展五个“一批”工作。"),
    ("四、打击整治违法违规行为", "14.加强安全执法和刑事司法的衔接，建立公安、检察、审判机关介入安全执法工作机制。"),
    ("五、加强源头治理", "15.制定规划、规模、工艺设备、人员素质准入政策措施。"),
    ("五、加强源头治理", "16.按要求依法关停退出达不到安全标准要求和违法违规的企业，引导安全保障能力低的企业主动退出。"),
    ("六、加强重点工程建设", "17.确定并组织实施本地区保护生命重点工程建设。"),
    ("七、提升事故应急处置能力", "18.健全快速应急响应机制。"),
)

# 003 附件1, the blocks after 总体情况 (left blank: the register does not know them).
_DISPATCH_OTHER_BLOCKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("对企业自查自改进行抽查检查情况", (
        "部门抽查检查的企业总数（家）", "企业主要负责人未按要求亲自研究排查整治工作（家）",
        "企业主要负责人未带队检查（家）", "企业未制定分管负责人职责清单（家）",
        "企业未依法建立安全管理机构和配足安全管理人员（家）", "电焊等特种作业岗位人员无证上岗作业（家）",
        "外包外租安全管理混乱（家）", "未按规定开展应急演练、员工不熟悉逃生出口（家）")),
    ("部门精准严格执法情况", (
        "帮扶指导重点市、县（个次）", "帮扶指导重点企业（家次）", "行政处罚（次，万元）",
        "企业和企业主要负责人“一案双罚”（次）", "移送司法机关（人）", "责令停产整顿（家）",
        "曝光、约谈、联合惩戒企业（家）", "公布典型执法案例（个），其中危险作业罪案例（个）",
        "责任倒查追责问责（人）", "约谈通报有关地区及部门（次）")),
    ("党委政府组织领导情况", (
        "党委政府分别组织专题学习安全生产十五条硬措施（次）", "党委政府主要负责同志分别专题研究（次）",
        "政府负责同志分别现场督导检查（次）", "安委会成员单位负责同志分别到企业宣讲（次）",
        "举报奖励（万元），其中匿名举报查实奖励（万元）", "是否在省级主流媒体播放安全生产专题栏目",
        "配备专兼职技术检查员数量（人）", "组织开展考核巡查督导检查（次）")),
)


_BEIJING = dt.timezone(dt.timedelta(hours=8))


def cn_date(iso: str | dt.date) -> str:
    """A date as the forms write it.

    >>> cn_date("2026-11-30"), cn_date(dt.date(2026, 5, 1))
    ('2026年11月30日', '2026年5月1日')
    """
    d = dt.date.fromisoformat(iso) if isinstance(iso, str) else iso
    return f"{d.year}年{d.month}月{d.day}日"


def cn_datetime(iso: str) -> str:
    """A timestamp (ISO, any offset) as a Beijing date and time.

    >>> cn_datetime("2026-11-30T06:05:09.123+00:00")
    '2026年11月30日14时05分'
    """
    t = dt.datetime.fromisoformat(iso)
    if t.tzinfo is not None:
        t = t.astimezone(_BEIJING)
    return f"{cn_date(t.date())}{t.hour}时{t.minute:02d}分"


def _year_note(n: dict[str, Any]) -> str:
    return f"{cn_date(n['period_start'])}至{cn_date(n['period_end'])}"


def dispatch_heading(n: dict[str, Any]) -> str:
    """The period the 调度表 covers, for its heading (reading B)."""
    if n["dispatch_start"] is None:
        return f"{n['period_label']}，专项行动自{cn_date(n['campaign_start'])}开始"
    return f"{cn_date(n['dispatch_start'])}至{cn_date(n['period_end'])}累计"


def dispatch_blank_note(n: dict[str, Any]) -> str | None:
    """Why the 调度表 is blank for a month before the campaign's start (None otherwise)."""
    if n["dispatch_start"] is not None:
        return None
    return (f"{n['period_label']}早于专项行动开始日期（{cn_date(n['campaign_start'])}）。调度表“自5月份开始报送”，"
            "报送“5月以来累计情况”，本月不填报，本表留空。")


def _cell(ws: Worksheet, row: int, col: int, value: Any = None, *, align: Alignment = _WRAP,
          font: Font | None = None, fmt: str | None = None) -> None:
    c = ws.cell(row=row, column=col, value=value)
    c.alignment = align
    c.border = _BORDER
    if font is not None:
        c.font = font
    if fmt is not None:
        c.number_format = fmt


def _merge(ws: Worksheet, r1: int, c1: int, r2: int, c2: int, value: Any = None, *,
           align: Alignment = _CENTRE, font: Font | None = None) -> None:
    for r in range(r1, r2 + 1):
        for c in range(c1, c2 + 1):
            ws.cell(row=r, column=c).border = _BORDER
    _cell(ws, r1, c1, value, align=align, font=font)
    if (r1, c1) != (r2, c2):
        ws.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)


def _heading(ws: Worksheet, title: str, unit: str, filled: str, ncols: int, date_label: str) -> None:
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
    ws.cell(row=1, column=1, value=title).font = _TITLE
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 32
    half = max(1, ncols // 2)
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=half)
    ws.cell(row=2, column=1, value=f"填报单位：{unit}")
    ws.merge_cells(start_row=2, start_column=half + 1, end_row=2, end_column=ncols)
    ws.cell(row=2, column=half + 1, value=f"{date_label}：{filled}").alignment = Alignment(horizontal="right")


def _form000(ws: Worksheet, n: dict[str, Any], r: dict[str, Any]) -> None:
    _heading(ws, f"防范遏制重特大事故工作统计表（{n['period_label']}）", n["unit"], cn_date(n["filled_on"]),
             8, "填报时间")
    for col, width in zip("ABCDEFGH", (16, 40, 34, 8, 22, 10, 22, 10), strict=True):
        ws.column_dimensions[col].width = width
    _merge(ws, 3, 1, 3, 1, "项目", font=_BOLD)
    _merge(ws, 3, 2, 3, 2, "主要内容", font=_BOLD)
    _merge(ws, 3, 3, 3, 8, "进展情况", font=_BOLD)
    row = 4
    section_rows: dict[str, list[int]] = {}
    yes_no = {True: "是", False: "否"}
    f = r["form000"]
    for section, content in FORM000_CONTENT:
        start = row
        if content.startswith("9."):
            i12, i13, i14 = f["item12"], f["item13"], f["item14"]

            def line(*values: Any) -> None:
                nonlocal row
                for col, value in enumerate(values, start=3):
                    _cell(ws, row, col, value, align=_CENTRE if col in (4, 6, 8) else _WRAP)
                row += 1

            line("12.组织开展了安全风险辨识评估分级工作", yes_no[i12["done"]], "开展此项工作的企业（家）",
                 i12["enterprises"], "辨识分级重大风险（处）", i12["major_risks"])
            line("其中：行业领域", "企业（家）", None, None, None, None)
            for g in i12["groups"]:
                line(g["name"], g["enterprises"], "辨识分级重大风险（处）", g["major_risks"], None, None)
            line("13.组织开展了事故隐患排查治理工作", yes_no[i13["done"]], "开展此项工作的企业（家）",
                 i13["enterprises"], "排查出重大隐患（处）", i13["major_found"])
            line(None, None, None, None, "已整改（处）", i13["major_rectified"])
            line("其中：行业领域", "企业（家）", None, None, None, None)
            for g in i13["groups"]:
                line(g["name"], g["enterprises"], "排查出重大隐患（处）", g["major_found"], "已整改（处）",
                     g["major_rectified"])
            line("14.分级绘制了“红、橙、黄、蓝”安全风险分级和重大事故隐患空间分布电子图",
                 yes_no[i14["done"]], "市级单位已绘制（个）", i14["prefecture_units"], "县级单位已绘制（个）",
                 i14["county_units"])
            line(None, None, "企业已绘制（个）", i14["enterprises"], None, None)
            _merge(ws, start, 2, row - 1, 2, content, align=_WRAP)
        else:
            _cell(ws, row, 2, content)
            _merge(ws, row, 3, row, 8, None)
            ws.row_dimensions[row].height = 30
            row += 1
        section_rows.setdefault(section, []).extend(range(start, row))
    for section, rows in section_rows.items():
        _merge(ws, min(rows), 1, max(rows), 1, section, font=_BOLD)
    row += 1
    ws.cell(row=row, column=1, value="签发人：　　　　　　　　填表人：　　　　　　　　联系电话：")
    ws.cell(row=row + 1, column=1, value="注：1.填报数据均为每年度开展防范遏制重特大事故工作的累计数据。")
    ws.cell(row=row + 2, column=1,
            value=f"　　2.第12–14项由“风险一张图”按登记库自动统计（{_year_note(n)}累计，数据截至"
                  f"{cn_datetime(n['data_as_of'])}）：第12项为今年评估分级的风险点，未填评估日期的不计；"
                  "第13项“已整改”为已验收销号；第14项市级、县级单位为登记库存有边界、可随时出图的区划，"
                  "企业已绘制数为月末已在登记库绘制风险区域（企业安全风险四色分布图）的企业。")


def _dispatch(ws: Worksheet, n: dict[str, Any], r: dict[str, Any]) -> None:
    _heading(ws, f"重大事故隐患专项排查整治行动进展情况调度表（{dispatch_heading(n)}）", n["unit"],
             cn_date(n["filled_on"]), 7, "时间")
    for col, width in zip("ABCDEFG", (14, 6, 40, 10, 6, 40, 10), strict=True):
        ws.column_dimensions[col].width = width
    row = 3
    items = [(num, label, r["dispatch"][key]) for num, key, label in DISPATCH_ITEMS]
    blocks: list[tuple[str, list[tuple[int, str, int | None]]]] = [("总体情况", items)]
    for name, labels in _DISPATCH_OTHER_BLOCKS:
        blocks.append((name, [(i + 1, label, None) for i, label in enumerate(labels)]))
    for name, entries in blocks:
        start = row
        for i in range(0, len(entries), 2):
            for offset, entry in enumerate(entries[i:i + 2]):
                num, label, value = entry
                _cell(ws, row, 2 + offset * 3, num, align=_CENTRE)
                _cell(ws, row, 3 + offset * 3, label)
                _cell(ws, row, 4 + offset * 3, value, align=_CENTRE)
            if len(entries[i:i + 2]) == 1:
                for col in (5, 6, 7):
                    _cell(ws, row, col)
            ws.row_dimensions[row].height = 32
            row += 1
        _merge(ws, start, 1, row - 1, 1, name, font=_BOLD)
    ws.cell(row=row + 1, column=1, value="审核人：　　　　　　　　填报联系人：　　　　　　　　联系电话：")
    blank = dispatch_blank_note(n)
    ws.cell(row=row + 2, column=1, value="注：" + (blank or (
        f"“总体情况”由“风险一张图”按登记库统计（{dispatch_heading(n)}，即专项行动开始以来；重大事故隐患按来源："
        "企业自查、部门检查、挂牌督办，举报来源不列入；“已完成整改”为其中已验收销号的），其余各项由填报单位填写。")))


def _industry_table(ws: Worksheet, n: dict[str, Any], r: dict[str, Any]) -> None:
    ncols = 1 + len(TABLE_COLUMNS)
    _heading(ws, f"重大事故隐患专项排查整治行动工作情况统计表（{n['period_label']}）", n["unit"],
             cn_date(n["filled_on"]), ncols, "填报日期")
    ws.column_dimensions["A"].width = 20
    for i in range(len(TABLE_COLUMNS)):
        ws.column_dimensions[get_column_letter(2 + i)].width = 9
    _merge(ws, 3, 1, 5, 1, "行业领域", font=_BOLD)
    # group headings (row 3) over their sub-headings (row 4); single columns span rows 3–4
    col = 2
    groups: list[tuple[str, int]] = []
    for c in TABLE_COLUMNS:
        if groups and groups[-1][0] == c.group:
            groups[-1] = (c.group, groups[-1][1] + 1)
        else:
            groups.append((c.group, 1))
    for name, width in groups:
        if width == 1:
            _merge(ws, 3, col, 4, col, name, font=_BOLD)
        else:
            _merge(ws, 3, col, 3, col + width - 1, name, font=_BOLD)
            for j in range(width):
                _cell(ws, 4, col + j, TABLE_COLUMNS[col - 2 + j].title, align=_CENTRE)
        col += width
    for i, c in enumerate(TABLE_COLUMNS):
        _cell(ws, 5, 2 + i, f"（{c.unit}）", align=_CENTRE)
    ws.row_dimensions[4].height = 60
    row = 6
    for entry in r["industry_table"]:
        _cell(ws, row, 1, entry["label"], font=_BOLD if entry["key"] in ("cumulative", "month") else None)
        for i, c in enumerate(TABLE_COLUMNS):
            value = entry["values"][c.key]
            _cell(ws, row, 2 + i, value, align=_CENTRE, fmt=_RATE_FORMAT if c.unit == "%" else None)
        row += 1
    ws.cell(row=row + 1, column=1, value="审核人：　　　　　　　　填报联系人：　　　　　　　　联系电话：")
    ws.cell(row=row + 2, column=1,
            value=f"注：前8列由“风险一张图”按登记库统计（累计：{_year_note(n)}，今年以来；本月为累计中"
                  f"{cn_date(n['month_start'])}起的部分）。“其中：挂牌督办治理”为落实治理措施中的挂牌督办隐患；"
                  "“已完成治理”为已验收销号，本月数为本月验收销号的今年隐患。率保留一位小数（四舍五入），"
                  "分母为0时空白；其余各列及无对应行业的行由填报单位填写。")
    ws.freeze_panes = "B6"


def _by_region(ws: Worksheet, n: dict[str, Any]) -> None:
    headings = ["区划代码", "区划名称", "开展风险辨识企业（家）", "重大风险（处）", "已落实管控措施（处）",
                "管控率（%）", "开展隐患排查企业（家）", "发现重大隐患（处）", "已完成整改（处）", "治理率（%）",
                "企业自查重大隐患（个）", "其中已整改（个）", "部门检查重大隐患（个）", "其中已整改（个）",
                "挂牌督办重大隐患（个）", "其中已整改（个）", "已绘制电子图：市级（个）", "县级（个）",
                "企业（个）"]
    ncols = len(headings)
    _heading(ws, f"{n['region']['name']}分地区汇总（{n['period_label']}）", n["unit"],
             cn_date(n["filled_on"]), ncols, "填报时间")
    for i, h in enumerate(headings):
        _cell(ws, 3, 1 + i, h, align=_CENTRE, font=_BOLD)
        ws.column_dimensions[get_column_letter(1 + i)].width = 12 if i > 1 else 14
    ws.row_dimensions[3].height = 45
    for j, r in enumerate(n["regions"]):
        f = r["form000"]
        total = r["industry_table"][0]["values"]
        d = r["dispatch"]
        values: Sequence[Any] = (
            r["code"], r["name"] + ("（合计）" if j == 0 else ""), f["item12"]["enterprises"],
            total["major_risks"], total["risks_controlled"], total["control_rate"], f["item13"]["enterprises"],
            total["major_found"], total["rectified"], total["rectify_rate"], d["self_found"], d["self_rectified"],
            d["inspection_found"], d["inspection_rectified"], d["supervised_found"], d["supervised_rectified"],
            f["item14"]["prefecture_units"], f["item14"]["county_units"], f["item14"]["enterprises"],
        )
        for i, v in enumerate(values):
            _cell(ws, 4 + j, 1 + i, v, align=_CENTRE,
                  fmt=_RATE_FORMAT if headings[i].endswith("（%）") else None)
    ws.freeze_panes = "C4"


def _changes(ws: Worksheet, n: dict[str, Any]) -> None:
    headings = ["区划代码", "区划名称"] + [label for _, label in CHANGE_ITEMS]
    _heading(ws, f"{n['region']['name']}环比变化（{n['period_label']}，与上月末相比）", n["unit"],
             cn_date(n["filled_on"]), len(headings), "填报时间")
    for i, h in enumerate(headings):
        _cell(ws, 3, 1 + i, h, align=_CENTRE, font=_BOLD)
        ws.column_dimensions[get_column_letter(1 + i)].width = 16
    for j, r in enumerate(n["regions"]):
        _cell(ws, 4 + j, 1, r["code"], align=_CENTRE)
        _cell(ws, 4 + j, 2, r["name"] + ("（合计）" if j == 0 else ""), align=_CENTRE)
        for i, (key, _) in enumerate(CHANGE_ITEMS):
            _cell(ws, 4 + j, 3 + i, r["changes"][key], align=_CENTRE)


def build_workbook(numbers: dict[str, Any], *, region_code: str | None = None) -> bytes:
    """The return as an XLSX file (bytes).

    ``numbers`` is :func:`~geo_service.services.statistics.compute_return`'s
    result; the form sheets show ``region_code`` (default: the return's own
    region).  The 分地区汇总 and 环比变化 sheets list the region and its
    children when the workbook is for the return's own region.
    """
    code = region_code or numbers["region"]["code"]
    try:
        r = next(x for x in numbers["regions"] if x["code"] == code)
    except StopIteration as err:
        raise KeyError(f"region {code} not in this return") from err
    wb = Workbook()
    ws = wb.active
    ws.title = SHEETS[0]
    _form000(ws, numbers, r)
    _dispatch(wb.create_sheet(SHEETS[1]), numbers, r)
    _industry_table(wb.create_sheet(SHEETS[2]), numbers, r)
    if code == numbers["region"]["code"]:
        _by_region(wb.create_sheet(SHEETS[3]), numbers)
        _changes(wb.create_sheet(SHEETS[4]), numbers)
    for sheet in wb.worksheets:
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.page_setup.orientation = "landscape" if sheet.max_column > 8 else "portrait"
        sheet.page_setup.fitToWidth = 1
    wb.properties.title = f"{r['name']}统计月报（{numbers['period_label']}）"
    wb.properties.creator = "风险一张图"
    return spreadsheet.workbook_bytes(wb)
