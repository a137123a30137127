"""The demo register: real boundaries of 红河哈尼族彝族自治州, invented enterprises.

:func:`build` makes a deterministic synthetic register from a seed and a
``today`` (every random draw comes from one seeded ``random.Random``; every
date is relative to ``today``): about 2,000 enterprises placed inside the 13
counties (denser around the county seats, most around 蒙自/个旧/开远/弥勒),
with a realistic industry mix, valid 统一社会信用代码, 1–5 risk points each
(LEC or LS scores consistent with their grade), and hazards found over the
last 12 months in every state with consistent dates and event histories.

The register has a history (:func:`_history`, from a random stream of its own,
so the rows above are the same with or without it): each enterprise was
registered 15–400 days before the earliest of its risk points' assessments,
its hazards and the start of the 双重预防 tasks (a few without risk points or
hazards were registered this month), each risk point was recorded on the
afternoon of its assessment, and about 3 % of the graded enterprises had
their main risk point re-assessed this month to a neighbouring grade.
:func:`load` replays that history in order and dates the grade events the
triggers write at the moment each step happened, so the map "as of" last
month shows the enterprises registered by then with the grades they had
then, and differs from today's.  :func:`load` writes it with bulk inserts;
:func:`load_if_empty` is what ``geo-service serve`` calls.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import logging
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from shapely.geometry import Point, shape
from shapely.prepared import prep
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from tqdm import tqdm

from .. import domain, geo
from ..db import make_engine
from ..domain import Actor
from ..models import Enterprise, Hazard, HazardEvent, RiskPoint
from . import demo_dual
from .importers import RegionRecord, _multipolygon, import_regions
from .validation import default_criterion

__all__ = ["DEFAULT_SEED", "DemoRegister", "DemoCounts", "regions", "build", "load", "load_if_empty",
           "grade_event_mark", "date_grade_events"]

LOGGER = logging.getLogger(__name__)

DEFAULT_SEED = 2532500
PREFECTURE = "532500"
DEMO_ACTOR = Actor("演示数据")
_BEIJING = dt.timezone(dt.timedelta(hours=8))

T = TypeVar("T")

# County seats (WGS84) and how many of the district's enterprises each county has (weights).
_COUNTIES: dict[str, tuple[str, float, float, float]] = {
    # code: (short name, seat lng, seat lat, weight)
    "532501": ("个旧", 103.160, 23.360, 14),
    "532502": ("开远", 103.267, 23.714, 12),
    "532503": ("蒙自", 103.384, 23.396, 16),
    "532504": ("弥勒", 103.415, 24.411, 14),
    "532523": ("屏边", 103.687, 22.983, 3),
    "532524": ("建水", 102.827, 23.625, 9),
    "532525": ("石屏", 102.494, 23.705, 5),
    "532527": ("泸西", 103.766, 24.531, 6),
    "532528": ("元阳", 102.835, 23.225, 4),
    "532529": ("红河", 102.421, 23.369, 4),
    "532530": ("金平", 103.228, 22.780, 4),
    "532531": ("绿春", 102.392, 23.010, 3),
    "532532": ("河口", 103.940, 22.530, 6),
}

# Industry mix (weights) and, per industry, how risky it is: the enterprise
# grade mix 红/橙/黄/蓝 the industry is drawn from.
_BASE_MIX = (0.03, 0.12, 0.35, 0.50)
_RISKY_MIX = (0.10, 0.25, 0.40, 0.25)
_MILD_MIX = (0.01, 0.06, 0.30, 0.63)
_INDUSTRY_MIX: dict[str, tuple[float, tuple[float, float, float, float]]] = {
    "trade.metallurgy": (3, _BASE_MIX),
    "trade.nonferrous": (7, _BASE_MIX),
    "trade.building_materials": (9, _BASE_MIX),
    "trade.machinery": (7, _MILD_MIX),
    "trade.light": (8, _MILD_MIX),
    "trade.textile": (2, _MILD_MIX),
    "trade.tobacco": (1, _MILD_MIX),
    "trade.commerce": (12, _MILD_MIX),
    "hazchem": (8, _RISKY_MIX),
    "mine": (7, _RISKY_MIX),
    "coal": (1, _RISKY_MIX),
    "fireworks": (3, _RISKY_MIX),
    "construction": (10, _BASE_MIX),
    "transport": (6, _BASE_MIX),
    "gas": (4, _RISKY_MIX),
    "crowded": (10, _MILD_MIX),
    "other": (2, _MILD_MIX),
}
# Local geology: tin and other metals around 个旧/蒙自/金平, the coal of 开远 (小龙潭), 弥勒, 泸西.
_COUNTY_INDUSTRY_FACTOR = {
    ("532501", "trade.nonferrous"): 4.0, ("532501", "mine"): 2.5, ("532503", "trade.nonferrous"): 2.0,
    ("532503", "mine"): 1.5, ("532530", "mine"): 2.5, ("532502", "hazchem"): 1.8,
    ("532504", "trade.tobacco"): 4.0, ("532504", "trade.light"): 1.5,
}
_COAL_COUNTIES = {"532502", "532504", "532527"}

_SURNAMES = ("李王张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
             "余杜叶程苏魏吕丁任沈姚卢普白龙陶段杞施钱")
_GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华兰红文斌波宇浩凯健俊帆鹏辉"
          "云南福顺志国建忠荣成德光跃兴琼蕾梅燕萍春林海")
_BRAND = ("鑫", "达", "宏", "泰", "顺", "源", "华", "兴", "隆", "盛", "昌", "丰", "安", "恒", "福", "瑞",
          "祥", "金", "锦", "通", "汇", "诚", "信", "和", "亿", "滇", "锡", "红", "润", "嘉", "宝", "益",
          "永", "康", "新", "博", "德", "联", "众", "远", "鼎", "峰", "星", "辰", "天", "云", "南", "泽")
_NAME_FORMS: dict[str, tuple[str, ...]] = {
    "trade.metallurgy": ("{b}钢铁有限公司", "{b}冶金有限责任公司", "{b}铁合金厂", "{b}铸造有限公司"),
    "trade.nonferrous": ("{b}锡业有限公司", "{b}有色金属冶炼有限公司", "{b}铅锌冶炼厂", "{b}铜业有限公司",
                         "{b}锑业有限公司"),
    "trade.building_materials": ("{b}水泥有限公司", "{b}建材有限公司", "{b}商品混凝土有限公司",
                                 "{b}砖瓦厂", "{b}石材加工厂", "{b}新型墙材有限公司"),
    "trade.machinery": ("{b}机械制造有限公司", "{b}机电设备有限公司", "{b}汽车修理厂", "{b}农机制造厂"),
    "trade.light": ("{b}食品有限公司", "{b}酒业有限公司", "{b}糖业有限公司", "{b}纸业有限公司",
                    "{b}塑料制品厂", "{b}茶业有限公司", "{b}木业有限公司"),
    "trade.textile": ("{b}纺织有限公司", "{b}服装厂", "{b}丝绸有限公司"),
    "trade.tobacco": ("{b}烟叶复烤厂", "{b}烟叶收购站"),
    "trade.commerce": ("{b}商贸有限公司", "{b}物流仓储有限公司", "{b}超市", "{b}百货有限公司",
                       "{b}农资经营部"),
    "hazchem": ("{b}化工有限公司", "{b}加油站", "{b}危险化学品经营部", "{b}磷化工有限责任公司",
                "{b}化学试剂有限公司", "{b}气体有限公司"),
    "mine": ("{b}矿业有限公司", "{b}采石场", "{b}锡矿", "{b}石灰石矿", "{b}砂石料场"),
    "coal": ("{b}煤矿", "{b}煤业有限公司"),
    "fireworks": ("{b}烟花爆竹批发有限公司", "{b}烟花爆竹零售点"),
    "construction": ("{b}建筑工程有限公司", "{b}建设集团有限公司", "{b}路桥工程有限公司",
                     "{b}安装工程有限公司"),
    "transport": ("{b}运输有限公司", "{b}客运站", "{b}物流有限公司", "{b}汽车运输有限责任公司"),
    "gas": ("{b}燃气有限公司", "{b}液化石油气储配站", "{b}天然气有限公司"),
    "crowded": ("第{n}中学", "{b}小学", "{b}农贸市场", "{b}大酒店", "{b}购物中心", "{b}幼儿园",
                "{b}宾馆", "{b}KTV"),
    "other": ("{b}服务有限公司", "{b}仓储有限公司"),
}
# (risk point name, location, accident type) per industry
_RISK_POINTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "trade.metallurgy": (("高炉炉前作业区", "炼铁车间", "灼烫"), ("煤气柜", "煤气区域", "中毒和窒息"),
                         ("铁水吊运", "铸造车间", "起重伤害"), ("转炉", "炼钢车间", "爆炸"),
                         ("配电室", "动力车间", "触电")),
    "trade.nonferrous": (("熔炼炉", "冶炼车间", "灼烫"), ("烟气制酸系统", "制酸车间", "中毒和窒息"),
                         ("电解槽", "电解车间", "触电"), ("熔融金属吊运", "冶炼车间", "起重伤害"),
                         ("尾气收尘系统", "收尘车间", "其他爆炸")),
    "trade.building_materials": (("回转窑", "烧成车间", "灼烫"), ("煤粉制备系统", "煤磨车间", "其他爆炸"),
                                 ("水泥筒库", "储库", "中毒和窒息"), ("破碎机", "原料车间", "机械伤害"),
                                 ("搅拌站", "生产区", "机械伤害")),
    "trade.machinery": (("冲压车间", "冲压线", "机械伤害"), ("喷漆房", "涂装车间", "火灾"),
                        ("桥式起重机", "装配车间", "起重伤害"), ("焊接作业区", "焊接车间", "触电"),
                        ("空压机房", "动力站", "容器爆炸")),
    "trade.light": (("锅炉房", "动力车间", "锅炉爆炸"), ("粉尘涉爆车间", "粉碎车间", "其他爆炸"),
                    ("液氨制冷机房", "冷库", "中毒和窒息"), ("配电室", "动力车间", "触电"),
                    ("成品仓库", "仓储区", "火灾")),
    "trade.textile": (("纺纱车间", "生产区", "火灾"), ("原料仓库", "仓储区", "火灾"),
                      ("梳棉机", "生产区", "机械伤害")),
    "trade.tobacco": (("复烤机组", "复烤车间", "机械伤害"), ("烟叶仓库", "仓储区", "火灾"),
                      ("锅炉房", "动力车间", "锅炉爆炸")),
    "trade.commerce": (("仓库", "仓储区", "火灾"), ("配电室", "后勤区", "触电"),
                       ("货物装卸区", "物流区", "车辆伤害")),
    "hazchem": (("储罐区", "罐区", "火灾"), ("装卸站台", "装卸区", "爆炸"),
                ("反应釜", "生产装置区", "中毒和窒息"), ("危险化学品仓库", "仓储区", "火灾"),
                ("加油区", "站区", "火灾")),
    "mine": (("采场", "露天采场", "坍塌"), ("尾矿库", "尾矿库区", "坍塌"), ("炸药库", "爆破器材库", "放炮"),
             ("提升系统", "主井", "起重伤害"), ("排土场", "排土场", "坍塌")),
    "coal": (("采煤工作面", "井下", "冒顶片帮"), ("掘进工作面", "井下", "瓦斯爆炸"),
             ("主通风机", "地面风机房", "中毒和窒息"), ("井下变电所", "井下", "触电"),
             ("主斜井提升", "主斜井", "运输伤害")),
    "fireworks": (("成品仓库", "库区", "爆炸"), ("装卸作业区", "库区", "爆炸"), ("零售展示区", "店面", "火灾")),
    "construction": (("深基坑", "施工现场", "坍塌"), ("高大模板支撑", "施工现场", "坍塌"),
                     ("塔式起重机", "施工现场", "起重伤害"), ("外脚手架", "施工现场", "高处坠落"),
                     ("施工临时用电", "施工现场", "触电")),
    "transport": (("客运车辆", "车场", "车辆伤害"), ("车辆维修车间", "维修区", "机械伤害"),
                  ("危险货物运输车辆", "车场", "火灾"), ("候车大厅", "站房", "火灾")),
    "gas": (("液化石油气储罐区", "罐区", "爆炸"), ("充装间", "生产区", "爆炸"), ("调压站", "站区", "火灾"),
            ("中压管网", "输配系统", "爆炸")),
    "crowded": (("厨房", "后厨", "火灾"), ("配电室", "后勤区", "触电"), ("人员疏散通道", "公共区域", "其他伤害"),
                ("消防控制室", "后勤区", "火灾"), ("锅炉房", "后勤区", "锅炉爆炸")),
    "other": (("配电室", "后勤区", "触电"), ("仓库", "仓储区", "火灾")),
}
_GENERAL_HAZARDS = (
    ("灭火器压力不足、未按期检验", "消防安全"), ("配电箱未可靠接地", "用电安全"),
    ("安全警示标志缺失", "现场管理"), ("作业人员未佩戴劳动防护用品", "作业行为"),
    ("安全教育培训记录不全", "基础管理"), ("应急预案未按规定演练", "基础管理"),
    ("特种作业人员操作证过期", "基础管理"), ("转动部位防护罩缺失", "设备设施"),
    ("消防通道堆放杂物", "消防安全"), ("电气线路私拉乱接", "用电安全"),
    ("安全出口指示标志损坏", "消防安全"), ("设备检修未执行挂牌上锁", "作业行为"),
    ("有限空间未设置警示标识", "现场管理"), ("气瓶未固定、未分类存放", "设备设施"),
    ("隐患排查治理记录不完整", "基础管理"), ("应急照明灯不亮", "消防安全"),
    ("防爆区域使用非防爆电器", "设备设施"), ("安全阀未按期校验", "特种设备"),
)
_MAJOR_HAZARDS: dict[str, tuple[str, ...]] = {
    "trade": ("粉尘爆炸危险场所设置在非框架结构的多层建（构）筑物内", "有限空间作业未执行审批制度",
              "煤气区域未设置固定式一氧化碳浓度监测报警装置", "熔融金属吊运未使用冶金铸造起重机"),
    "hazchem": ("涉及重点监管危险化工工艺的装置未实现自动化控制", "危险化学品罐区未设置紧急切断装置",
                "液化烃储罐未按规定设置安全阀", "外部安全防护距离不符合要求"),
    "fireworks": ("仓库超量储存烟花爆竹", "防雷设施失效"),
    "coal": ("瓦斯超限作业", "未按规定进行瓦斯抽采", "安全监控系统不能正常运行"),
    "mine": ("尾矿库排洪设施堵塞", "地下矿山未按设计建立两个安全出口", "露天采场未按设计分台阶开采"),
    "construction": ("深基坑未按规定进行第三方监测", "高大模板支撑工程未经专家论证即施工",
                     "起重机械安全装置失灵仍在使用"),
    "gas": ("燃气管道被建（构）筑物占压", "液化石油气充装未设置紧急切断装置"),
    "fire": ("疏散通道被堵塞、安全出口锁闭", "未按规定设置自动喷水灭火系统", "消防控制室无人值班"),
    "other": ("主要安全设施失效未修复",),
}
_DEPT = {"construction": "住房和城乡建设局", "gas": "住房和城乡建设局", "transport": "交通运输局"}


@dataclass
class DemoRegister:
    """The synthetic register, as rows ready to insert (hazards carry their events)."""

    enterprises: list[dict[str, Any]] = field(default_factory=list)
    # with "credit_code", "created_at", "previous" (the assessment before this month's, or None)
    # and "regraded_at" (when this month's was recorded, or None)
    risk_points: list[dict[str, Any]] = field(default_factory=list)
    hazards: list[dict[str, Any]] = field(default_factory=list)  # with "credit_code", "events"


@dataclass(frozen=True)
class DemoCounts:
    regions: int
    enterprises: int
    risk_points: int
    hazards: int
    events: int

    def __str__(self) -> str:
        return (f"行政区划{self.regions}个、企业{self.enterprises}家、风险点{self.risk_points}个、"
                f"隐患{self.hazards}条、状态记录{self.events}条")


def regions() -> list[RegionRecord]:
    """The bundled boundaries of 红河州 and its 13 counties (WGS84)."""
    return list(_regions())


@functools.cache
def _regions() -> tuple[RegionRecord, ...]:
    text = resources.files("geo_service").joinpath("data", "honghe.geojson").read_text(encoding="utf-8")
    out = []
    for f in json.loads(text)["features"]:
        p = f["properties"]
        out.append(RegionRecord(p["code"], p["name"], p["level"], p["parent"],
                                _multipolygon(shape(f["geometry"]))))
    return tuple(out)


# --------------------------------------------------------------------------- random helpers


def _weighted(rng: random.Random, items: dict[T, float]) -> T:
    keys = list(items)
    return rng.choices(keys, weights=[items[k] for k in keys])[0]


def _person(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _mobile(rng: random.Random) -> str:
    return "1" + rng.choice("3578") + str(rng.randrange(10)) + f"{rng.randrange(10**8):08d}"


def _landline(rng: random.Random) -> str:
    return f"0873-{rng.randrange(2000000, 8000000)}"


_ORG_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _org_check(first8: str) -> str:
    """GB 11714 check character of an organization code (weights 3 7 9 10 5 8 4 2, mod 11)."""
    value = {c: int(c, 36) for c in _ORG_CHARS}
    c = 11 - sum(value[ch] * w for ch, w in zip(first8, (3, 7, 9, 10, 5, 8, 4, 2), strict=False)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def _credit_code(rng: random.Random, region: str, kind: str) -> str:
    """A valid 统一社会信用代码: registering authority and type, region, organization code, check."""
    prefix = {"company": "91", "public": "12", "individual": "92"}[kind]
    if rng.random() < 0.6:
        org8 = "MA" + rng.choice("6N") + "".join(rng.choice(_ORG_CHARS) for _ in range(5))
    else:
        org8 = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = prefix + region + org8 + _org_check(org8)
    return first17 + geo.credit_check_char(first17)


_LEC_COMBOS: dict[int, list[tuple[float, float, float]]] = {}
for _l, _e, _c in itertools.product((10, 6, 3, 1, 0.5, 0.2, 0.1), (10, 6, 3, 2, 1, 0.5),
                                   (100, 40, 15, 7, 3, 1)):
    _LEC_COMBOS.setdefault(domain.lec_grade(_l * _e * _c), []).append((_l, _e, _c))
_LS_COMBOS: dict[int, list[tuple[int, int]]] = {}
for _l, _s in itertools.product(range(1, 6), range(1, 6)):
    _LS_COMBOS.setdefault(domain.ls_grade(_l * _s), []).append((_l, _s))


def _assessment(rng: random.Random, grade: int) -> tuple[str, Decimal, dict[str, Any]]:
    """An LEC or LS assessment whose score gives ``grade`` under the default thresholds."""
    if rng.random() < 0.7:
        l_, e, c = rng.choice(_LEC_COMBOS[grade])
        return "LEC", Decimal(str(round(l_ * e * c, 2))), {"L": l_, "E": e, "C": c}
    l2, s = rng.choice(_LS_COMBOS[grade])
    return "LS", Decimal(l2 * s), {"L": l2, "S": s}


# --------------------------------------------------------------------------- the register


class _Sampler:
    """Points inside one county: near its seat or anywhere in it."""

    def __init__(self, geom: Any, seat: tuple[float, float]):
        self.geom = geom
        self.prepared = prep(geom)
        self.seat = seat
        self.bounds = geom.bounds

    def point(self, rng: random.Random) -> tuple[float, float]:
        west, south, east, north = self.bounds
        for _ in range(1000):
            r = rng.random()
            if r < 0.55:  # the county seat and its industrial parks
                lng, lat = rng.gauss(self.seat[0], 0.035), rng.gauss(self.seat[1], 0.03)
            elif r < 0.75:  # market towns along the roads
                lng, lat = rng.gauss(self.seat[0], 0.15), rng.gauss(self.seat[1], 0.12)
            else:
                lng, lat = rng.uniform(west, east), rng.uniform(south, north)
            lng, lat = round(lng, 6), round(lat, 6)
            if self.prepared.contains(Point(lng, lat)):
                return lng, lat
        raise RuntimeError("could not place a point in the county")  # pragma: no cover


def build(today: dt.date | None = None, seed: int = DEFAULT_SEED, n_enterprises: int = 2000) -> DemoRegister:
    """The synthetic register for ``today`` (default: today) and ``seed``.

    Pure: the same ``today`` and ``seed`` give the same rows.
    """
    today = today or dt.date.today()
    rng = random.Random(seed)
    boundaries = _regions()
    county_geoms = {r.code: r.geom for r in boundaries if r.level == "county"}
    samplers = {c: _Sampler(county_geoms[c], (v[1], v[2])) for c, v in _COUNTIES.items()}
    county_names = {r.code: r.name for r in boundaries}
    reg = DemoRegister()
    codes: set[str] = set()
    names: set[str] = set()

    for _ in range(n_enterprises):
        county = _weighted(rng, {c: v[3] for c, v in _COUNTIES.items()})
        weights = {ind: w * _COUNTY_INDUSTRY_FACTOR.get((county, ind), 1.0)
                   for ind, (w, _) in _INDUSTRY_MIX.items()}
        if county not in _COAL_COUNTIES:
            weights["coal"] = 0
        industry = _weighted(rng, weights)
        ent = _enterprise(rng, today, county, county_names[county], industry, samplers[county], codes, names)
        reg.enterprises.append(ent)
        grade = rng.choices((1, 2, 3, 4), weights=_INDUSTRY_MIX[industry][1])[0]
        if rng.random() < 0.06:
            grade = None  # not yet assessed: no risk points
        if grade is not None:
            reg.risk_points.extend(_risk_points(rng, today, ent, industry, grade))
            if rng.random() < 0.02:  # a regulator's explicit grade
                _override(rng, ent, industry, grade)
        n_hazards = rng.choices((0, 1, 2, 3, 4, 5, 6), weights=(12, 22, 22, 18, 12, 8, 6))[0]
        seen: set[tuple[dt.date, str]] = set()
        for _ in range(n_hazards):
            h = _hazard(rng, today, ent, industry, county_names[county], samplers[county])
            if (h["found_on"], h["description"]) in seen:
                continue
            seen.add((h["found_on"], h["description"]))
            reg.hazards.append(h)
    _history(reg, today, seed)
    return reg


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=_BEIJING)


def _history(reg: DemoRegister, today: dt.date, seed: int) -> None:
    """Give the register its past: ``created_at`` of enterprises, risk points and hazards, and a
    few re-assessments this month (``previous``: the risk point's assessment before, and
    ``regraded_at``).  Its own random stream, so the register's rows stay those of ``seed``."""
    rng = random.Random(seed * 6_700_417 + 1)
    month_start = today.replace(day=1)
    # days of this month before today (none on the 1st: nothing new "this month" yet)
    this_month = [month_start + dt.timedelta(days=i) for i in range(today.day - 1)]
    tasks_start = today - dt.timedelta(days=demo_dual.HISTORY_DAYS)
    points: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rp in reg.risk_points:
        points[rp["credit_code"]].append(rp)
    found: dict[str, list[dt.date]] = defaultdict(list)
    for h in reg.hazards:
        found[h["credit_code"]].append(h["found_on"])
        h["created_at"] = h["events"][0]["at"]
        h["updated_at"] = h["events"][-1]["at"]
    for ent in reg.enterprises:
        rps = points[ent["credit_code"]]
        if not rps and not found[ent["credit_code"]] and this_month and rng.random() < 0.3:
            created = _local(rng.choice(this_month), rng.randrange(9, 17), rng.randrange(60))
        else:
            earliest = min([rp["assessed_on"] for rp in rps] + found[ent["credit_code"]] + [tasks_start])
            created = _local(earliest - dt.timedelta(days=rng.randrange(15, 400)), rng.randrange(9, 17),
                             rng.randrange(60))
        ent["created_at"] = ent["updated_at"] = created
        for rp in rps:
            # recorded the afternoon of the assessment (one instant a day: the loader replays by day)
            rp["created_at"] = _local(rp["assessed_on"], 16)
            rp["previous"] = rp["regraded_at"] = None
        main = rps[0] if rps else None
        if (main is not None and this_month and ent["grade_override"] is None and main["assessed_on"] < month_start
                and rng.random() < 0.03):
            # re-assessed this month: 红 was 橙 before (raised); the others were one grade higher (lowered)
            before = 2 if main["grade"] == 1 else main["grade"] - 1
            method, score, params = _assessment(rng, before)
            main["previous"] = {"grade": before, "method": method, "score": score, "method_params": params,
                                "assessed_on": main["assessed_on"]}
            day = rng.choice(this_month)
            main["assessed_on"] = day
            main["regraded_at"] = _local(day, rng.randrange(9, 17), rng.randrange(60))


