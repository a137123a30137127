"""Reading A at the door: a risk point imported without 评估日期 is accepted, and the
import result warns that no return will count it (a warning, not an error).

Files: ``tests/fixtures/risk_points.csv`` (every row dated) on the register of
``test_importers`` (enterprises.csv in squares.geojson).
"""

from __future__ import annotations

import sqlalchemy as sa

from geo_service.services.importers import NO_ASSESSMENT_DATE, import_records
from services.test_importers import FIXTURES, registered, squares  # noqa: F401 - fixtures


def test_undated_risk_points_import_with_a_warning(registered, tmp_path):  # noqa: F811
    lines = (FIXTURES / "risk_points.csv").read_text(encoding="utf-8").splitlines()
    # rows 3 and 5 of the file lose their 评估日期 (the last column)
    undated = [line if i not in (2, 4) else line.rsplit(",", 1)[0] + "," for i, line in enumerate(lines)]
    path = tmp_path / "风险点.csv"
    path.write_text("\n".join(undated) + "\n", encoding="utf-8")
    result = import_records(registered, "risk-points", path)
    assert result.ok and result.inserted == len(lines) - 1  # nothing refused
    assert [(w.row, w.column) for w in result.warnings] == [(3, "评估日期"), (5, "评估日期")]
    assert result.warnings[0].reason == NO_ASSESSMENT_DATE and "不计入" in NO_ASSESSMENT_DATE
    assert registered.execute(sa.text("SELECT count(*) FROM risk_point WHERE assessed_on IS NULL")).scalar() == 2
    # the dated file gives no warning
    assert import_records(registered, "risk-points", FIXTURES / "risk_points.csv").warnings == []
