"""The campaign ledgers, laid out like the forms in ``shared/forms/001_*``.

* 附件4 重大事故隐患专项排查清单 — XLSX for a filtered set of 重大隐患
  (:func:`checklist_xlsx`);
* 附件5 问题隐患排查整治工作台账 — XLSX for a filtered set of hazards
  (:func:`worklog_xlsx`);
* 附件6 重大事故隐患整改台账 — one 重大隐患 as a one-page A4 PDF
  (:func:`major_record_pdf`, WeasyPrint with the system's Noto CJK fonts
  embedded) and as DOCX (:func:`major_record_docx`), every field filled from
  the register (:func:`major_record`) and the sign-off rows left blank.

Rows are the mappings produced by :func:`geo_service.queries.ledger.hazard_rows`.
Nothing here imports flask.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, NamedStyle, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from .. import domain
from ..errors import NotFound
from ..queries import ledger as ledger_queries
from ..queries.scope import Scope
from . import spreadsheet

__all__ = [
    "CHECKLIST_TITLE",
    "CHECKLIST_COLUMNS",
    "WORKLOG_TITLE",
    "WORKLOG_COLUMNS",
    "MAJOR_TITLE",
    "MajorHazardRecord",
    "MAJOR_FIELDS",
    "SIGN_OFF_ROWS",
    "checklist_row",
    "worklog_row",
    "checklist_xlsx",
    "worklog_xlsx",
    "major_record",
    "major_record_html",
    "major_record_pdf",
    "major_record_docx",
    "cn_date",
]

CHECKLIST_TITLE = "重大事故隐患专项排查清单"
CHECKLIST_COLUMNS: tuple[str, ...] = (
    "序号",
    "企业名称",
    "企业主要负责人姓名",
    "隐患主要内容",
    "交办时间",
    "目前采取的管控措施\n（限期整改、查封、停产等）",
    "挂牌督办文件",
    "备注",
)
CHECKLIST_NOTE = (
    "备注：各社区或镇政府有关部门主要负责人对本辖区本行业领域重大事故隐患专项排查整治工作负领导责任，"
    "凡短期内被上级发现重大事故隐患的将全区通报，并提请区委区政府严肃追究领导责任。"
    "此表格需与附件2、附件3 一同上报。"
)
CHECKLIST_SIGN = ("社区或镇政府有关部门主要行政负责人签字：", "填表人：")

WORKLOG_TITLE = "问题隐患排查整治工作台账"
WORKLOG_COLUMNS: tuple[str, ...] = (
    "检查企业（单位）名称",
    "检查人员",
    "检查时间",
    "问题隐患",
    "整改措施",
    "整改责任人",
    "整改时限",
    "复查情况",
    "备注",
)
WORKLOG_SIGN = ("审核人：", "填报人：")

MAJOR_TITLE = "重大事故隐患整改台账"
MAJOR_NOTE = "注：市直部门直管企业的重大隐患，县市区行业主管部门意见、县市区政府意见栏不需要签字。此表隐患销号后3日内报区安委会办公室。"

# 国家安监总局令第16号: what makes a hazard 重大 — the form's 危害程度/整改难易程度 analysis.
_MAJOR_DEFINITION = "危害和整改难度较大，应当全部或者局部停产停业，并经过一定时间整改治理方能排除"

_DATE_FORMAT = "yyyy-mm-dd"


def cn_date(day: dt.date | None) -> str:
    """A date as the forms write it.

    >>> cn_date(dt.date(2026, 3, 5)), cn_date(None)
    ('2026年3月5日', '')
    """
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def _state_note(row: Mapping[str, Any], as_of: dt.date) -> str:
    """State in words, with the overdue days or the sign-off date."""
    state = row["state"]
    text = domain.HAZARD_STATES[state]
    if state == domain.CLOSED_STATE and row.get("verified_on"):
        text += f"（{cn_date(row['verified_on'])}）"
    days = domain.overdue_days(state, row.get("deadline"), as_of)
    if days:
        text += f"，已逾期{days}天"
    return text


def checklist_row(row: Mapping[str, Any], number: int, as_of: dt.date) -> list[Any]:
    """One line of 附件4 from a hazard row: dates stay dates, 序号 an integer."""
    controls = [row["measures"]] if row.get("measures") else []
    if row.get("deadline"):
        controls.append(f"限期整改（{cn_date(row['deadline'])}前）")
    remarks = [domain.HAZARD_SOURCES[row["source"]], _state_note(row, as_of)]
    return [
        number,
        row["enterprise_name"],
        row.get("enterprise_legal_rep") or "",
        row["description"],
        row["found_on"],
        "；".join(controls),
        row.get("supervision_doc_no") or "",
        "；".join(remarks),
    ]


def _review(row: Mapping[str, Any]) -> str:
    """复查情况 from the verification columns."""
    parts: list[str] = []
    if row["state"] == domain.CLOSED_STATE:
        parts.append(f"{cn_date(row.get('verified_on'))}经{row.get('verifier') or ''}复查验收合格，已销号")
    elif row["state"] == "rectified":
        parts.append(f"{cn_date(row.get('rectified_on'))}报告整改完成，待复查")
    else:
        parts.append("未复查")
    if row.get("verification_note"):
        parts.append(str(row["verification_note"]))
    return "；".join(parts)


def worklog_row(row: Mapping[str, Any], as_of: dt.date) -> list[Any]:
    """One line of 附件5 from a hazard row (检查时间 and 整改时限 typed as dates)."""
    remarks = [domain.HAZARD_LEVELS[row["level"]], domain.HAZARD_SOURCES[row["source"]]]
    if row.get("supervision_doc_no"):
        remarks.append(f"督办文号：{row['supervision_doc_no']}")
    remarks.append(_state_note(row, as_of))
    return [
        row["enterprise_name"],
        row.get("found_by") or "",
        row["found_on"],
        row["description"],
        row.get("measures") or "",
        row.get("resp_person") or "",
        row.get("deadline"),
        _review(row),
        "；".join(remarks),
    ]


_THIN = Side(style="thin", color="000000")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="center")
_CENTRE = Alignment(wrap_text=True, vertical="center", horizontal="center")


def _sheet(title: str, columns: tuple[str, ...], widths: tuple[int, ...], left: str, right: str,
           sheet_name: str) -> tuple[Workbook, Worksheet]:
    """A workbook with the form's title row, its unit/date row and the column headings."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet_name
    _register_styles(wb)
    n = len(columns)
    last = get_column_letter(n)
    ws.merge_cells(f"A1:{last}1")
    ws["A1"] = title
    ws["A1"].font = Font(name="宋体", size=16, bold=True)
    ws["A1"].alignment = _CENTRE
    ws.row_dimensions[1].height = 30
    half = max(1, n // 2)
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=half)
    ws.merge_cells(start_row=2, start_column=half + 1, end_row=2, end_column=n)
    ws.cell(2, 1, left).alignment = Alignment(vertical="center")
    ws.cell(2, half + 1, right).alignment = Alignment(vertical="center", horizontal="right")
    for i, (name, width) in enumerate(zip(columns, widths, strict=True), start=1):
        cell = ws.cell(3, i, name)
        cell.font = Font(name="宋体", bold=True)
        cell.alignment = _CENTRE
        cell.border = _BOX
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.row_dimensions[3].height = 36
    ws.freeze_panes = "A4"
    ws.print_title_rows = "3:3"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    return wb, ws


