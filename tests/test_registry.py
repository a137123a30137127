"""The collection registry agrees with what it describes: the list statements'
columns, the import columns, the Shapefile limits."""

from __future__ import annotations

import datetime as dt

from geo_service import registry
from geo_service.queries.filters import Filters
from geo_service.queries.scope import ALL
from geo_service.services.validation import COLUMNS


def test_every_field_is_a_column_of_the_list_or_a_decoration():
    for cid, c in registry.COLLECTIONS.items():
        if not c.fields:
            continue
        columns = set(c.statement(Filters(), ALL, dt.date(2026, 3, 15), {}).selected_columns.keys())
        decorated = {d.name for d in c.decorations}
        missing = [f.key for f in c.fields if f.key not in columns | decorated | {"distance_m"}]
        assert not missing, (cid, missing)


def test_every_download_column_imports_into_a_real_field():
    for cid, c in registry.COLLECTIONS.items():
        if not c.importable:
            continue
        fields = {col.field for col in COLUMNS[cid]} | {"enterprise_id"}
        assert {f.imports_as for f in c.fields if f.imports_as} <= fields, cid
        assert set(registry.import_aliases(cid).values()) <= fields, cid
        assert set(c.import_key) and c.key_field in fields


def test_shapefile_names_fit_dbase_and_are_unique():
    for cid, c in registry.COLLECTIONS.items():
        names = [f.shp for f in c.fields]
        assert len(names) == len(set(names)), cid
        assert all(len(n) <= 10 and n.isascii() for n in names), cid
