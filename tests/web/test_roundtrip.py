"""Every download comes back in unchanged: download each of the five formats
through the API, import the file as it is, and nothing changes.

The world (tests/queries/world.py) has 5 enterprises, 5 risk points and 4
hazards; here the plant is moved to a point with 17 significant digits (an
XLSX cell keeps 15), a risk point gets a decimal LEC score and a hazard its
funds, so that "unchanged" has to mean "the same to 1e-7 degrees and at the
stored precision", not "the same bits".
"""

from __future__ import annotations

import io
import zipfile

import pytest
import sqlalchemy as sa
from queries.world import build_world

from geo_service.services.importers import import_records

FORMATS = {"csv": ".csv", "xlsx": ".xlsx", "geojson": ".geojson", "gpkg": ".gpkg", "shp": ".zip"}
TABLES = {"enterprises": "enterprise", "risk-points": "risk_point", "hazards": "hazard"}
COUNTS = {"enterprises": 5, "risk-points": 5, "hazards": 4}  # the world's records (module docstring)


@pytest.fixture
def world(session):
    w = build_world(session)
    session.execute(sa.text("UPDATE enterprise SET geom = ST_SetSRID(ST_MakePoint(103.25123456789012, "
                            "23.50987654321098), 4326) WHERE id = :id"), {"id": w.plant.id})
    session.execute(sa.text("UPDATE risk_point SET method = 'LEC', score = 126.35 WHERE name = '机修车间'"))
    # a major hazard is judged under its industry's criterion (what the API and the import set)
    session.execute(sa.text("UPDATE hazard SET criterion = 'hazchem', funds_wan = 12.35 WHERE id = :id"),
                    {"id": w.h_major_overdue.id})
    session.commit()
    return w


def _save_as_excel_would(path) -> None:
    """Excel keeps 15 significant digits of a number: a workbook opened and saved
    in Excel has its coordinates cut so (openpyxl itself writes all 17)."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    cut = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, float) and float(f"{cell.value:.15g}") != cell.value:
                    cell.value = float(f"{cell.value:.15g}")
                    cut += 1
    wb.save(path)
    assert cut > 0  # the plant's coordinates at least


def _versions(session, kind: str) -> dict[int, int]:
    return dict(session.execute(sa.text(f"SELECT id, version FROM {TABLES[kind]}")).all())  # noqa: S608


@pytest.mark.parametrize("kind", list(TABLES))
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_download_imports_back_unchanged(client, session, world, tmp_path, kind, fmt):
    before = _versions(session, kind)
    assert len(before) == COUNTS[kind]
    args = "format=geojson&download=1" if fmt == "geojson" else f"format={fmt}"
    r = client.get(f"/api/{kind}?{args}")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    path = tmp_path / f"{kind}-download{FORMATS[fmt]}"
    path.write_bytes(r.data)
    if fmt == "xlsx":
        _save_as_excel_would(path)

    result = import_records(session, kind, path)
    session.commit()

    assert result.ok, [str(e) for e in result.errors]
    assert (result.rows, result.inserted, result.updated, result.unchanged) == (COUNTS[kind], 0, 0, COUNTS[kind])
    assert f"未变{COUNTS[kind]}" in result.summary()
    assert _versions(session, kind) == before


def test_a_download_edited_in_a_gis_is_an_update(client, session, world, tmp_path):
    """The round trip is not blind: a real move (1 m) and a changed address are updates."""
    import pyogrio

    r = client.get("/api/enterprises?format=gpkg")
    path = tmp_path / "enterprises.gpkg"
    path.write_bytes(r.data)
    frame = pyogrio.read_dataframe(path)
    from shapely.geometry import Point

    i = frame.index[frame["id"] == world.mill.id][0]
    frame.loc[i, "geometry"] = Point(frame.geometry[i].x + 0.00001, frame.geometry[i].y)
    j = frame.index[frame["id"] == world.shop.id][0]
    frame.loc[j, "address"] = "个旧市新地址1号"
    pyogrio.write_dataframe(frame, path, layer="enterprises")

    result = import_records(session, "enterprises", path)
    session.commit()
    assert (result.updated, result.unchanged) == (2, 3)
    versions = _versions(session, "enterprises")
    assert (versions[world.mill.id], versions[world.shop.id], versions[world.plant.id]) == (2, 2, 1)


def test_shapefile_download_warns_of_truncated_text(client, session, world):
    """A 90-character address is 270 bytes of UTF-8: more than a dBASE field's 254."""
    session.execute(sa.text("UPDATE enterprise SET address = :a WHERE id = :id"),
                    {"a": "云南省红河哈尼族彝族自治州个旧市" + "工业园区" * 18 + "一号", "id": world.plant.id})
    session.commit()
    r = client.get("/api/enterprises?format=shp")
    assert r.status_code == 200
    assert "format=gpkg" in r.headers["Warning"]
    note = zipfile.ZipFile(io.BytesIO(r.data)).read("导出警告.txt").decode("utf-8")
    assert "地址（address）有 1 条" in note and f"编号 {world.plant.id}" in note and "GeoPackage" in note
    assert "Warning" not in client.get("/api/enterprises?format=gpkg").headers


def test_readme_lists_every_shapefile_name():
    """The README's table of Shapefile field names is the registry's."""
    from pathlib import Path

    from geo_service import registry

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for cid in TABLES:
        line = next(ln for ln in readme.splitlines() if ln.startswith(f"- **{registry.get(cid).title}**："))
        listed = [part.split("`")[1] for part in line.split("：", 1)[1].split("、")]
        assert listed == [f.shp for f in registry.get(cid).fields if f.key not in ("lng", "lat")]


def test_csv_download_names_one_charset(client, world):
    r = client.get("/api/enterprises?format=csv")
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