_TEXT_STYLE = "台账正文"
_DATE_STYLE = "台账日期"


def _register_styles(wb: Workbook) -> None:
    """Two named styles for the data cells: assigning a name per cell is far cheaper
    than a border and an alignment object per cell (thousands of rows)."""
    wb.add_named_style(NamedStyle(name=_TEXT_STYLE, border=_BOX, alignment=_WRAP))
    wb.add_named_style(NamedStyle(name=_DATE_STYLE, border=_BOX, alignment=_CENTRE,
                                  number_format=_DATE_FORMAT))


def _write_rows(ws: Worksheet, lines: Iterable[list[Any]], date_columns: set[int]) -> int:
    """Data lines from row 4 on; returns the next free row."""
    r = 4
    for line in lines:
        for c, value in enumerate(line, start=1):
            cell = ws.cell(r, c, value)
            cell.style = _DATE_STYLE if c in date_columns else _TEXT_STYLE
        r += 1
    return r


def _footer(ws: Worksheet, row: int, n: int, note: str | None, sign: tuple[str, str]) -> None:
    if note:
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=n)
        ws.cell(row, 1, note).alignment = _WRAP
        ws.row_dimensions[row].height = 45
        row += 1
    row += 1
    half = max(1, n // 2)
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=half)
    ws.merge_cells(start_row=row, start_column=half + 1, end_row=row, end_column=n)
    ws.cell(row, 1, sign[0])
    ws.cell(row, half + 1, sign[1])