def _enterprise(rng: random.Random, today: dt.date, county: str, county_name: str, industry: str,
                sampler: _Sampler, codes: set[str], names: set[str]) -> dict[str, Any]:
    short = _COUNTIES[county][0]
    for attempt in itertools.count():
        form = rng.choice(_NAME_FORMS[industry])
        brand = rng.choice(_BRAND) + rng.choice(_BRAND)
        name = short + form.format(b=brand, n="一二三四五六七八九"[rng.randrange(9)])
        if attempt > 20:
            name += f"（{attempt}）"
        if name not in names:
            names.add(name)
            break
    public = industry == "crowded" and ("学" in name or "幼儿园" in name)
    small = name.endswith(("零售点", "经营部", "超市", "KTV"))
    kind = "public" if public else "individual" if small and rng.random() < 0.6 else "company"
    region_for_code = county if rng.random() < 0.85 else PREFECTURE
    while (code := _credit_code(rng, region_for_code, kind)) in codes:
        continue
    codes.add(code)
    lng, lat = sampler.point(rng)
    area = rng.choice(("", "", "工业园区", "经济开发区", "城区", f"{rng.choice(_BRAND)}{rng.choice(_BRAND)}镇"))
    road = rng.choice(_BRAND) + rng.choice(("路", "街", "大道"))
    if industry == "crowded" and public:
        dept = "教育体育局"
    elif industry == "crowded" and ("市场" in name or "购物" in name):
        dept = "市场监督管理局"
    else:
        dept = _DEPT.get(industry, "应急管理局")
    return {
        "credit_code": code,
        "name": name,
        "address": f"云南省红河哈尼族彝族自治州{county_name}{area}{road}{rng.randrange(1, 300)}号",
        "industry_code": industry,
        "region_code": county,
        "geom": f"SRID=4326;POINT({lng!r} {lat!r})",
        "legal_rep": _person(rng),
        "contact_phone": _mobile(rng) if rng.random() < 0.7 else _landline(rng),
        "complaint_phone": _landline(rng),
        "supervising_dept": county_name + dept,
        "grade_override": None,
        "grade_override_note": None,
    }


