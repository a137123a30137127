"""Credit codes (GB 32100-2015) and Chinese datums against independent references."""

from __future__ import annotations

import random

import pytest
from pyproj import Geod

from geo_service import geo

GEOD = Geod(ellps="WGS84")

# --------------------------------------------------------------------------- credit codes

# GB 32100-2015, written out here independently of geo_service.geo.
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [3 ** i % 31 for i in range(17)]  # 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28


def expected_check(first17: str) -> str:
    total = sum(CHARSET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=False))
    return CHARSET[(31 - total % 31) % 31]


def test_weights_are_the_standard_ones():
    assert WEIGHTS == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


# Codes published by the enterprises themselves (business licences, AIGC labels).
PUBLISHED = [
    "914403001922038216",  # 华为技术有限公司
    "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
    "91110108551385082Q",  # 小米科技有限责任公司
    "91350100M000100Y43",  # the example of GB 32100-2015 itself
]


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_are_valid(code):
    assert expected_check(code[:17]) == code[17]
    assert geo.credit_code_valid(code)
    assert geo.credit_code_problem(code) is None


@pytest.mark.parametrize("code", PUBLISHED)
def test_any_other_check_character_is_rejected_with_the_right_one(code):
    for ch in CHARSET:
        if ch != code[17]:
            assert geo.credit_code_problem(code[:17] + ch) == f"校验位错误（应为 {code[17]}）"


def test_random_codes_agree_with_the_independent_rule():
    rng = random.Random(1)
    for _ in range(2000):
        first17 = "91" + f"{rng.randrange(110000, 660000):06d}" + "".join(rng.choice(CHARSET) for _ in range(9))
        assert geo.credit_check_char(first17) == expected_check(first17)
        assert geo.credit_code_valid(first17 + expected_check(first17))


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91440300192203821", "长度应为18位，实为17位"),
        ("9144030019220382166", "长度应为18位，实为19位"),
        ("91440300I92203821O", "含有非法字符：IO"),  # I and O are not in the charset
        ("9144O3001922038216", "含有非法字符：O"),
        ("91A40300192203821" + expected_check("91A40300192203821"), "第3–8位应为登记管理机关行政区划码"),
    ],
)
def test_malformed_codes(code, reason):
    assert geo.credit_code_problem(code) == reason
    assert not geo.credit_code_valid(code)


# --------------------------------------------------------------------------- datums

# Forward transforms published with open-source converters (the forward
# formulas are exact; our job is the inverse):
#   googollee/eviltransform python/test.py: (wgsLat, wgsLng) → (gcjLat, gcjLng)
EVILTRANSFORM_WGS_GCJ = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # 上海
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # 深圳
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # 北京
]
#   wandergis/coordtransform test/app.js: wgs84togcj02(116.404, 39.915)
COORDTRANSFORM_WGS_GCJ = ((116.404, 39.915), (116.41024449916938, 39.91640428150164))
#   wandergis/coordtransform test/app.js: gcj02tobd09(116.404, 39.915)
COORDTRANSFORM_GCJ_BD = ((116.404, 39.915), (116.41036949371029, 39.92133699351021))


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM_WGS_GCJ + [COORDTRANSFORM_WGS_GCJ])
def test_gcj02_to_wgs84_recovers_the_published_point(wgs, gcj):
    got = geo.to_wgs84(*gcj, "gcj02")
    assert metres(got, wgs) < 0.01  # centimetre: the inverse is iterated to convergence
    assert metres(gcj, wgs) > 100  # while the raw GCJ-02 point is hundreds of metres off


def test_bd09_to_wgs84_goes_through_the_published_gcj02_point():
    gcj, bd = COORDTRANSFORM_GCJ_BD
    via_bd = geo.to_wgs84(*bd, "bd09")
    via_gcj = geo.to_wgs84(*gcj, "gcj02")
    assert metres(via_bd, via_gcj) < 0.01
    assert metres(bd, via_gcj) > 500  # BD-09 adds a second offset of several hundred metres


def test_cgcs2000_and_wgs84_are_taken_as_equal():
    assert geo.to_wgs84(103.38, 23.36, "cgcs2000") == (103.38, 23.36)
    assert geo.to_wgs84(103.38, 23.36, "wgs84") == (103.38, 23.36)


def test_unknown_datum():
    with pytest.raises(ValueError, match="unknown datum 'utm'"):
        geo.to_wgs84(103.38, 23.36, "utm")


def test_geometry_conversion_moves_every_vertex():
    from shapely.geometry import Polygon

    wgs = [w for w, _ in EVILTRANSFORM_WGS_GCJ]
    gcj_ring = Polygon([g for _, g in EVILTRANSFORM_WGS_GCJ])
    converted = geo.geometry_to_wgs84(gcj_ring, "gcj02")
    for got, want in zip(list(converted.exterior.coords)[:3], wgs, strict=False):
        assert metres(got, want) < 0.01


def test_in_china_box():
    assert geo.in_china(103.38, 23.36)  # 蒙自
    assert geo.in_china(87.6, 43.8)  # 乌鲁木齐
    assert not geo.in_china(2.35, 48.86)  # Paris
    assert not geo.in_china(23.36, 103.38)  # swapped