def _save(wb: Workbook) -> bytes:
    return spreadsheet.workbook_bytes(wb)


def checklist_xlsx(rows: Iterable[Mapping[str, Any]], *, unit: str, filled_on: dt.date,
                   title_prefix: str = "") -> bytes:
    """附件4 重大事故隐患专项排查清单 as XLSX.

    Parameters
    ----------
    rows
        Hazard rows (:func:`~geo_service.queries.ledger.hazard_rows` with ``level="major"``).
    unit
        报送单位, printed after "报送单位（公章）：".
    filled_on
        填表时间; also the date "已逾期" is counted at.
    title_prefix
        The region name the form's title starts with (e.g. "将官池镇").
    """
    wb, ws = _sheet(title_prefix + CHECKLIST_TITLE, CHECKLIST_COLUMNS, (6, 28, 14, 44, 12, 34, 20, 24),
                    f"报送单位（公章）：{unit}", f"填表时间：{cn_date(filled_on)}", "排查清单")
    lines = (checklist_row(row, i, filled_on) for i, row in enumerate(rows, start=1))
    nxt = _write_rows(ws, lines, {5})
    _footer(ws, nxt, len(CHECKLIST_COLUMNS), CHECKLIST_NOTE, CHECKLIST_SIGN)
    return _save(wb)


def worklog_xlsx(rows: Iterable[Mapping[str, Any]], *, unit: str, filled_on: dt.date) -> bytes:
    """附件5 问题隐患排查整治工作台账 as XLSX (单位, date, the nine columns, 审核人/填报人)."""
    wb, ws = _sheet(WORKLOG_TITLE, WORKLOG_COLUMNS, (28, 14, 12, 44, 34, 12, 12, 30, 26),
                    f"单位：{unit}", cn_date(filled_on), "工作台账")
    nxt = _write_rows(ws, (worklog_row(row, filled_on) for row in rows), {3, 7})
    _footer(ws, nxt, len(WORKLOG_COLUMNS), None, WORKLOG_SIGN)
    return _save(wb)


@dataclass(frozen=True)
class MajorHazardRecord:
    """The filled fields of 附件6 for one 重大隐患 (labels in :data:`MAJOR_FIELDS`)."""

    hazard_id: int
    enterprise_name: str
    address: str
    legal_rep: str
    phone: str
    industry: str
    dept: str
    hazard_name: str
    level: str
    category: str
    nature: str
    situation: str
    analysis: str
    goal: str
    method: str
    funds: str
    organisation: str
    time_limit: str
    emergency: str


