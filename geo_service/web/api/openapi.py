"""The OpenAPI 3 description of ``/api/``, written by hand, checked by a test
against the application's URL map (every ``/api/`` route is described)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ... import domain
from ...queries.filters import MAX_OFFSET
from .openapi_zones import zone_paths

__all__ = ["openapi_document"]


def _param(name: str, description: str, schema: dict[str, Any], *, where: str = "query",
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{name}"}


def _json(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"content": {media: {"schema": schema}}}


def openapi_document(config: Mapping[str, Any]) -> dict[str, Any]:
    """The document; limits come from the running configuration."""
    max_page = int(config.get("MAX_PAGE_SIZE", 1000))
    max_radius = float(config.get("MAX_RADIUS_M", 100_000))
    max_bbox = float(config.get("MAX_BBOX_AREA_DEG2", 400))

    filters = [
        _param("region", "行政区划代码（6/9/12 位），含全部下级", {"type": "string", "pattern": "^[0-9]{6}([0-9]{3}([0-9]{3})?)?$"}),
        _param("industry", "行业领域代码或中文名；trade 含 trade.*",
               {"type": "string", "enum": [i.code for i in domain.INDUSTRIES]}),
        _param("grade", "风险等级，逗号分隔：1–4、red/orange/yellow/blue 或 红/橙/黄/蓝", {"type": "string"}),
        _param("hazard_level", "隐患级别", {"type": "string", "enum": list(domain.HAZARD_LEVELS)}),
        _param("hazard_state", "隐患状态，逗号分隔", {"type": "string"}),
        _param("hazard_source", "隐患来源", {"type": "string", "enum": list(domain.HAZARD_SOURCES)}),
        _param("overdue", "是否逾期（true/false）", {"type": "boolean"}),
        _param("month", "发现月份 YYYY-MM", {"type": "string", "pattern": "^[0-9]{4}-[0-9]{1,2}$"}),
        _param("found_from", "发现日期起", {"type": "string", "format": "date"}),
        _param("found_to", "发现日期止", {"type": "string", "format": "date"}),
        _param("bbox", f"west,south,east,north（WGS84 度；面积不超过 {max_bbox:g} 平方度）",
               {"type": "string"}),
        _param("q", "名称或描述中的文字", {"type": "string", "maxLength": 100}),
        _param("enterprise_id", "某一企业", {"type": "integer", "minimum": 1}),
    ]
    paging = [
        _param("limit", f"每页条数（1–{max_page}）", {"type": "integer", "minimum": 1, "maximum": max_page, "default": 100}),
        _param("offset", "跳过条数", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}),
        _param("format", "geojson（默认）、json，或下载 csv/xlsx/gpkg/shp",
               {"type": "string", "enum": ["geojson", "json", "csv", "xlsx", "gpkg", "shp"]}),
        _param("download", "1：以附件下载整份筛选结果", {"type": "string"}),
    ]
    point = [
        _param("lon", "经度（WGS84）", {"type": "number", "minimum": -180, "maximum": 180}),
        _param("lat", "纬度（WGS84）", {"type": "number", "minimum": -90, "maximum": 90}),
    ]
    radius = _param("radius_m", f"半径（米，0 < r ≤ {max_radius:g}）",
                    {"type": "number", "exclusiveMinimum": 0, "maximum": max_radius})
    list_responses = {
        "200": {"description": "GeoJSON FeatureCollection（或 JSON / 文件）", **_json(_ref("schemas/FeatureCollection"), "application/geo+json")},
        "400": _ref("responses/InvalidParameter"),
    }
    record_responses = {
        "200": {"description": "记录（ETag 为版本号）", **_json({"type": "object"})},
        "404": _ref("responses/NotFound"),
    }
    write_responses = {
        "400": _ref("responses/InvalidParameter"),
        "403": _ref("responses/Forbidden"),
        "404": _ref("responses/NotFound"),
        "409": _ref("responses/Conflict"),
    }
    polygon_body = {"required": True, **_json({"type": "object", "description": "GeoJSON Polygon/MultiPolygon，或其 Feature，或 {\"polygon\": …}"})}

    def lst(summary: str, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {"get": {"summary": summary, "parameters": filters + paging + (extra or []), "responses": list_responses}}

    def search(summary: str) -> dict[str, Any]:
        return {"post": {"summary": summary, "parameters": filters + paging, "requestBody": polygon_body,
                         "responses": list_responses}}

    def id_param(name: str) -> dict[str, Any]:
        return _param(name, "编号", {"type": "integer"}, where="path")

    def write(summary: str, schema: str, status: str = "201") -> dict[str, Any]:
        return {"summary": summary, "parameters": [_param("datum", "坐标系", {"type": "string", "enum": ["wgs84", "cgcs2000", "gcj02", "bd09"]})],
                "requestBody": {"required": True, **_json(_ref(f"schemas/{schema}"))},
                "responses": {status: {"description": "已保存", **_json({"type": "object"})}, **write_responses}}

    def patch(summary: str, schema: str) -> dict[str, Any]:
        op = write(summary, schema, "200")
        op["parameters"] = op["parameters"] + [_param("If-Match", "版本号 ETag（或请求体 version）", {"type": "string"}, where="header")]
        return op

    paths: dict[str, Any] = {
        "/api/": {"get": {"summary": "接口目录", "responses": {"200": {"description": "链接"}}}},
        "/api/openapi.json": {"get": {"summary": "本文档", "responses": {"200": {"description": "OpenAPI 3"}}}},
        "/api/enterprises": {
            **lst("企业列表；给 lon/lat/radius_m 为半径查询（按距离排序，返回 distance_m），给 lon/lat/k 为最近 k 家",
                  point + [radius, _param("k", "最近的 k 家", {"type": "integer", "minimum": 1, "maximum": max_page})]),
            "post": write("登记企业（JSON 字段或 GeoJSON Feature）", "Enterprise"),
        },
        "/api/enterprises/search": search("多边形内的企业"),
        "/api/enterprises/{enterprise_id}": {
            "get": {"summary": "企业详情（风险点、未销号隐患）", "parameters": [id_param("enterprise_id")], "responses": record_responses},
            "patch": {**patch("修改企业", "Enterprise"), "parameters": [id_param("enterprise_id")] + patch("", "Enterprise")["parameters"]},
        },
        "/api/enterprises/{enterprise_id}/nearby": {"get": {
            "summary": "企业周边（外部安全距离）：半径内的其他企业", "parameters": [id_param("enterprise_id"), radius] + filters + paging,
            "responses": {**list_responses, "404": _ref("responses/NotFound")}}},
        "/api/enterprises/{enterprise_id}/risk-points": {"post": {**write("为企业新增风险点", "RiskPoint"), "parameters": [id_param("enterprise_id")]}},
        "/api/enterprises/{enterprise_id}/hazards": {"post": {**write("为企业登记隐患", "Hazard"), "parameters": [id_param("enterprise_id")]}},
        "/api/risk-points": {**lst("风险点列表（grade 为风险点自身等级）"), "post": write("新增风险点（请求体含 enterprise_id）", "RiskPoint")},
        "/api/risk-points/search": search("多边形内的风险点"),
        "/api/risk-points/{risk_point_id}": {
            "get": {"summary": "风险点", "parameters": [id_param("risk_point_id")], "responses": record_responses},
            "patch": {**patch("修改风险点", "RiskPoint"), "parameters": [id_param("risk_point_id"),
                      _param("If-Match", "版本号", {"type": "string"}, where="header")]},
        },
        "/api/hazards": {**lst("隐患列表"), "post": write("登记隐患（请求体含 enterprise_id）", "Hazard")},
        "/api/hazards/search": search("多边形内的隐患"),
        "/api/hazards/{hazard_id}": {
            "get": {"summary": "隐患详情（流转记录、佐证材料）", "parameters": [id_param("hazard_id")], "responses": record_responses},
            "patch": {**patch("修改隐患（不含状态）", "Hazard"), "parameters": [id_param("hazard_id")] + patch("", "Hazard")["parameters"]},
        },
        "/api/hazards/{hazard_id}/transition": {"post": {
            "summary": "隐患状态变更：" + "；".join(f"{domain.HAZARD_STATES[a]}→{domain.HAZARD_STATES[b]}（{v}）" for (a, b), v in domain.TRANSITIONS.items()),
            "parameters": [id_param("hazard_id"), _param("If-Match", "版本号", {"type": "string"}, where="header")],
            "requestBody": {"required": True, **_json(_ref("schemas/Transition"))},
            "responses": {"200": {"description": "变更后的隐患"}, **write_responses}}},
        "/api/hazards/{hazard_id}/evidence": {
            "get": {"summary": "佐证材料列表", "parameters": [id_param("hazard_id")], "responses": record_responses},
            "post": {"summary": "上传佐证材料（JPEG/PNG/PDF/DOCX/XLSX，按内容判断类型）", "parameters": [id_param("hazard_id")],
                     "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                         "type": "object", "required": ["file"], "properties": {
                             "file": {"type": "string", "format": "binary"},
                             "kind": {"type": "string", "enum": ["before", "after", "plan", "acceptance", "other"]}}}}}},
                     "responses": {"201": {"description": "已保存（sha256）"}, "413": {"description": "文件过大"}, **write_responses}},
        },
        "/api/evidence/{evidence_id}": {"get": {"summary": "下载佐证材料", "parameters": [id_param("evidence_id")],
                                                "responses": {"200": {"description": "文件"}, "404": _ref("responses/NotFound")}}},
        "/api/regions": {"get": {"summary": "行政区划列表", "parameters": [
            _param("parent", "上级代码", {"type": "string"}), _param("level", "级别", {"type": "string", "enum": ["province", "prefecture", "county", "township"]}),
            _param("bbox", "范围", {"type": "string"}), _param("format", "json 或 geojson（含边界）", {"type": "string", "enum": ["json", "geojson"]})],
            "responses": {"200": {"description": "列表"}, "400": _ref("responses/InvalidParameter")}}},
        "/api/regions/lookup": {"get": {"summary": "点所在的行政区划（由下往上）", "parameters": point,
                                        "responses": {"200": {"description": "区划"}, "400": _ref("responses/InvalidParameter")}}},
        "/api/regions/{code}": {"get": {"summary": "行政区划（含边界）", "parameters": [_param("code", "代码", {"type": "string"}, where="path")],
                                        "responses": {"200": {"description": "GeoJSON Feature"}, "404": _ref("responses/NotFound")}}},
        "/api/regions/{code}/summary": {"get": {
            "summary": "区划统计：企业和风险点按等级、隐患按级别和状态、逾期、挂牌督办、整改率，并含各下级",
            "parameters": [_param("code", "代码", {"type": "string"}, where="path"),
                           _param("as_of", "统计日期（默认今天）", {"type": "string", "format": "date"}),
                           _param("children", "0：不含下级", {"type": "string"})],
            "responses": {"200": {"description": "统计", **_json(_ref("schemas/Summary"))}, "404": _ref("responses/NotFound")}}},
        "/api/regions/{code}/children": {"get": {
            "summary": "下级区划边界及其统计（区域热度）",
            "parameters": [_param("code", "代码", {"type": "string"}, where="path"),
                           _param("as_of", "统计日期", {"type": "string", "format": "date"})],
            "responses": {"200": {"description": "GeoJSON FeatureCollection"}, "404": _ref("responses/NotFound")}}},
        "/api/returns/{region}/{month}": {"get": {
            "summary": "统计月报数字：统计表第12–14项、调度表总体情况、分行业统计表（当年1月1日至该月末累计）",
            "parameters": [_param("region", "行政区划代码", {"type": "string"}, where="path"),
                           _param("month", "月份 YYYY-MM", {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                                  where="path"),
                           _param("unit", "填报单位", {"type": "string"})],
            "responses": {"200": {"description": "月报数字（JSON）"}, "400": _ref("responses/InvalidParameter"),
                          "404": _ref("responses/NotFound")}}},
        "/api/returns/archive/{archive_id}": {"get": {
            "summary": "已提交（冻结）的月报：归档时的数字及与当前重新计算的差异",
            "parameters": [_param("archive_id", "归档编号", {"type": "integer"}, where="path")],
            "responses": {"200": {"description": "归档数字与差异"}, "404": _ref("responses/NotFound")}}},
        "/api/returns/jobs/{job_id}": {"get": {
            "summary": "月报生成任务的进度",
            "parameters": [_param("job_id", "任务编号", {"type": "string"}, where="path")],
            "responses": {"200": {"description": "进度（done/total/state）"}, "404": _ref("responses/NotFound")}}},
    }
    paths.update(zone_paths(_param, _json, _ref))
    error = {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string"}, "message": {"type": "string"},
        "parameter": {"type": "string"}, "reason": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}}}}
    text = {"type": "string"}
    date = {"type": "string", "format": "date"}
    return {
        "openapi": "3.0.3",
        "info": {"title": "风险一张图 数据接口", "version": "1.0",
                 "description": "企业、风险点、事故隐患的查询与闭环管理。坐标为 WGS84（EPSG:4326），距离单位为米。"},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "responses": {
                "InvalidParameter": {"description": "参数无效", **_json(error)},
                "NotFound": {"description": "未找到或不在管辖范围内", **_json(error)},
                "Forbidden": {"description": "无权或超出管辖范围", **_json(error)},
                "Conflict": {"description": "版本冲突或不允许的状态变更", **_json(error)},
            },
            "schemas": {
                "FeatureCollection": {"type": "object", "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array", "items": {"type": "object"}},
                    "numberMatched": {"type": "integer"}, "numberReturned": {"type": "integer"},
                    "links": {"type": "array", "items": {"type": "object"}}}},
                "Enterprise": {"type": "object", "properties": {
                    "credit_code": text, "name": text, "address": text, "industry": text, "region_code": text,
                    "lng": {"type": "number"}, "lat": {"type": "number"}, "legal_rep": text, "contact_phone": text,
                    "complaint_phone": text, "supervising_dept": text, "grade_override": text,
                    "grade_override_note": text, "version": {"type": "integer"}}},
                "RiskPoint": {"type": "object", "properties": {
                    "enterprise_id": {"type": "integer"}, "name": text, "location_desc": text, "accident_type": text,
                    "grade": text, "method": {"type": "string", "enum": list(domain.RISK_METHODS)},
                    "score": {"type": "number"}, "method_params": {"type": "object"}, "control_measures": text,
                    "controls_implemented": {"type": "boolean"}, "responsible_person": text, "assessed_on": date,
                    "version": {"type": "integer"}}},
                "Hazard": {"type": "object", "properties": {
                    "enterprise_id": {"type": "integer"}, "description": text,
                    "level": {"type": "string", "enum": list(domain.HAZARD_LEVELS)}, "category": text,
                    "criterion": {"type": "string", "enum": list(domain.MAJOR_CRITERIA)},
                    "source": {"type": "string", "enum": list(domain.HAZARD_SOURCES)}, "found_on": date,
                    "found_by": text, "deadline": date, "resp_person": text, "measures": text,
                    "funds_wan": {"type": "number", "minimum": 0}, "emergency_plan": text,
                    "supervision_doc_no": text, "verification_note": text, "rectification_note": text,
                    "lng": {"type": "number"}, "lat": {"type": "number"},
                    "version": {"type": "integer"}},
                    "description": "可修改的字段取决于账号角色和隐患的登记方（企业登记 / 监管部门登记）；"
                                   "无权修改的字段返回 403 并列出字段名，不写入任何内容"},
                "Transition": {"type": "object", "required": ["to_state"], "properties": {
                    "to_state": {"type": "string", "enum": list(domain.HAZARD_STATES)}, "note": text,
                    "fields": {"type": "object", "description": "五落实、rectified_on、rectification_note、verified_on、"
                               "verification_note（验收人即当前账号，不能填写；本人记录整改完成的隐患不能由本人验收销号，403）"},
                    "version": {"type": "integer"}}},
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