def _risk_points(rng: random.Random, today: dt.date, ent: dict[str, Any], industry: str,
                 grade: int) -> Iterator[dict[str, Any]]:
    """1–5 risk points; the first at the enterprise's grade, the others no higher."""
    pool = list(_RISK_POINTS[industry])
    rng.shuffle(pool)
    n = min(len(pool), rng.choices((1, 2, 3, 4, 5), weights=(15, 30, 28, 17, 10))[0])
    for i, (name, location, accident) in enumerate(pool[:n]):
        g = grade if i == 0 else rng.choice([v for v in (1, 2, 3, 4) if v >= grade] + [4])
        method, score, params = _assessment(rng, g)
        implemented = rng.random() < (0.7 if g <= 2 else 0.85)
        yield {
            "credit_code": ent["credit_code"],
            "name": name,
            "location_desc": location,
            "accident_type": accident,
            "grade": g,
            "method": method,
            "score": score,
            "method_params": params,
            "control_measures": f"落实{accident}防范措施：制定{name}安全操作规程，设置警示标志，定期检查维护，"
                                 f"{'专人' if g <= 2 else '班组'}负责日常管控",
            "controls_implemented": implemented,
            "responsible_person": _person(rng),
            "assessed_on": today - dt.timedelta(days=rng.randrange(20, 540)),
        }