# (label as printed on the form, attribute); the label line breaks follow the form.
MAJOR_FIELDS: tuple[tuple[str, str], ...] = (
    ("企业名称", "enterprise_name"),
    ("联系地址", "address"),
    ("法定代表人", "legal_rep"),
    ("联系电话", "phone"),
    ("所属行业", "industry"),
    ("主管部门", "dept"),
    ("隐患名称", "hazard_name"),
    ("隐患等级", "level"),
    ("隐患类型", "category"),
    ("隐患性质", "nature"),
    ("隐患现状及产生原因", "situation"),
    ("隐患危害程度整改难易程度分析", "analysis"),
    ("治理目标主要任务", "goal"),
    ("治理方法治理措施", "method"),
    ("经费物资保障", "funds"),
    ("负责治理的机构和人员", "organisation"),
    ("治理时限和要求", "time_limit"),
    ("安全措施应急预案", "emergency"),
)
_LABEL = {attr: label for label, attr in MAJOR_FIELDS}
_PRINTED = {
    "situation": "隐患现状\n及产生原因",
    "analysis": "隐患危害程度\n整改难易程度分析",
    "goal": "治理目标\n主要任务",
    "method": "治理方法\n治理措施",
    "organisation": "负责治理的\n机构和人员",
    "time_limit": "治理时限\n和要求",
    "emergency": "安全措施\n应急预案",
}
# Sign-off rows: (label, left text, right text); all left blank for signatures.
SIGN_OFF_ROWS: tuple[tuple[str, str, str], ...] = (
    ("验收组成员签字", "", "年　　月　　日"),
    ("乡镇（街道）意见", "（盖章）", "主要负责人签字：　　　　　　年　　月　　日"),
    ("县市区行业主管部门意见", "（盖章）", "主要负责人签字：　　　　　　年　　月　　日"),
    ("县市区政府意见", "分管区处级领导签字：", "（盖章）主要负责人签字：　　年　　月　　日"),
    ("省辖市主管部门意见", "（盖章）", "主要负责人签字：　　　　　　年　　月　　日"),
)


