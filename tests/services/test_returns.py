"""The whole return in one ZIP, its archive frozen against later edits, the diff, the CLI.

Register: ``test_statistics.build_register`` (红河州 532500 with 个旧市 532501 and 开远市 532502).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select

from geo_service.config import Config
from geo_service.errors import Forbidden, NotFound
from geo_service.models import Hazard, MapExport, ReturnArchive
from geo_service.queries import metrics
from geo_service.queries.scope import ALL, Scope
from geo_service.services import returns
from geo_service.services.maprender import MapStyle
from geo_service.services.statistics import compute_return
from services.test_statistics import build_register

OCT = metrics.period(2026, 10)
MAPS = ("安全风险四色分布图", "重大事故隐患分布图")


@pytest.fixture
def style(tmp_path):
    return MapStyle.from_config(Config(var_dir=tmp_path))


def test_bundle_holds_workbooks_and_both_maps_for_the_region_and_each_child(session, style):
    build_register(session)
    seen = []
    bundle = returns.build_bundle(session, "532500", OCT, scope=ALL, style=style, unit="红河州应急管理局",
                                  by="张科长", made_on=dt.date(2026, 11, 5),
                                  progress=lambda done, total, msg: seen.append((done, total)))
    names = set(zipfile.ZipFile(io.BytesIO(bundle.zip_bytes)).namelist())
    assert names == set(bundle.members)
    for code, name in (("532500", "红河州"), ("532501", "个旧市"), ("532502", "开远市")):
        for kind in MAPS:
            assert f"地图/{code}_{name}_{kind}_2026-10.png" in names
            assert f"地图/{code}_{name}_{kind}_2026-10.pdf" in names
    assert "532500_红河州_2026-10_统计月报.xlsx" in names
    assert {"下级区划/532501_个旧市_2026-10_统计月报.xlsx", "下级区划/532502_开远市_2026-10_统计月报.xlsx"} <= names
    assert "地图/532500_红河州_环比变化图_2026-10.png" in names
    assert "numbers.json" in names
    # 3 regions: 6 maps + numbers + change map + 3 workbooks = 11 steps, counted up to the end
    assert seen[-1] == (11, 11) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    zf = zipfile.ZipFile(io.BytesIO(bundle.zip_bytes))
    png = Image.open(io.BytesIO(zf.read("地图/532501_个旧市_安全风险四色分布图_2026-10.png")))
    assert png.size == (2480, 3508)
    wb = load_workbook(io.BytesIO(zf.read("532500_红河州_2026-10_统计月报.xlsx")))
    assert wb["防范遏制统计表"]["A2"].value == "填报单位：红河州应急管理局"
    assert json.loads(zf.read("numbers.json"))["regions"][0]["code"] == "532500"


def test_generating_the_package_changes_no_number_of_the_return(session, style):
    build_register(session)
    figures = lambda numbers: list(returns.flatten_numbers(numbers))  # noqa: E731
    before = compute_return(session, "532500", OCT, scope=ALL)
    first = returns.build_bundle(session, "532500", OCT, scope=ALL, style=style, by="张科长")
    second = returns.build_bundle(session, "532500", OCT, scope=ALL, style=style, by="李科员")
    # the maps are logged (risk + hazard, png + pdf, for each of the three regions, twice) …
    rows = session.execute(select(MapExport.region_code, MapExport.kind, MapExport.fmt)).all()
    assert len(rows) == 24 and {r.region_code for r in rows} == {"532500", "532501", "532502"}
    # … and no figure moved: item 14 counts the regions whose maps the service can draw
    assert figures(first.numbers) == figures(before) == figures(second.numbers)
    assert first.numbers["regions"][0]["form000"]["item14"] == {
        "done": True, "prefecture_units": 1, "county_units": 2, "enterprises": 0}
    assert returns.diff_numbers(first.numbers, second.numbers) == []


def test_package_notes_cite_no_project_file_and_write_dates_the_forms_way(session, style):
    build_register(session)
    bundle = returns.build_bundle(session, "532500", OCT, scope=ALL, style=style, by="张科长",
                                  made_on=dt.date(2026, 11, 30))
    zf = zipfile.ZipFile(io.BytesIO(bundle.zip_bytes))
    readme = zf.read("说明.txt").decode("utf-8")
    texts = [readme]
    for name in zf.namelist():
        if name.endswith(".xlsx"):
            wb = load_workbook(io.BytesIO(zf.read(name)))
            texts += [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
                      if isinstance(c.value, str)]
    text = "\n".join(texts)
    assert not re.search(r"[\w/]+\.(md|py|txt)\b", text.replace("说明.txt", "")), "a project file path"
    assert "docs/" not in text and "geo_service" not in text
    # no ISO dates or timestamps, the forms' way instead
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)
    assert "填报时间：2026年11月30日" in readme and "2026年1月1日至2026年10月31日" in readme
    assert "2026年5月1日至2026年10月31日累计" in readme


def test_submitted_return_is_frozen_and_the_diff_shows_later_edits(session, style):
    reg = build_register(session)
    archive, bundle = returns.submit_return(session, "532500", OCT, scope=ALL, style=style, by="张科长",
                                            unit="红河州应急管理局")
    stored_zip, stored_numbers = bytes(archive.bundle_zip), json.dumps(archive.numbers, sort_keys=True)
    assert archive.submitted_by == "张科长" and archive.period == dt.date(2026, 10, 1)
    assert archive.bundle_sha256 == bundle.sha256

    # a late entry: h5 (C, 工贸, major, found June) is verified and closed on 20 October
    h5 = session.get(Hazard, reg.haz["h5"].id)
    h5.state, h5.verified_on, h5.verifier = "closed", dt.date(2026, 10, 20), "州应急局"
    h5.resp_person, h5.measures, h5.funds_wan, h5.emergency_plan, h5.deadline = (
        "王五", "加装报警", 5, "煤气泄漏预案", dt.date(2026, 10, 15))
    session.flush()
    session.expire_all()

    again = session.get(ReturnArchive, archive.id)
    assert bytes(again.bundle_zip) == stored_zip
    assert json.dumps(again.numbers, sort_keys=True) == stored_numbers

    fresh = compute_return(session, "532500", OCT, scope=ALL, unit="红河州应急管理局")
    diff = {d["key"]: d for d in returns.diff_numbers(again.numbers, fresh)}
    # the whole-region rectified count goes 1 → 2, and so does 开远市's; 个旧市 is unchanged
    assert (diff["532500/item13/major_rectified"]["archived"], diff["532500/item13/major_rectified"]["fresh"]) \
        == (1, 2)
    assert diff["532502/item13/major_rectified"]["fresh"] == 2
    assert not any(k.startswith("532501/") for k in diff)
    assert diff["532500/table/cumulative/rectify_rate"]["archived"] == 25.0
    assert diff["532500/table/cumulative/rectify_rate"]["fresh"] == 50.0
    assert diff["532500/dispatch/self_rectified"]["label"] == "红河州·调度表·企业自查发现重大事故隐患中已完成整改的（个）"
    # nothing else moved: no diff on the unchanged figures
    assert "532500/item12/major_risks" not in diff
    assert returns.diff_numbers(again.numbers, again.numbers) == []


def test_an_archived_return_cannot_be_altered_and_a_resubmission_is_a_new_row(session, style):
    build_register(session)
    archive, _ = returns.submit_return(session, "532501", OCT, scope=ALL, style=style, by="张科长")
    archive_id, stored = archive.id, json.dumps(archive.numbers, sort_keys=True)
    # try to change the frozen numbers through the ORM: refused, nothing written
    archive.numbers = {**archive.numbers, "unit": "改过的单位"}
    with pytest.raises(Forbidden, match="已归档的月报不能修改"):
        session.flush()
    session.expire(archive)  # drop the refused change and read the row again
    assert json.dumps(session.get(ReturnArchive, archive_id).numbers, sort_keys=True) == stored
    # … and deleting it is refused too
    session.delete(archive)
    with pytest.raises(Forbidden, match="已归档的月报不能修改或删除"):
        session.flush()
    session.expunge(archive)
    # a correction is a new submission: a new row, the first one untouched
    again, _ = returns.submit_return(session, "532501", OCT, scope=ALL, style=style, by="李科员")
    assert again.id != archive_id
    assert [a.id for a in returns.archives(session, "532501", OCT, scope=ALL)] == [again.id, archive_id]
    assert json.dumps(session.get(ReturnArchive, archive_id).numbers, sort_keys=True) == stored


def test_archives_are_listed_latest_first_and_scoped(session, style):
    build_register(session)
    a1, _ = returns.submit_return(session, "532501", OCT, scope=ALL, style=style, by="甲")
    a2, _ = returns.submit_return(session, "532501", OCT, scope=ALL, style=style, by="乙")
    assert [a.id for a in returns.archives(session, "532501", OCT, scope=ALL)] == [a2.id, a1.id]
    with pytest.raises(NotFound):  # reading another county's archives: not there for you
        returns.archives(session, "532501", OCT, scope=Scope(region="532502"))
    with pytest.raises(NotFound, match="无权查看行政区划 532500"):  # producing one: the same answer
        returns.build_bundle(session, "532500", OCT, scope=Scope(region="532501"), style=style)


def test_cli_writes_the_zip_and_submits(make_database, tmp_path, monkeypatch):
    """``geo-service return 532500 2026-10 -o out.zip --submit --by …`` on a committed database."""
    from sqlalchemy.orm import Session

    from geo_service import db
    from geo_service.cli import main

    url = make_database()
    engine = db.make_engine(url)
    with Session(engine) as s:
        build_register(s)
        s.commit()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("GEO_SERVICE_VAR", str(tmp_path / "var"))
    out = tmp_path / "out.zip"
    result = CliRunner().invoke(main, ["return", "532500", "2026-10", "-o", str(out), "--unit", "红河州应急管理局",
                                       "--submit", "--by", "张科长"])
    assert result.exit_code == 0, result.output
    members = zipfile.ZipFile(out).namelist()
    assert "532500_红河州_2026-10_统计月报.xlsx" in members
    assert sum(1 for m in members if m.startswith("地图/") and m.endswith(".png")) == 7  # 3×2 + change map
    assert "已归档" in result.output
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(ReturnArchive)) == 1
        assert s.scalar(select(func.count()).select_from(MapExport)) == 12
    bad = CliRunner().invoke(main, ["return", "532500", "2026-13", "-o", str(out)])
    assert bad.exit_code != 0 and "月份" in bad.output
    engine.dispose()
