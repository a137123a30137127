"""The printed 四色图 drawn as of the end of its month, from the grade history.

The register: the hand-built world of ``services/test_dual_prevention.py`` (甲厂
橙, 乙厂 黄 in 甲县; 丙厂 黄 in 乙县; all registered today) and 丁厂 of
``web/test_map_dual_prevention.py`` (registered as 黄 on the 10th of last month,
raised to 红 today).
"""

from __future__ import annotations

import datetime as dt

from web.test_map_dual_prevention import regrade

from geo_service.config import Config
from geo_service.queries import metrics
from geo_service.queries.scope import ALL
from geo_service.services import maprender as mr
from services.test_dual_prevention import build


def test_the_printed_risk_map_of_last_month_keeps_last_months_grades(session, tmp_path):  # type: ignore[no-untyped-def]
    build(session)
    regrade(session)
    last = dt.date.today().replace(day=1) - dt.timedelta(days=1)
    period = metrics.period(last.year, last.month)

    def grades(**kw) -> dict[str, int | None]:  # type: ignore[no-untyped-def]
        data = mr.load_map_data(session, "539900", period, scope=ALL, **kw)
        return {name: grade for _, name, grade, _, _ in data.enterprises}

    assert grades() == {"甲厂": 2, "乙厂": 3, "丙厂": 3, "丁厂": 1}  # today's register
    assert grades(as_of_month=True) == {"丁厂": 3}  # the end of last month
    data = mr.load_map_data(session, "539900", period, scope=ALL, as_of_month=True)
    rendered = mr.render_map(data, "risk", style=mr.MapStyle.from_config(Config(var_dir=tmp_path)), paper="A4")
    assert rendered.png[:8] == b"\x89PNG\r\n\x1a\n"