def _override(rng: random.Random, ent: dict[str, Any], industry: str, grade: int) -> None:
    if industry == "hazchem":
        score = rng.randrange(52, 98)
        g = 4 if score >= 90 else 3 if score >= 75 else 2 if score >= 60 else 1
        ent["grade_override"] = g
        ent["grade_override_note"] = f"危险化学品企业安全风险百分制诊断得分{score}分"
    else:
        g = max(1, grade - 1)
        ent["grade_override"] = g
        ent["grade_override_note"] = "监管部门综合评估后上调风险等级"


def _at(day: dt.date, rng: random.Random, hour_lo: int = 8, hour_hi: int = 18) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(rng.randrange(hour_lo, hour_hi), rng.randrange(60)),
                               tzinfo=_BEIJING)


def _hazard(rng: random.Random, today: dt.date, ent: dict[str, Any], industry: str, county_name: str,
            sampler: _Sampler) -> dict[str, Any]:
    """One hazard with dates and events consistent with its state on ``today``."""
    criterion = default_criterion(industry)
    major = rng.random() < (0.16 if industry in ("hazchem", "mine", "coal", "fireworks", "gas") else 0.08)
    found_on = today - dt.timedelta(days=rng.randrange(0, 365))
    if major:
        description = rng.choice(_MAJOR_HAZARDS[criterion])
        category = "重大事故隐患"
        source = _weighted(rng, {"supervised": 45, "inspection": 35, "self": 15, "report": 5})
        deadline = found_on + dt.timedelta(days=rng.randrange(30, 121))
        duration = rng.randrange(20, 110)
    else:
        description, category = rng.choice(_GENERAL_HAZARDS)
        source = _weighted(rng, {"self": 58, "inspection": 32, "report": 8, "supervised": 2})
        deadline = found_on + dt.timedelta(days=rng.randrange(3, 31))
        duration = rng.randrange(1, 25)
    if rng.random() < 0.15:  # late
        duration = (deadline - found_on).days + rng.randrange(5, 60)
    stuck = rng.random() < 0.04  # never progressed: long overdue
    rectified_on = found_on + dt.timedelta(days=duration)
    start = min(found_on + dt.timedelta(days=rng.randrange(0, 3)), rectified_on)
    verified_on = rectified_on + dt.timedelta(days=rng.randrange(1, 16))
    failed_check = rng.random() < 0.05

    if (today - found_on).days < 3 and rng.random() < 0.6 or stuck and rng.random() < 0.4 or start > today:
        state = "registered"
    elif stuck or rectified_on > today:
        state = "rectifying"
    elif verified_on > today:
        state = "rectified"
    else:
        state = "closed"

    found_by = {"self": f"企业安全管理员{_person(rng)}",
                "inspection": f"{county_name}{_DEPT.get(industry, '应急管理局')} {_person(rng)}、{_person(rng)}",
                "report": "群众举报（12350）",
                "supervised": f"{county_name}安全生产委员会办公室"}[source]
    h: dict[str, Any] = {
        "credit_code": ent["credit_code"],
        "description": description,
        "level": "major" if major else "general",
        "category": category,
        "criterion": criterion if major else None,
        "source": source,
        "found_on": found_on,
        "found_by": found_by,
        "deadline": deadline,
        "state": state,
        "resp_person": None,
        "measures": None,
        "funds_wan": None,
        "emergency_plan": None,
        "supervision_doc_no": None,
        "rectified_on": None,
        "verified_on": None,
        "verifier": None,
        "verification_note": None,
        "geom": None,
        # the enterprise reported its own finding; the rest are the regulators' (domain.HAZARD_ORIGINS)
        "origin": "enterprise" if source == "self" else "regulator",
    }
    if source == "supervised":
        h["supervision_doc_no"] = (f"{county_name[:2]}安委办督〔{found_on.year}〕{rng.randrange(1, 60)}号")
    if major or rng.random() < 0.3:
        h["resp_person"] = _person(rng)
        h["measures"] = f"针对“{description}”制定整改方案，明确整改措施和责任人，限期整改到位"
    if major:
        h["funds_wan"] = Decimal(rng.randrange(10, 3000)) / 10
        h["emergency_plan"] = "制定专项应急预案，整改期间落实监控和防范措施，必要时局部停产停业"
    if rng.random() < 0.1:
        lng, lat = sampler.point(rng)
        h["geom"] = f"SRID=4326;POINT({lng!r} {lat!r})"

    events: list[dict[str, Any]] = [
        {"at": _at(found_on, rng, 8, 12), "actor": found_by.split(" ")[0], "from_state": None,
         "to_state": "registered", "note": "登记"}]
    if state != "registered":
        events.append({"at": _at(start, rng, 13, 18), "actor": ent["legal_rep"], "from_state": "registered",
                       "to_state": "rectifying", "note": domain.TRANSITIONS[("registered", "rectifying")]})
    if state in ("rectified", "closed"):
        h["rectified_on"] = rectified_on
        verifier = f"{county_name}{_DEPT.get(industry, '应急管理局')} {_person(rng)}"
        if failed_check and state == "closed":
            first = max(start, rectified_on - dt.timedelta(days=rng.randrange(3, 10)))
            events.append({"at": _at(first, rng, 13, 18), "actor": ent["legal_rep"],
                           "from_state": "rectifying", "to_state": "rectified",
                           "note": domain.TRANSITIONS[("rectifying", "rectified")]})
            events.append({"at": _at(first, rng, 18, 20), "actor": verifier, "from_state": "rectified",
                           "to_state": "rectifying", "note": "复查发现整改不到位，退回整改"})
        events.append({"at": _at(rectified_on, rng, 13, 18) if events[-1]["at"].date() < rectified_on
                       else events[-1]["at"] + dt.timedelta(hours=1),
                       "actor": ent["legal_rep"], "from_state": "rectifying", "to_state": "rectified",
                       "note": domain.TRANSITIONS[("rectifying", "rectified")]})
        if state == "closed":
            h["verified_on"] = verified_on
            h["verifier"] = verifier
            h["verification_note"] = "经现场复查，整改措施落实到位，同意销号"
            events.append({"at": _at(verified_on, rng, 9, 18) if verified_on > rectified_on
                           else events[-1]["at"] + dt.timedelta(hours=1),
                           "actor": verifier, "from_state": "rectified", "to_state": "closed",
                           "note": domain.TRANSITIONS[("rectified", "closed")]})
    for prev, event in itertools.pairwise(events):  # strictly increasing times
        if event["at"] <= prev["at"]:
            event["at"] = prev["at"] + dt.timedelta(minutes=30)
    h["events"] = events
    return h


