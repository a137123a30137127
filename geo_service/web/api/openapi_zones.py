"""The OpenAPI paths of the enterprise's own 四色图 (risk zones and the plant layout),
merged into :func:`geo_service.web.api.openapi.openapi_document`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["zone_paths"]


def zone_paths(param: Callable[..., dict[str, Any]], json: Callable[..., dict[str, Any]],
               ref: Callable[[str], dict[str, str]]) -> dict[str, Any]:
    """``/api/enterprises/{id}/zones…``, ``/api/zones/{id}`` and ``/api/enterprises/{id}/layout…``."""
    text = {"type": "string"}
    grade = {"type": "string", "description": "1–4、红/橙/黄/蓝或重大/较大/一般/低风险"}
    zone = {"type": "object", "properties": {
        "name": text, "floor": text, "grade": {**grade, "description": "显式等级；留空则取所含风险点最高等级"},
        "grade_inherent": grade, "grade_residual": grade, "accident_types": text, "control_measures": text,
        "emergency_measures": text, "responsible_person": text,
        "geometry": {"type": "object", "description": "GeoJSON Polygon/MultiPolygon（WGS84）"},
        "risk_point_ids": {"type": "array", "items": {"type": "integer"}},
        "confirm_repair": {"type": "boolean", "description": "确认使用 ST_MakeValid 修复后的形状"},
        "version": {"type": "integer"}}}
    eid = param("enterprise_id", "企业编号", {"type": "integer"}, where="path")
    zid = param("zone_id", "风险区域编号", {"type": "integer"}, where="path")
    if_match = param("If-Match", "版本号 ETag（或请求体 version）", {"type": "string"}, where="header")
    errors = {"400": ref("responses/InvalidParameter"), "403": ref("responses/Forbidden"),
              "404": ref("responses/NotFound"), "409": ref("responses/Conflict")}
    repaired = {"422": {"description": "多边形无效：message 说明原因，repaired 为修复后的几何，确认后加 confirm_repair=true 重新提交"}}
    upload = {"multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}, "version": {"type": "integer"}}}}}
    return {
        "/api/enterprises/{enterprise_id}/zones": {
            "get": {"summary": "企业的风险区域（四色图）、全部风险点及平面图", "parameters": [eid],
                    "responses": {"200": {"description": "GeoJSON FeatureCollection"}, "404": ref("responses/NotFound")}},
            "post": {"summary": "绘制风险区域（距企业位置超过 ZONE_MAX_DISTANCE_M 拒绝；与其他区域重叠时警告）",
                     "parameters": [eid], "requestBody": {"required": True, **json(zone)},
                     "responses": {"201": {"description": "已保存（warnings 列出重叠）"}, **repaired, **errors}},
        },
        "/api/enterprises/{enterprise_id}/zones/import": {"post": {
            "summary": "从 GeoJSON、GeoPackage、Shapefile（.zip）或 KML 导入风险区域（逐要素报错）",
            "parameters": [eid], "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"], "properties": {
                    "file": {"type": "string", "format": "binary"}, "skip_bad": {"type": "string"},
                    "dry_run": {"type": "string"}}}}}},
            "responses": {"200": {"description": "导入结果"}, "422": {"description": "有错误，未写入"}, **errors}}},
        "/api/zones/{zone_id}": {
            "get": {"summary": "风险区域", "parameters": [zid],
                    "responses": {"200": {"description": "GeoJSON Feature（ETag 为版本号）"}, "404": ref("responses/NotFound")}},
            "patch": {"summary": "修改风险区域", "parameters": [zid, if_match], "requestBody": {"required": True, **json(zone)},
                      "responses": {"200": {"description": "已保存"}, **repaired, **errors}},
            "delete": {"summary": "删除风险区域（其风险点保留）", "parameters": [zid, if_match],
                       "responses": {"204": {"description": "已删除"}, **errors}},
        },
        "/api/enterprises/{enterprise_id}/layout": {
            "get": {"summary": "厂区平面图信息与四角坐标", "parameters": [eid],
                    "responses": {"200": {"description": "平面图"}, "404": ref("responses/NotFound")}},
            "post": {"summary": "上传（或凭 version 替换）厂区平面图：PNG、JPEG 或 PDF（首页栅格化），按内容判断",
                     "parameters": [eid], "requestBody": {"required": True, "content": upload},
                     "responses": {"201": {"description": "已保存"}, "413": {"description": "文件过大"}, **errors}},
            "patch": {"summary": "放置平面图：corners（3 个：左上、右上、左下；或 4 个）或 control_points（3 个）",
                      "parameters": [eid, if_match], "requestBody": {"required": True, **json({"type": "object"})},
                      "responses": {"200": {"description": "已保存"}, **errors}},
            "delete": {"summary": "删除平面图", "parameters": [eid, if_match],
                       "responses": {"204": {"description": "已删除"}, **errors}},
        },
        "/api/enterprises/{enterprise_id}/layout/image": {"get": {
            "summary": "平面图图片", "parameters": [eid],
            "responses": {"200": {"description": "PNG 或 JPEG"}, "404": ref("responses/NotFound")}}},
    }
