"""一单四制: the statutory clocks on fixed dates, the recorded steps and the 通报.

Calendar used below (2026): 27 Nov is a Friday; 4 Dec the next Friday;
31 Dec a Thursday.  Working days skip Saturdays and Sundays (and the
holidays given).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from types import SimpleNamespace

import pytest
from docx import Document
from helpers import credit_code
from pypdf import PdfReader
from sqlalchemy import text

from geo_service.domain import Actor
from geo_service.errors import Forbidden, InvalidParameter
from geo_service.queries.scope import ALL
from geo_service.services import supervision as sv

D = dt.date
SETTINGS = sv.ClockSettings()
NEW_YEARS_EVE = D(2026, 12, 31)


def _hazard(state: str = "rectifying", deadline: D | None = NEW_YEARS_EVE, rectified_on: D | None = None,
            verified_on: D | None = None) -> dict[str, object]:
    return {"state": state, "deadline": deadline, "rectified_on": rectified_on, "verified_on": verified_on}


def _act(kind: str, n: int = 1, **kw) -> SimpleNamespace:  # type: ignore[no-untyped-def]
    base = {"id": n, "kind": kind, "at": dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC), "decided_on": None,
            "published_on": None, "due_on": None}
    return SimpleNamespace(**{**base, **kw})


def _by_key(clocks: list[sv.Clock]) -> dict[str, tuple[D, str]]:
    return {c.key: (c.due, c.status) for c in clocks}


def test_publication_within_five_working_days():
    # decided Friday 27 Nov → due Friday 4 Dec (Mon–Fri of the next week)
    on_time = _act("supervise", decided_on=D(2026, 11, 27), published_on=D(2026, 12, 3))
    late = _act("supervise", decided_on=D(2026, 11, 27), published_on=D(2026, 12, 7))
    unpublished = _act("supervise", decided_on=D(2026, 11, 27))
    assert _by_key(sv.clocks(_hazard(), [on_time], D(2026, 12, 10), SETTINGS))["publish"] == (D(2026, 12, 4), "done")
    assert _by_key(sv.clocks(_hazard(), [late], D(2026, 12, 10), SETTINGS))["publish"] == (D(2026, 12, 4), "late")
    assert _by_key(sv.clocks(_hazard(), [unpublished], D(2026, 12, 4), SETTINGS))["publish"] == (
        D(2026, 12, 4), "pending")
    assert _by_key(sv.clocks(_hazard(), [unpublished], D(2026, 12, 5), SETTINGS))["publish"] == (
        D(2026, 12, 4), "overdue")
    # a holiday on Wednesday 2 Dec pushes the due date to Monday 7 Dec
    with_holiday = sv.ClockSettings(holidays=(D(2026, 12, 2),))
    assert _by_key(sv.clocks(_hazard(), [unpublished], D(2026, 12, 5), with_holiday))["publish"] == (
        D(2026, 12, 7), "pending")


def test_rectification_at_most_twelve_months_after_the_decision():
    sup = _act("supervise", decided_on=D(2026, 1, 15), published_on=D(2026, 1, 16))
    # deadline 1 Mar 2027 lies beyond 15 Jan 2027: flagged, and the hazard's own deadline is the clock
    (rect,) = [c for c in sv.clocks(_hazard(deadline=D(2027, 3, 1)), [sup], D(2026, 6, 1), SETTINGS)
               if c.key == "rectify"]
    assert (rect.due, rect.status) == (D(2027, 3, 1), "pending") and "2027-01-15" in rect.note
    # no deadline: the statutory limit is the clock; past it and still open → overdue
    (rect,) = [c for c in sv.clocks(_hazard(deadline=None), [sup], D(2027, 1, 16), SETTINGS) if c.key == "rectify"]
    assert (rect.due, rect.status, rect.note) == (D(2027, 1, 15), "overdue", "")
    # rectified on the deadline: done
    done = _hazard(state="rectified", deadline=D(2026, 12, 31), rectified_on=D(2026, 12, 31))
    assert _by_key(sv.clocks(done, [sup], D(2027, 2, 1), SETTINGS))["rectify"] == (D(2026, 12, 31), "done")


def test_extension_requests_twenty_working_days_before_the_deadline():
    # 31 Dec (Thu) − 20 working days = 3 Dec (Thu): 4 weeks of Mon–Fri back
    assert _by_key(sv.clocks(_hazard(), [], D(2026, 12, 3), SETTINGS))["extension"] == (D(2026, 12, 3), "pending")
    (ext,) = [c for c in sv.clocks(_hazard(), [], D(2026, 12, 4), SETTINGS) if c.key == "extension"]
    assert (ext.due, ext.status) == (D(2026, 12, 3), "overdue") and "已过延期申请期限" in ext.note
    asked = _act("extension", at=dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC), due_on=D(2027, 3, 31))
    assert _by_key(sv.clocks(_hazard(), [asked], D(2026, 12, 20), SETTINGS))["extension"] == (
        D(2026, 12, 3), "done")
    # a holiday (Christmas, as a setting) moves the last request day one working day earlier
    holiday = sv.ClockSettings(holidays=(D(2026, 12, 25),))
    assert _by_key(sv.clocks(_hazard(), [], D(2026, 11, 1), holiday))["extension"] == (D(2026, 12, 2), "pending")


def test_delisting_published_within_five_working_days_of_sign_off():
    sup = _act("supervise", decided_on=D(2026, 6, 1), published_on=D(2026, 6, 2))
    closed = _hazard(state="closed", rectified_on=D(2026, 12, 8), verified_on=D(2026, 12, 10))  # Thursday
    assert _by_key(sv.clocks(closed, [sup], D(2026, 12, 17), SETTINGS))["delist"] == (D(2026, 12, 17), "pending")
    assert _by_key(sv.clocks(closed, [sup], D(2026, 12, 18), SETTINGS))["delist"] == (D(2026, 12, 17), "overdue")
    delist = _act("delist", 2, published_on=D(2026, 12, 18))
    assert _by_key(sv.clocks(closed, [sup, delist], D(2026, 12, 20), SETTINGS))["delist"] == (
        D(2026, 12, 17), "late")
    # without 挂牌督办 there is no publication or 摘牌 clock
    assert set(_by_key(sv.clocks(closed, [], D(2026, 12, 20), SETTINGS))) == {"rectify"}


@pytest.fixture
def majors(session):  # type: ignore[no-untyped-def]
    ent = session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
        " (:c, '丁化工', 'hazchem', ST_SetSRID(ST_MakePoint(100.5, 20.5), 4326)) RETURNING id"),
        {"c": credit_code(7, "539901")}).scalar_one()
    ids = {}
    for key, desc, state, deadline, verified in (
            ("late", "液氯储罐区未设紧急切断", "rectifying", "2026-10-15", None),
            ("closed", "反应釜未设安全联锁", "closed", "2026-10-31", "2026-10-20"),
            ("general", "灭火器过期", "registered", "2026-10-01", None)):
        level = "general" if key == "general" else "major"
        ids[key] = session.execute(text(
            "INSERT INTO hazard (enterprise_id, description, level, source, found_on, deadline, state,"
            " resp_person, measures, funds_wan, emergency_plan, rectified_on, verified_on, verifier)"
            " VALUES (:e, :d, :l, 'inspection', '2026-09-01', :dl, :s, '李四', '加装', 10, '预案',"
            " :v, :v, CASE WHEN :v IS NULL THEN NULL ELSE '王五' END) RETURNING id"),
            {"e": ent, "d": desc, "l": level, "dl": deadline, "s": state, "v": verified}).scalar_one()
    return ids


def test_steps_are_recorded_and_the_notice_lists_the_month(session, majors):  # type: ignore[no-untyped-def]
    regulator = Actor("科员", None, "regulator")
    enterprise = Actor("企业", None, "enterprise")
    with pytest.raises(Forbidden):
        sv.record_action(session, majors["late"], "supervise", {"doc_no": "X", "decided_on": "2026-09-02"},
                         enterprise, scope=ALL)
    with pytest.raises(InvalidParameter, match="重大事故隐患"):
        sv.record_action(session, majors["general"], "assign", {"assignee": "安监科", "due_on": "2026-10-01"},
                         regulator, scope=ALL)
    with pytest.raises(InvalidParameter, match="销号后"):
        sv.record_action(session, majors["late"], "delist", {"published_on": "2026-10-02"}, regulator, scope=ALL)
    sv.record_action(session, majors["late"], "assign", {"assignee": "危化科 张科长", "due_on": "2026-09-30"},
                     regulator, scope=ALL)
    sv.record_action(session, majors["late"], "supervise", {"doc_no": "红应急督〔2026〕3号",
                                                            "decided_on": "2026-09-02",
                                                            "published_on": "2026-09-04"}, regulator, scope=ALL)
    sv.record_action(session, majors["late"], "extension", {"due_on": "2026-12-31", "note": "设备到货延迟"},
                     enterprise, scope=ALL)
    rows = {r["id"]: r for r in sv.major_rows(session, scope=ALL)}
    assert set(rows) == {majors["late"], majors["closed"]}  # the 清单 holds the major ones only
    assert [a.kind for a in rows[majors["late"]]["actions"]] == ["assign", "supervise", "extension"]

    overdue, closed = sv.notice_rows(session, D(2026, 10, 1), scope=ALL)
    # on 31 Oct the first is 16 days past its 15 Oct deadline; the second was signed off on 20 Oct
    assert [(r["id"], r["overdue_days"]) for r in overdue] == [(majors["late"], 16)]
    assert [r["id"] for r in closed] == [majors["closed"]]
    docx = Document(io.BytesIO(sv.notice_docx(overdue, closed, month=D(2026, 10, 1), unit="某县应急管理局",
                                              issued_on=D(2026, 11, 3))))
    body = "\n".join(p.text for p in docx.paragraphs)
    assert "某县应急管理局重大事故隐患治理情况通报（2026年10月）" in body
    cells = [[c.text for c in row.cells] for t in docx.tables for row in t.rows]
    assert ["1", "丁化工", "", "液氯储罐区未设紧急切断", "红应急督〔2026〕3号", "2026-10-15", "16"] in cells
    assert ["1", "丁化工", "", "反应釜未设安全联锁", "", "2026-10-20", "王五"] in cells
    pdf = PdfReader(io.BytesIO(sv.notice_pdf(overdue, closed, month=D(2026, 10, 1), unit="某县应急管理局",
                                             issued_on=D(2026, 11, 3))))
    page = pdf.pages[0]
    assert float(page.mediabox.width) > float(page.mediabox.height)  # A4 landscape
    content = re.sub(r"\s+", "", page.extract_text())
    assert "液氯储罐区未设紧急切断" in content and "反应釜未设安全联锁" in content
