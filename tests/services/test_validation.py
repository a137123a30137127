"""Record validation: each rule on a small hand-built register.

Geography: two 1°×1° squares side by side, 甲县 990101 (100–101°E) and 乙县
990102 (101–102°E), both 25–26°N.  Credit codes are made valid here with the
GB 32100 rule written out independently of ``geo_service.geo``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text

from geo_service import geo
from geo_service.services.validation import (
    FieldError,
    RecordInvalid,
    validate_enterprise,
    validate_hazard,
    validate_risk_point,
)

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def make_code(first17: str) -> str:
    """Append the GB 32100 check character (independent implementation)."""
    s = sum(CHARSET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=False))
    return first17 + CHARSET[(31 - s % 31) % 31]


CODE_A = make_code("91990101MA0000001")
CODE_B = make_code("91990102MA0000002")


def square(x0: float, y0: float) -> str:
    return f"SRID=4326;MULTIPOLYGON((({x0} {y0},{x0 + 1} {y0},{x0 + 1} {y0 + 1},{x0} {y0 + 1},{x0} {y0})))"


@pytest.fixture
def squares(session):
    session.execute(
        text("INSERT INTO region (code, name, level, parent_code, geom) VALUES"
             " ('990101', '甲县', 'county', NULL, ST_GeomFromEWKT(:a)),"
             " ('990102', '乙县', 'county', NULL, ST_GeomFromEWKT(:b))"),
        {"a": square(100, 25), "b": square(101, 25)},
    )
    return session


@pytest.fixture
def enterprise(squares):
    """An enterprise in 甲县 (100.5, 25.5), region assigned by the trigger."""
    squares.execute(
        text("INSERT INTO enterprise (credit_code, name, industry_code, geom)"
             " VALUES (:c, '甲县机械厂', 'trade.machinery', 'SRID=4326;POINT(100.5 25.5)')"),
        {"c": CODE_A},
    )
    return squares


def good_enterprise(**over):
    raw = {"credit_code": CODE_B, "name": "乙县建材公司", "industry": "建材",
           "lng": "101.5", "lat": "25.5", "region_code": "990102",
           "contact_phone": "0873-1234567", "grade_override": ""}
    raw.update(over)
    return raw


def reasons(errors: list[FieldError]) -> dict[str, str]:
    return {e.column: e.reason for e in errors}


def test_valid_enterprise_is_ready_to_insert(squares):
    record, errors = validate_enterprise(good_enterprise(), squares, row=2)
    assert errors == []
    assert record["credit_code"] == CODE_B
    assert record["industry_code"] == "trade.building_materials"
    assert record["geom"] == "SRID=4326;POINT(101.5 25.5)"
    assert record["grade_override"] is None


def test_bad_check_character_names_the_expected_one(squares):
    bad = CODE_B[:17] + ("0" if CODE_B[17] != "0" else "1")
    _, errors = validate_enterprise(good_enterprise(credit_code=bad), squares, row=7)
    assert errors == [FieldError(7, "统一社会信用代码", f"校验位错误（应为 {CODE_B[17]}）")]


@pytest.mark.parametrize(
    ("over", "column", "reason"),
    [
        ({"name": "  "}, "企业名称", "必填项为空"),
        ({"industry": "养殖业"}, "行业领域", "无法识别“养殖业”"),
        ({"lng": "2.35", "lat": "48.86"}, "经度", "不在中国境内"),
        ({"lng": "25.5", "lat": "101.5"}, "经度", "可能填反了"),
        ({"lng": "东经101度"}, "经度", "应为十进制度数"),
        ({"lat": ""}, "纬度", "须同时填写"),
        # (100.5, 25.5) is in 甲县 (990101), not in the 乙县 the row names
        ({"lng": "100.5"}, "经度", r"不在所填行政区划（990102）范围内"),
        ({"region_code": "990199"}, "行政区划代码", "未导入"),
        ({"grade_override": "紫"}, "监管认定风险等级", "无法识别“紫”"),
        ({"contact_phone": "call me"}, "联系电话", "格式无法识别"),
    ],
)
def test_enterprise_errors(squares, over, column, reason):
    _, errors = validate_enterprise(good_enterprise(**over), squares, row=3)
    assert len(errors) == 1, errors
    assert errors[0].row == 3 and errors[0].column == column
    assert reason in errors[0].reason


def test_gcj02_input_is_converted_before_storing(squares):
    # 101.5, 25.5 read as GCJ-02 lies a few hundred metres from the WGS84 point
    record, errors = validate_enterprise(good_enterprise(), squares, datum="gcj02")
    assert errors == []
    lng, lat = geo.to_wgs84(101.5, 25.5, "gcj02")
    assert record["geom"] == f"SRID=4326;POINT({lng!r} {lat!r})"
    assert (lng, lat) != (101.5, 25.5)


def test_record_invalid_lists_every_error():
    err = RecordInvalid([FieldError(None, "企业名称", "必填项为空"), FieldError(None, "经度", "x")])
    assert err.http_status == 400
    body = err.to_dict()
    assert body["error"] == "invalid_record"
    assert body["errors"] == [{"row": None, "column": "企业名称", "reason": "必填项为空"},
                              {"row": None, "column": "经度", "reason": "x"}]
    with pytest.raises(RecordInvalid, match="企业名称：必填项为空"):
        raise err


def test_risk_point_grade_from_any_spelling_and_from_lec(enterprise):
    base = {"enterprise_credit_code": CODE_A, "name": "冲压车间"}
    for spelling in ("橙", "较大风险", "orange", "2"):
        record, errors = validate_risk_point({**base, "grade": spelling}, enterprise)
        assert errors == [] and record["grade"] == 2
    # L=6, E=6, C=15: D = 540 > 320 → 红, with no grade given
    record, errors = validate_risk_point(
        {**base, "method": "LEC", "method_params": '{"L": 6, "E": 6, "C": 15}'}, enterprise)
    assert errors == []
    assert record["score"] == Decimal("540") and record["grade"] == 1


@pytest.mark.parametrize(
    ("over", "column", "reason"),
    [
        ({"grade": "紫"}, "风险等级", "无法识别“紫”"),
        ({"grade": ""}, "风险等级", "必填项为空"),
        ({"enterprise_credit_code": CODE_B}, "企业统一社会信用代码", "对应的企业未登记"),
        ({"method_params": '{"L": 4, "E": 6, "C": 15}', "method": "LEC"}, "评估参数", "L=4"),
        ({"assessed_on": "2026-13-40"}, "评估日期", "日期格式无法识别"),
        ({"controls_implemented": "maybe"}, "管控措施是否落实", "应为“是”或“否”"),
    ],
)
def test_risk_point_errors(enterprise, over, column, reason):
    raw = {"enterprise_credit_code": CODE_A, "name": "冲压车间", "grade": "黄", **over}
    _, errors = validate_risk_point(raw, enterprise, row=4)
    assert [(e.row, e.column) for e in errors] == [(4, column)]
    assert reason in errors[0].reason


TODAY = dt.date.today()
D = dt.timedelta


def hazard(**over):
    raw = {"enterprise_credit_code": CODE_A, "description": "配电柜前未铺绝缘垫",
           "level": "一般", "source": "企业自查", "found_on": (TODAY - D(30)).isoformat(),
           "deadline": (TODAY - D(20)).isoformat(), "state": "已登记"}
    raw.update(over)
    return raw


def test_closed_major_hazard_with_five_measures_is_valid(enterprise):
    record, errors = validate_hazard(hazard(
        level="重大", state="已验收销号", source="挂牌督办", supervision_doc_no="红安委督〔2026〕3号",
        resp_person="张三", measures="更换", funds_wan="12.5", emergency_plan="有",
        rectified_on=(TODAY - D(22)).isoformat(), verified_on=(TODAY - D(21)).isoformat(),
        verifier="李四"), enterprise)
    assert errors == []
    assert record["state"] == "closed" and record["level"] == "major"
    # no criterion given: a 机械 (工贸) enterprise is judged under the 工贸 standard
    assert record["criterion"] == "trade"
    assert record["funds_wan"] == Decimal("12.5")


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"level": "特大"}, {"隐患级别": "无法识别“特大”"}),
        ({"source": "路人"}, {"隐患来源": "无法识别“路人”"}),
        ({"state": "已完成"}, {"整改状态": "无法识别“已完成”"}),
        ({"source": "挂牌督办"}, {"挂牌督办文号": "须填写督办文号"}),
        ({"funds_wan": "-1"}, {"整改资金（万元）": "不能小于 0"}),
        ({"deadline": (TODAY - D(31)).isoformat()}, {"整改期限": "早于发现日期"}),
        ({"found_on": (TODAY + D(1)).isoformat(), "deadline": ""}, {"发现日期": "晚于今天"}),
        ({"state": "已整改"}, {"整改完成日期": "须填写整改完成日期"}),
        ({"state": "整改中", "rectified_on": (TODAY - D(1)).isoformat()}, {"整改完成日期": "不应有"}),
        ({"state": "已验收销号", "rectified_on": (TODAY - D(5)).isoformat()},
         {"验收日期": "须填写验收日期", "验收人": "须填写验收人"}),
        ({"state": "已验收销号", "rectified_on": (TODAY - D(5)).isoformat(),
          "verified_on": (TODAY - D(6)).isoformat(), "verifier": "李四"},
         {"验收日期": "早于整改完成日期"}),
        ({"level": "重大", "state": "整改中", "deadline": ""},
         {h: "五落实" for h in ("整改责任人", "整改措施", "整改资金（万元）", "整改期限", "应急预案")}),
        # the hazard's own point lies in 乙县, its enterprise in 甲县
        ({"lng": "101.5", "lat": "25.5"}, {"经度": "不在企业所在行政区（990101）范围内"}),
    ],
)
def test_hazard_errors(enterprise, over, expected):
    _, errors = validate_hazard(hazard(**over), enterprise, row=9)
    got = reasons(errors)
    assert set(got) == set(expected), errors
    for column, reason in expected.items():
        assert reason in got[column]
    assert all(e.row == 9 for e in errors)


def test_a_major_hazard_just_registered_needs_no_five_measures(enterprise):
    _, errors = validate_hazard(hazard(level="重大"), enterprise)
    assert errors == []


def test_hazard_by_enterprise_id_for_the_api(enterprise):
    eid = enterprise.execute(text("SELECT id FROM enterprise WHERE credit_code = :c"), {"c": CODE_A}).scalar()
    raw = hazard()
    del raw["enterprise_credit_code"]
    record, errors = validate_hazard({**raw, "enterprise_id": eid}, enterprise)
    assert errors == [] and record["enterprise_id"] == eid
    _, errors = validate_hazard({**raw, "enterprise_id": eid + 1000}, enterprise)
    assert errors == [FieldError(None, "企业", f"企业 {eid + 1000} 不存在")]
