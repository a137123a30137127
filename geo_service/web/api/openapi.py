"""The OpenAPI 3 description of ``/api/``, written by hand, checked by a test
against the application's URL map (every ``/api/`` route is described)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ... import domain
from ...queries.filters import MAX_OFFSET
from .openapi_zones import zone_paths

__all__ = ["openapi_document"]


REGION_PATTERN = "^[0-9]{6}([0-9]{3}([0-9]{3})?)?$"
# What a regulator's write may send; the services refuse any other key (400).
ENTERPRISE_FIELDS = ("credit_code", "name", "address", "industry", "region_code", "lng", "lat", "legal_rep",
                     "contact_phone", "complaint_phone", "supervising_dept", "grade_override", "grade_override_note")
CHINA = {"lng": {"type": "number", "minimum": 73, "maximum": 136},
         "lat": {"type": "number", "minimum": 3, "maximum": 54}}


def _param(name: str, description: str, schema: dict[str, Any], *, where: str = "query",
           required: bool = False, explode: bool | None = None) -> dict[str, Any]:
    out = {"name": name, "in": where, "required": required or where == "path",
           "description": description, "schema": schema}
    if explode is not None:
        out.update({"style": "form", "explode": explode})
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{name}"}


def _json(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"content": {media: {"schema": schema}}}


def openapi_document(config: Mapping[str, Any]) -> dict[str, Any]:
    """The document; limits come from the running configuration."""
    max_page = int(config["MAX_PAGE_SIZE"])
    max_radius = float(config["MAX_RADIUS_M"])
    max_bbox = float(config["MAX_BBOX_AREA_DEG2"])

    grade_word = "(" + "|".join(["[1-4]"] + [w for g in domain.GRADES for w in (g.key, g.colour_name)]) + ")"
    state_word = "(" + "|".join(domain.HAZARD_STATES) + ")"
    filters = [
        _param("region", "行政区划代码（6/9/12 位），含全部下级", {"type": "string", "pattern": REGION_PATTERN}),
        _param("industry", "行业领域代码；trade 含 trade.*（也接受中文名）",
               {"type": "string", "enum": [i.code for i in domain.INDUSTRIES]}),
        _param("grade", "风险等级，逗号分隔：1–4、red/orange/yellow/blue 或 红/橙/黄/蓝",
               {"type": "string", "pattern": f"^{grade_word}(,{grade_word})*$"}),
        _param("hazard_level", "隐患级别", {"type": "string", "enum": list(domain.HAZARD_LEVELS)}),
        _param("hazard_state", "隐患状态，逗号分隔", {"type": "string", "pattern": f"^{state_word}(,{state_word})*$"}),
        _param("hazard_source", "隐患来源", {"type": "string", "enum": list(domain.HAZARD_SOURCES)}),
        _param("overdue", "是否逾期（true/false）", {"type": "boolean"}),
        _param("month", "发现月份 YYYY-MM", {"type": "string", "pattern": "^[1-9][0-9]{3}-(0?[1-9]|1[0-2])$"}),
        _param("found_from", "发现日期起", {"type": "string", "format": "date"}),
        _param("found_to", "发现日期止（不早于 found_from，否则 400）", {"type": "string", "format": "date"}),
        _param("bbox", f"west,south,east,north（WGS84 度；west < east、south < north，"
                       f"面积不超过 {max_bbox:g} 平方度，否则 400）",
               {"type": "array", "minItems": 4, "maxItems": 4,
                "items": {"type": "number", "minimum": -180, "maximum": 180}}, explode=False),
        _param("q", "名称或描述中的文字", {"type": "string", "maxLength": 100}),
        _param("enterprise_id", "某一企业", {"type": "integer", "minimum": 0}),
    ]
    paging = [
        _param("limit", f"每页条数（1–{max_page}）", {"type": "integer", "minimum": 1, "maximum": max_page, "default": 100}),
        _param("offset", "跳过条数", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}),
        _param("format", "geojson（默认）、json，或下载 csv/xlsx/gpkg/shp",
               {"type": "string", "enum": ["geojson", "json", "csv", "xlsx", "gpkg", "shp"]}),
        _param("download", "1 或 true：以附件下载整份筛选结果（其他值：不下载）", {"type": "string"}),
    ]
    # The filters and the paging read an empty value (``grade=``) as an absent one.
    for p in filters + paging:
        p["allowEmptyValue"] = True
    point = [
        _param("lon", "经度（WGS84）；与 lat 同时给出", {"type": "number", "minimum": -180, "maximum": 180}),
        _param("lat", "纬度（WGS84）；与 lon 同时给出", {"type": "number", "minimum": -90, "maximum": 90}),
    ]
    required_point = [{**p, "required": True} for p in point]
    radius = _param("radius_m", f"半径（米，0 < r ≤ {max_radius:g}）",
                    {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": max_radius})
    files = {m: {"schema": {"type": "string", "format": "binary"}} for m in (
        "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/geopackage+sqlite3", "application/zip")}
    list_responses = {
        "200": {"description": "GeoJSON FeatureCollection（或 JSON / 文件）", "content": {
            "application/geo+json": {"schema": _ref("schemas/FeatureCollection")},
            "application/json": {"schema": {"type": "object"}}, **files}},
        "400": _ref("responses/InvalidParameter"),
        "401": _ref("responses/Unauthorized"),
    }
    record_responses = {
        "200": {"description": "记录（ETag 为版本号）", **_json({"type": "object"})},
        "400": _ref("responses/InvalidParameter"),
        "401": _ref("responses/Unauthorized"),
        "404": _ref("responses/NotFound"),
    }
    write_responses = {
        "400": _ref("responses/InvalidParameter"),
        "401": _ref("responses/Unauthorized"),
        "403": _ref("responses/Forbidden"),
        "404": _ref("responses/NotFound"),
        "409": _ref("responses/Conflict"),
    }
    polygon = {"type": "object", "required": ["type", "coordinates"], "properties": {
        "type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]}, "coordinates": {"type": "array"}}}
    polygon_body = {"required": True, **_json({
        "description": "GeoJSON Polygon/MultiPolygon，或其 Feature，或 {\"polygon\": …}；环须闭合有效、"
                       f"外包框面积不超过 {max_bbox:g} 平方度（否则 400）",
        "oneOf": [polygon,
                  {"type": "object", "required": ["type", "geometry"], "properties": {
                      "type": {"type": "string", "enum": ["Feature"]}, "geometry": polygon}},
                  {"type": "object", "required": ["polygon"], "properties": {"polygon": polygon}}]})}

    def lst(summary: str, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {"get": {"summary": summary, "parameters": filters + paging + (extra or []), "responses": list_responses}}

    def search(summary: str) -> dict[str, Any]:
        return {"post": {"summary": summary, "parameters": filters + paging, "requestBody": polygon_body,
                         "responses": list_responses}}

    def id_param(name: str) -> dict[str, Any]:
        return _param(name, "编号", {"type": "integer", "minimum": 1}, where="path")

    datum = _param("datum", "坐标系", {"type": "string", "enum": ["wgs84", "cgcs2000", "gcj02", "bd09"]})
    if_match = _param("If-Match", "版本号 ETag，如 \"v3\"（或请求体 version）", {"type": "string", "pattern": '^(W/)?"?v?[0-9]+"?$'},
                      where="header")

    def write(summary: str, schema: str, status: str = "201") -> dict[str, Any]:
        return {"summary": summary, "parameters": [datum],
                "requestBody": {"required": True, **_json(_ref(f"schemas/{schema}"))},
                "responses": {status: {"description": "已保存", **_json({"type": "object"})}, **write_responses}}

    def patch(summary: str, schema: str, id_name: str, *, with_datum: bool = True) -> dict[str, Any]:
        op = write(summary, schema, "200")
        op["parameters"] = [id_param(id_name)] + ([datum] if with_datum else []) + [if_match]
        return op

    export_format = _param("format", "文件格式", {"type": "string", "enum": ["geojson", "csv", "xlsx", "gpkg", "shp"]})
    export_job = {"type": "object", "properties": {
        "id": {"type": "string"}, "state": {"type": "string", "enum": ["running", "done", "error"]},
        "done": {"type": "integer"}, "total": {"type": "integer"}, "message": {"type": "string"},
        "status_url": {"type": "string"}, "download_url": {"type": "string"}}}
    job_id = _param("job_id", "任务编号", {"type": "string"}, where="path")

    def export(what: str) -> dict[str, Any]:
        return {"post": {
            "summary": f"{what}：按筛选条件导出整个列表（后台任务，数据量大时使用；最多 MAX_EXPORT_ROWS 行）",
            "parameters": filters + [export_format],
            "responses": {"202": {"description": "已排队：按 status_url 查询进度，完成后从 download_url 下载",
                                  **_json(export_job)},
                          "400": _ref("responses/InvalidParameter"), "401": _ref("responses/Unauthorized")}}}

    paths: dict[str, Any] = {
        "/api/": {"get": {"summary": "接口目录", "responses": {"200": {"description": "链接", **_json({"type": "object"})},
                                                               "401": _ref("responses/Unauthorized")}}},
        "/api/openapi.json": {"get": {"summary": "本文档", "responses": {
            "200": {"description": "OpenAPI 3", **_json({"type": "object"}, "application/vnd.oai.openapi+json")},
            "401": _ref("responses/Unauthorized")}}},
        "/api/enterprises": {
            **lst("企业列表；给 lon/lat/radius_m 为半径查询（按距离排序，返回 distance_m），给 lon/lat/k 为最近 k 家",
                  point + [radius, {**_param("k", "最近的 k 家（空值为 10）；不能与 radius_m 同时给出", {"type": "integer", "minimum": 1, "maximum": max_page}),
                                    "allowEmptyValue": True}]),
            "post": write("登记企业（JSON 字段或 GeoJSON Feature）", "Enterprise"),
        },
        "/api/enterprises/search": search("多边形内的企业"),
        "/api/enterprises/{enterprise_id}": {
            "get": {"summary": "企业详情（风险点、未销号隐患）", "parameters": [id_param("enterprise_id")], "responses": record_responses},
            "patch": patch("修改企业（需版本号：请求体 version 或 If-Match）", "EnterprisePatch", "enterprise_id"),
        },
        "/api/enterprises/{enterprise_id}/nearby": {"get": {
            "summary": "企业周边（外部安全距离）：半径内的其他企业", "parameters": [id_param("enterprise_id"), radius] + filters + paging,
            "responses": {**list_responses, "404": _ref("responses/NotFound")}}},
        "/api/enterprises/{enterprise_id}/risk-points": {"post": {**write("为企业新增风险点", "RiskPoint"), "parameters": [id_param("enterprise_id")]}},
        "/api/enterprises/{enterprise_id}/hazards": {"post": {**write("为企业登记隐患", "Hazard"), "parameters": [id_param("enterprise_id"), datum]}},
        "/api/risk-points": {**lst("风险点列表（grade 为风险点自身等级）"),
                             "post": {**write("新增风险点（请求体含 enterprise_id）", "NewRiskPoint"), "parameters": []}},
        "/api/risk-points/search": search("多边形内的风险点"),
        "/api/risk-points/{risk_point_id}": {
            "get": {"summary": "风险点", "parameters": [id_param("risk_point_id")], "responses": record_responses},
            "patch": patch("修改风险点（需版本号）", "RiskPointPatch", "risk_point_id", with_datum=False),
        },
        "/api/hazards": {**lst("隐患列表"), "post": write("登记隐患（请求体含 enterprise_id）", "NewHazard")},
        "/api/hazards/search": search("多边形内的隐患"),
        "/api/enterprises/exports": export("企业"),
        "/api/risk-points/exports": export("风险点"),
        "/api/hazards/exports": export("隐患"),
        "/api/exports/{job_id}": {"get": {
            "summary": "导出任务的进度（本人发起的任务）", "parameters": [job_id],
            "responses": {"200": {"description": "进度（done/total/state）", **_json(export_job)},
                          "401": _ref("responses/Unauthorized"), "404": _ref("responses/NotFound")}}},
        "/api/exports/{job_id}/download": {"get": {
            "summary": "下载导出任务生成的文件", "parameters": [job_id],
            "responses": {"200": {"description": "文件", "content": {"application/geo+json": {}, **files}},
                          "401": _ref("responses/Unauthorized"), "404": _ref("responses/NotFound")}}},
        "/api/hazards/{hazard_id}": {
            "get": {"summary": "隐患详情（流转记录、佐证材料）", "parameters": [id_param("hazard_id")], "responses": record_responses},
            "patch": patch("修改隐患（不含状态；需版本号）", "HazardPatch", "hazard_id"),
        },
        "/api/hazards/{hazard_id}/transition": {"post": {
            "summary": "隐患状态变更：" + "；".join(f"{domain.HAZARD_STATES[a]}→{domain.HAZARD_STATES[b]}（{v}）" for (a, b), v in domain.TRANSITIONS.items()),
            "parameters": [id_param("hazard_id"), if_match],
            "requestBody": {"required": True, **_json(_ref("schemas/Transition"))},
            "responses": {"200": {"description": "变更后的隐患"}, **write_responses}}},
        "/api/hazards/{hazard_id}/evidence": {
            "get": {"summary": "佐证材料列表", "parameters": [id_param("hazard_id")], "responses": record_responses},
            "post": {"summary": "上传佐证材料（JPEG/PNG/PDF/DOCX/XLSX，按内容判断类型）", "parameters": [id_param("hazard_id")],
                     "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                         "type": "object", "required": ["file"], "properties": {
                             "file": {"type": "string", "format": "binary"},
                             "kind": {"type": "string", "enum": ["before", "after", "plan", "acceptance", "other"]}}}}}},
                     "responses": {"201": {"description": "已保存（sha256）"}, "413": _ref("responses/TooLarge"), **write_responses}},
        },
        "/api/evidence/{evidence_id}": {"get": {"summary": "下载佐证材料", "parameters": [id_param("evidence_id")],
                                                "responses": {"200": {"description": "文件", "content": {"*/*": {}}},
                                                              "401": _ref("responses/Unauthorized"),
                                                              "404": _ref("responses/NotFound")}}},
        "/api/regions": {"get": {"summary": "行政区划列表", "parameters": [
            _param("parent", "上级代码", {"type": "string"}), _param("level", "级别", {"type": "string", "enum": ["province", "prefecture", "county", "township"]}),
            next(p for p in filters if p["name"] == "bbox"),
            {**_param("format", "json（默认，空值同）或 geojson（含边界）", {"type": "string", "enum": ["json", "geojson"]}),
             "allowEmptyValue": True}],
            "responses": {"200": {"description": "列表", "content": {"application/json": {"schema": {"type": "object"}},
                                                                    "application/geo+json": {"schema": {"type": "object"}}}},
                          "400": _ref("responses/InvalidParameter"), "401": _ref("responses/Unauthorized")}}},
        "/api/regions/lookup": {"get": {"summary": "点所在的行政区划（由下往上）", "parameters": required_point,
                                        "responses": {"200": {"description": "区划", **_json({"type": "object"})},
                                                      "400": _ref("responses/InvalidParameter"),
                                                      "401": _ref("responses/Unauthorized")}}},
        "/api/regions/{code}": {"get": {"summary": "行政区划（含边界）", "parameters": [_param("code", "代码", {"type": "string"}, where="path")],
                                        "responses": {"200": {"description": "GeoJSON Feature", **_json({"type": "object"}, "application/geo+json")},
                                                      "401": _ref("responses/Unauthorized"),
                                                      "404": _ref("responses/NotFound")}}},
        "/api/regions/{code}/summary": {"get": {
            "summary": "区划统计：企业和风险点按等级、隐患按级别和状态、逾期、挂牌督办、整改率，并含各下级",
            "parameters": [_param("code", "代码", {"type": "string"}, where="path"),
                           {**_param("as_of", "统计日期（默认今天，空值同）", {"type": "string", "format": "date"}), "allowEmptyValue": True},
                           _param("children", "0 或 false：不含下级", {"type": "string"})],
            "responses": {"200": {"description": "统计", **_json(_ref("schemas/Summary"))},
                          "400": _ref("responses/InvalidParameter"), "401": _ref("responses/Unauthorized"),
                          "404": _ref("responses/NotFound")}}},
        "/api/regions/{code}/children": {"get": {
            "summary": "下级区划边界及其统计（区域热度）",
            "parameters": [_param("code", "代码", {"type": "string"}, where="path"),
                           {**_param("as_of", "统计日期（默认今天，空值同）", {"type": "string", "format": "date"}), "allowEmptyValue": True}],
            "responses": {"200": {"description": "GeoJSON FeatureCollection", **_json({"type": "object"}, "application/geo+json")},
                          "400": _ref("responses/InvalidParameter"), "401": _ref("responses/Unauthorized"),
                          "404": _ref("responses/NotFound")}}},
        "/api/returns/{region}/{month}": {"get": {
            "summary": "统计月报数字：统计表第12–14项、调度表总体情况、分行业统计表（当年1月1日至该月末累计）",
            "parameters": [_param("region", "行政区划代码", {"type": "string"}, where="path"),
                           _param("month", "月份 YYYY-MM（2000–2100 年）", {"type": "string", "pattern": "^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$"},
                                  where="path"),
                           _param("unit", "填报单位", {"type": "string"})],
            "responses": {"200": {"description": "月报数字（JSON）", **_json({"type": "object"})},
                          "400": _ref("responses/InvalidParameter"), "401": _ref("responses/Unauthorized"),
                          "403": _ref("responses/Forbidden"), "404": _ref("responses/NotFound")}}},
        "/api/returns/archive/{archive_id}": {"get": {
            "summary": "已提交（冻结）的月报：归档时的数字及与当前重新计算的差异",
            "parameters": [_param("archive_id", "归档编号", {"type": "integer", "minimum": 0}, where="path")],
            "responses": {"200": {"description": "归档数字与差异", **_json({"type": "object"})},
                          # a negative number is read as /api/returns/{region}/{month}: month invalid
                          "400": _ref("responses/InvalidParameter"),
                          "401": _ref("responses/Unauthorized"), "403": _ref("responses/Forbidden"),
                          "404": _ref("responses/NotFound")}}},
        "/api/returns/jobs/{job_id}": {"get": {
            "summary": "月报生成任务的进度",
            "parameters": [_param("job_id", "任务编号", {"type": "string"}, where="path")],
            "responses": {"200": {"description": "进度（done/total/state）", **_json({"type": "object"})},
                          "401": _ref("responses/Unauthorized"), "404": _ref("responses/NotFound")}}},
    }
    paths.update(zone_paths(_param, _json, _ref))
    error = {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string"}, "message": {"type": "string"},
        "parameter": {"type": "string"}, "reason": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}}}}
    text = {"type": "string"}
    date = {"type": "string", "format": "date"}
    version = {"type": "integer", "minimum": 1, "description": "乐观锁版本号（或 If-Match 头）"}
    grade = {"type": "string", "enum": [w for g in domain.GRADES for w in (str(g.value), g.key, g.colour_name, g.name)]}
    industry = {"type": "string", "enum": [i.code for i in domain.INDUSTRIES] + [i.name for i in domain.INDUSTRIES]}
    # Fields beyond JSON Schema (the credit code's check character, the point inside the
    # region, the enterprise registered and in scope, dates in order) answer 400 with
    # the Chinese reason per field (``errors``).
    enterprise = {"type": "object", "additionalProperties": False, "properties": {
        "credit_code": {"type": "string", "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$",
                        "description": "统一社会信用代码（GB 32100-2015，含校验位）"},
        "name": {"type": "string", "minLength": 1, "maxLength": 200}, "address": text, "industry": industry,
        "region_code": {"type": "string", "pattern": REGION_PATTERN}, **CHINA,
        "legal_rep": text, "contact_phone": text, "complaint_phone": text, "supervising_dept": text,
        "grade_override": grade, "grade_override_note": text}}
    risk_point = {"type": "object", "additionalProperties": False, "properties": {
        "name": {"type": "string", "minLength": 1}, "location_desc": text, "accident_type": text, "grade": grade,
        "method": {"type": "string", "enum": list(domain.RISK_METHODS)}, "score": {"type": "number", "minimum": 0},
        "method_params": {"type": "object"}, "control_measures": text, "controls_implemented": {"type": "boolean"},
        "responsible_person": text, "assessed_on": date}}
    hazard = {"type": "object", "additionalProperties": False, "properties": {
        "description": {"type": "string", "minLength": 1}, "level": {"type": "string", "enum": list(domain.HAZARD_LEVELS)},
        "category": text, "criterion": {"type": "string", "enum": list(domain.MAJOR_CRITERIA)},
        "source": {"type": "string", "enum": list(domain.HAZARD_SOURCES)}, "found_on": date,
        "found_by": text, "deadline": date, "resp_person": text, "measures": text,
        "funds_wan": {"type": "number", "minimum": 0}, "emergency_plan": text,
        "supervision_doc_no": text, "verification_note": text, "rectification_note": text, **CHINA}}
    hazard_required = ["description", "level", "source", "found_on"]
    return {
        "openapi": "3.0.3",
        "info": {"title": "风险一张图 数据接口", "version": "1.0",
                 "description": "企业、风险点、事故隐患的查询与闭环管理。坐标为 WGS84（EPSG:4326），距离单位为米。"},
        "servers": [{"url": "/"}],
        "security": [{"token": []}, {"session": []}],
        "paths": paths,
        "components": {
            "responses": {
                "InvalidParameter": {"description": "参数无效", **_json(error)},
                "NotFound": {"description": "未找到或不在管辖范围内", **_json(error)},
                "Forbidden": {"description": "无权或超出管辖范围", **_json(error)},
                "Conflict": {"description": "版本冲突或不允许的状态变更", **_json(error)},
                "Unauthorized": {"description": "未登录（需会话或 API 令牌）", **_json(error)},
                "TooLarge": {"description": "文件过大", **_json(error)},
            },
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "API 令牌：Authorization: Bearer gs_…"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session", "description": "网页登录会话"},
            },
            "schemas": {
                "FeatureCollection": {"type": "object", "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array", "items": {"type": "object"}},
                    "numberMatched": {"type": "integer"}, "numberReturned": {"type": "integer"},
                    "links": {"type": "array", "items": {"type": "object"}}}},
                "Enterprise": {"oneOf": [
                    {**enterprise, "required": ["credit_code", "name", "industry", "lng", "lat"]},
                    {"type": "object", "required": ["type", "properties"], "additionalProperties": False,
                     "properties": {"type": {"type": "string", "enum": ["Feature"]},
                                    "geometry": {"type": "object", "required": ["type", "coordinates"], "properties": {
                                        "type": {"type": "string", "enum": ["Point"]},
                                        "coordinates": {"type": "array", "minItems": 2, "maxItems": 3,
                                                        "items": {"type": "number"}}}},
                                    "properties": {**enterprise, "required": ["credit_code", "name", "industry"]}}}]},
                "EnterprisePatch": {**enterprise, "properties": {**enterprise["properties"], "version": version}},
                "RiskPoint": {**risk_point, "required": ["name"]},
                "NewRiskPoint": {**risk_point, "required": ["enterprise_id", "name"],
                                 "properties": {**risk_point["properties"], "enterprise_id": {"type": "integer", "minimum": 1}}},
                "RiskPointPatch": {**risk_point, "properties": {**risk_point["properties"], "version": version}},
                "Hazard": {**hazard, "required": hazard_required,
                           "properties": {**hazard["properties"], "state": {"type": "string", "enum": ["registered"]}}},
                "NewHazard": {**hazard, "required": ["enterprise_id"] + hazard_required,
                              "properties": {**hazard["properties"], "state": {"type": "string", "enum": ["registered"]},
                                             "enterprise_id": {"type": "integer", "minimum": 1}}},
                "HazardPatch": {**hazard, "properties": {**hazard["properties"], "version": version},
                                "description": "可修改的字段取决于账号角色和隐患的登记方（企业登记 / 监管部门登记）；"
                                               "无权修改的字段返回 403 并列出字段名，不写入任何内容"},
                "Transition": {"type": "object", "required": ["to_state"], "properties": {
                    "to_state": {"type": "string", "enum": list(domain.HAZARD_STATES)}, "note": text,
                    "fields": {"type": "object", "additionalProperties": False, "properties": {
                        "resp_person": text, "measures": text, "funds_wan": {"type": "number", "minimum": 0},
                        "deadline": date, "emergency_plan": text, "rectified_on": date, "verified_on": date,
                        "verification_note": text, "rectification_note": text}},
                    "version": version},
                    "description": "需版本号（version 或 If-Match）；验收人即当前账号，不能填写；"
                                   "本人记录整改完成的隐患不能由本人验收销号（403）"},
                "Summary": {"type": "object", "properties": {
                    "code": text, "name": text, "level": text,
                    "enterprises_by_grade": {"type": "object"}, "risk_points_by_grade": {"type": "object"},
                    "hazards_by_level_state": {"type": "object"}, "overdue": {"type": "integer"},
                    "supervised": {"type": "integer"}, "rectification_rate": {"type": "number", "nullable": True},
                    "weighted_risk": {"type": "integer"}, "major_risk_enterprises": {"type": "integer"},
                    "open_major_hazards": {"type": "integer"}, "overdue_hazards": {"type": "integer"},
                    "children": {"type": "array", "items": {"type": "object"}}}},
            },
        },
    }