def _short(text: str, limit: int = 40) -> str:
    """The first sentence of a description, at most ``limit`` characters."""
    first = text.strip().split("。")[0].split("\n")[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _wan(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value:,.2f} 万元"


def major_record(session: Session, hazard_id: int, *, scope: Scope, as_of: dt.date) -> MajorHazardRecord:
    """附件6's fields for hazard ``hazard_id`` from the register.

    Raises :class:`~geo_service.errors.NotFound` when the hazard is not in
    ``scope`` or is not a 重大隐患 (only those have a 整改台账).
    """
    row = session.execute(ledger_queries.hazard_detail(hazard_id, scope=scope, as_of=as_of)).mappings().first()
    if row is None:
        raise NotFound(f"隐患 {hazard_id} 不存在或不在管辖范围内")
    if row["level"] != "major":
        raise NotFound("该隐患为一般隐患，重大事故隐患整改台账仅适用于重大隐患")
    source = domain.HAZARD_SOURCES[row["source"]]
    found = f"{cn_date(row['found_on'])}经{source}发现"
    if row.get("found_by"):
        found += f"（检查人员：{row['found_by']}）"
    situation = f"{found}：{row['description']}"
    if row.get("supervision_doc_no"):
        situation += f"；已挂牌督办（{row['supervision_doc_no']}）"
    criterion = row.get("criterion")
    nature = "重大事故隐患"
    if criterion:
        nature += f"（依据{domain.MAJOR_CRITERIA[criterion]}判定）"
    analysis = _MAJOR_DEFINITION
    if row.get("deadline"):
        days = (row["deadline"] - row["found_on"]).days
        analysis += f"；确定整改期限{days}天"
    deadline = row.get("deadline")
    goal = "彻底消除该重大事故隐患，经验收合格后销号"
    if deadline:
        goal = f"{cn_date(deadline)}前{goal}"
    organisation = row["enterprise_name"]
    if row.get("resp_person"):
        organisation += f"；治理责任人：{row['resp_person']}"
    time_limit = ""
    if deadline:
        time_limit = f"{cn_date(deadline)}前完成整改"
    state_text = f"当前状态：{domain.HAZARD_STATES[row['state']]}"
    if row.get("rectified_on"):
        state_text += f"，{cn_date(row['rectified_on'])}报告整改完成"
    if row["state"] == domain.CLOSED_STATE:
        state_text += f"，{cn_date(row.get('verified_on'))}经{row.get('verifier') or ''}验收销号"
    days_over = domain.overdue_days(row["state"], deadline, as_of)
    if days_over:
        state_text += f"，已逾期{days_over}天"
    time_limit = "；".join(p for p in (time_limit, state_text) if p)
    return MajorHazardRecord(
        hazard_id=row["id"],
        enterprise_name=row["enterprise_name"],
        address=row.get("enterprise_address") or "",
        legal_rep=row.get("enterprise_legal_rep") or "",
        phone=row.get("enterprise_phone") or "",
        industry=row.get("industry_name") or "",
        dept=row.get("enterprise_dept") or "",
        hazard_name=_short(row["description"]),
        level=domain.HAZARD_LEVELS["major"].replace("隐患", "事故隐患"),
        category=row.get("category") or "",
        nature=nature,
        situation=situation,
        analysis=analysis,
        goal=goal,
        method=row.get("measures") or "",
        funds=_wan(row.get("funds_wan")),
        organisation=organisation,
        time_limit=time_limit,
        emergency=row.get("emergency_plan") or "",
    )


def _e(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def major_record_html(record: MajorHazardRecord, *, unit: str, filled_on: dt.date, font_pt: float = 10.5) -> str:
    """附件6 as one HTML page (A4 portrait) for WeasyPrint; ``font_pt`` sets the body size."""
    def pair(a: str, b: str) -> str:
        return (f"<tr><th>{_label(a)}</th><td>{_e(getattr(record, a))}</td>"
                f"<th>{_label(b)}</th><td>{_e(getattr(record, b))}</td></tr>")

    def _label(attr: str) -> str:
        return _e(_PRINTED.get(attr, _LABEL[attr]))

    def section(title: str, attrs: tuple[str, ...]) -> str:
        out = []
        for i, attr in enumerate(attrs):
            head = f'<th rowspan="{len(attrs)}" class="section">{_e(title)}</th>' if i == 0 else ""
            out.append(f'<tr>{head}<th>{_label(attr)}</th><td colspan="2" class="long">'
                       f"{_e(getattr(record, attr))}</td></tr>")
        return "".join(out)

    signs = []
    for label, left, right in SIGN_OFF_ROWS:
        signs.append(f'<tr class="sign"><th>{_e(label)}</th><td colspan="3"><div class="signbox">'
                     f'<span>{_e(left)}</span><span>{_e(right)}</span></div></td></tr>')
    rows = (
        pair("enterprise_name", "address") + pair("legal_rep", "phone") + pair("industry", "dept")
        + pair("hazard_name", "level") + pair("category", "nature")
        + section("隐患概况", ("situation", "analysis"))
        + section("隐患的治理方案", ("goal", "method", "funds", "organisation", "time_limit", "emergency"))
        + "".join(signs)
    )
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>
@page {{ size: A4 portrait; margin: 14mm 14mm 12mm 14mm; }}
body {{ font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif; font-size: {font_pt}pt; line-height: 1.35; }}
h1 {{ text-align: center; font-size: {font_pt + 7}pt; margin: 0 0 3mm; letter-spacing: 2pt; }}
.meta {{ display: flex; justify-content: space-between; margin-bottom: 2mm; }}
table {{ width: 100%; border-collapse: collapse; table-layout: fixed; }}
th, td {{ border: 0.8pt solid #000; padding: 1.2mm 1.5mm; vertical-align: middle; word-break: break-all; }}
th {{ font-weight: normal; text-align: center; width: 17%; }}
td {{ width: 33%; }}
th.section {{ width: 17%; }}
td.long {{ text-align: left; }}
tr.sign td {{ height: 13mm; vertical-align: bottom; }}
.signbox {{ display: flex; justify-content: space-between; }}
.note {{ margin-top: 2mm; font-size: {font_pt - 1.5}pt; }}
.appendix {{ font-size: {font_pt}pt; margin: 0 0 1mm; }}
</style></head><body>
<p class="appendix">附件6</p>
<h1>{MAJOR_TITLE}</h1>
<div class="meta"><span>填报单位（盖章）：{_e(unit)}</span><span>填报日期：{cn_date(filled_on)}</span></div>
<table>{rows}</table>
<p class="note">{_e(MAJOR_NOTE)}</p>
</body></html>"""


def major_record_pdf(record: MajorHazardRecord, *, unit: str, filled_on: dt.date) -> bytes:
    """附件6 as a one-page A4 PDF; the type shrinks (10.5 pt down to 6.5 pt) until it fits one page."""
    from weasyprint import HTML  # imported here: loading pango takes a moment

    document = None
    for font_pt in (10.5, 9.5, 8.5, 7.5, 6.5):
        document = HTML(string=major_record_html(record, unit=unit, filled_on=filled_on,
                                                 font_pt=font_pt)).render()
        if len(document.pages) == 1:
            break
    assert document is not None
    # Still too long at the smallest size: print the first page (the form is one page).
    if len(document.pages) > 1:
        document = document.copy(document.pages[:1])
    return document.write_pdf()


def _docx_font(run: Any, size_pt: float, bold: bool = False) -> None:
    run.font.size = Pt(size_pt)
    run.font.bold = bold
    run.font.name = "宋体"
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "宋体")


def _cell_text(cell: Any, text: str, *, centre: bool = False, size_pt: float = 10.5) -> None:
    cell.text = ""
    lines = text.split("\n")
    paragraph = cell.paragraphs[0]
    for i, line in enumerate(lines):
        run = paragraph.add_run(line)
        _docx_font(run, size_pt)
        if i < len(lines) - 1:
            run.add_break()
    if centre:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER


def major_record_docx(record: MajorHazardRecord, *, unit: str, filled_on: dt.date) -> bytes:
    """附件6 as DOCX: the same four-column table as the form, A4 portrait."""
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.left_margin = section.right_margin = Cm(1.8)
    section.top_margin, section.bottom_margin = Cm(1.5), Cm(1.2)

    _docx_font(doc.add_paragraph().add_run("附件6"), 10.5)
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _docx_font(title.add_run(MAJOR_TITLE), 18, bold=True)
    meta = doc.add_paragraph()
    _docx_font(meta.add_run(f"填报单位（盖章）：{unit}\t\t\t填报日期：{cn_date(filled_on)}"), 10.5)

    n_rows = 5 + 2 + 6 + len(SIGN_OFF_ROWS)
    table = doc.add_table(rows=n_rows, cols=4)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    widths = (Cm(3.2), Cm(5.5), Cm(3.2), Cm(5.5))
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = width

    def label(attr: str) -> str:
        return _PRINTED.get(attr, _LABEL[attr])

    pairs = (("enterprise_name", "address"), ("legal_rep", "phone"), ("industry", "dept"),
             ("hazard_name", "level"), ("category", "nature"))
    r = 0
    for a, b in pairs:
        cells = table.rows[r].cells
        _cell_text(cells[0], label(a), centre=True)
        _cell_text(cells[1], getattr(record, a))
        _cell_text(cells[2], label(b), centre=True)
        _cell_text(cells[3], getattr(record, b))
        r += 1
    for title_text, attrs in (("隐患概况", ("situation", "analysis")),
                              ("隐患的治理方案", ("goal", "method", "funds", "organisation",
                                                  "time_limit", "emergency"))):
        head = table.cell(r, 0).merge(table.cell(r + len(attrs) - 1, 0))
        _cell_text(head, title_text, centre=True)
        for i, attr in enumerate(attrs):
            _cell_text(table.cell(r + i, 1), label(attr), centre=True)
            value = table.cell(r + i, 2).merge(table.cell(r + i, 3))
            _cell_text(value, getattr(record, attr))
        r += len(attrs)
    for label_text, left, right in SIGN_OFF_ROWS:
        _cell_text(table.cell(r, 0), label_text, centre=True)
        box = table.cell(r, 1).merge(table.cell(r, 3))
        _cell_text(box, f"{left}\n\n{right}" if left else f"\n\n{right}")
        box.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
        r += 1
    _docx_font(doc.add_paragraph().add_run(MAJOR_NOTE), 9)

    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def record_items(record: MajorHazardRecord) -> list[tuple[str, str]]:
    """``(label, value)`` pairs of a record in the form's order (for pages and tests)."""
    names = {f.name for f in fields(record)}
    return [(label, getattr(record, attr)) for label, attr in MAJOR_FIELDS if attr in names]