# --------------------------------------------------------------------------- loading


def grade_event_mark(session: Session) -> int:
    """The id of the last grade event written so far (0: none)."""
    return session.execute(sa.text("SELECT coalesce(max(id), 0) FROM grade_event")).scalar_one()


def date_grade_events(session: Session, mark: int, at: dt.datetime) -> int:
    """Date ``at`` the grade events the triggers wrote since ``mark`` (they stamp the clock's
    time; the demo replays a past) and return the new mark.  The loader runs as the owner."""
    new_mark = session.execute(sa.text(
        "WITH u AS (UPDATE grade_event SET at = :at WHERE id > :mark RETURNING id)"
        " SELECT coalesce(max(id), :mark) FROM u"), {"at": at, "mark": mark}).scalar_one()
    return int(new_mark)


def _batches(items: list[T], size: int = 1000) -> Iterable[list[T]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def load(session: Session, *, today: dt.date | None = None, seed: int = DEFAULT_SEED,
         n_enterprises: int = 2000, progress: bool = False, upload_dir: Path | None = None) -> DemoCounts:
    """Write the Honghe regions and the synthetic register (bulk inserts), replaying its history.

    Enterprises first, then the risk points day by day as first assessed, the
    hazards, the 双重预防 chain, the drawn maps, and this month's re-assessments
    last; after each step the grade events its triggers wrote are dated at the
    step's moment (:func:`date_grade_events`).

    Enterprises whose credit code already exists are skipped, with their
    risk points and hazards, so loading twice adds nothing.  With
    ``upload_dir`` about 30 of the new enterprises get a drawn 四色图
    (:mod:`.demo_maps`: a layout image stored there and risk zones).  The caller commits.
    """
    region_result = import_regions(session, regions())
    today = today or dt.date.today()
    reg = build(today, seed, n_enterprises)
    bar = tqdm(total=len(reg.enterprises) + len(reg.risk_points) + len(reg.hazards),
               desc="演示数据", unit="条", disable=not progress)
    ids: dict[str, int] = {}
    table = Enterprise.__table__
    mark = grade_event_mark(session)
    for batch in _batches(reg.enterprises):
        stmt = pg_insert(table).on_conflict_do_nothing(index_elements=["credit_code"]).returning(
            table.c.id, table.c.credit_code)
        for row in session.execute(stmt, batch):
            ids[row.credit_code] = row.id
        bar.update(len(batch))
    # a regulator's explicit grade was recorded with the enterprise
    session.execute(sa.text("UPDATE grade_event g SET at = e.created_at FROM enterprise e"
                            " WHERE g.id > :mark AND e.id = g.enterprise_id"), {"mark": mark})
    mark = grade_event_mark(session)
    # the risk points day by day, as first assessed (a re-assessed one with its grade before)
    risk_rows = sorted(({**{k: v for k, v in rp.items() if k not in ("credit_code", "previous", "regraded_at")},
                         **(rp["previous"] or {}), "enterprise_id": ids[rp["credit_code"]]}
                        for rp in reg.risk_points if rp["credit_code"] in ids), key=lambda r: r["created_at"])
    for at, group in itertools.groupby(risk_rows, key=lambda r: r["created_at"]):
        batch = list(group)
        session.execute(sa.insert(RiskPoint.__table__), batch)
        mark = date_grade_events(session, mark, at)
        bar.update(len(batch))
    hazards = [h for h in reg.hazards if h["credit_code"] in ids]
    n_events = 0
    for batch in _batches(hazards):
        rows = [{**{k: v for k, v in h.items() if k not in ("credit_code", "events")},
                 "enterprise_id": ids[h["credit_code"]]} for h in batch]
        hazard_ids = session.execute(
            sa.insert(Hazard.__table__).returning(Hazard.__table__.c.id, sort_by_parameter_order=True), rows).scalars().all()
        events = [{**e, "hazard_id": hid, "user_id": None}
                  for hid, h in zip(hazard_ids, batch, strict=True) for e in h["events"]]
        session.execute(sa.insert(HazardEvent.__table__), events)
        n_events += len(events)
        bar.update(len(batch))
    bar.close()
    demo_dual.load_dual(session, list(ids.values()), today=today, seed=seed)
    regraded = sorted((rp for rp in reg.risk_points if rp["regraded_at"] and rp["credit_code"] in ids),
                      key=lambda rp: rp["regraded_at"])
    if upload_dir is not None:
        from .demo_maps import draw_demo_maps

        # drawn before this month; an enterprise re-assessed since is left out, so every drawn plan
        # keeps one zone of each grade
        changed = {ids[rp["credit_code"]] for rp in regraded}
        drawn = draw_demo_maps(session, sorted(set(ids.values()) - changed), upload_dir=upload_dir, seed=seed,
                               today=today)
        LOGGER.info("demo: %d enterprises have a drawn 四色图", drawn)
    # this month's re-assessments, last (the grade events of each dated at its moment)
    mark = grade_event_mark(session)
    for rp in regraded:
        session.execute(
            sa.update(RiskPoint).where(RiskPoint.enterprise_id == ids[rp["credit_code"]], RiskPoint.name == rp["name"])
            .values(grade=rp["grade"], method=rp["method"], score=rp["score"], method_params=rp["method_params"],
                    assessed_on=rp["assessed_on"])
            .execution_options(synchronize_session=False))
        mark = date_grade_events(session, mark, rp["regraded_at"])
    counts = DemoCounts(region_result.inserted + region_result.updated + region_result.unchanged,
                        len(ids), len(risk_rows), len(hazards), n_events)
    LOGGER.info("demo register loaded (seed %s, today %s): %s", seed, today, counts)
    return counts


def load_if_empty(url: str, upload_dir: Path | None = None) -> bool:
    """Load the demo register into ``url`` when it has no enterprise (migrations already applied).

    Returns whether it loaded (``geo-service serve`` then creates the demo accounts).
    """
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            # one loader at a time, even if two servers start together
            session.execute(sa.text("SELECT pg_advisory_xact_lock(2532500)"))
            existing = session.execute(sa.select(sa.func.count()).select_from(Enterprise)).scalar_one()
            if existing:
                LOGGER.info("register has %d enterprises: demo not loaded", existing)
                return False
            counts = load(session, upload_dir=upload_dir)
            session.commit()
            LOGGER.warning("登记簿为空，已载入演示数据：%s", counts)
            return True
    finally:
        engine.dispose()
