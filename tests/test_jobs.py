"""The job queue for real: procrastinate workers on a committed database.

The web tests run jobs inside the request (``JOBS_INLINE``: their data lives
in a transaction rolled back at the end, which no other process can see).
Here the register of ``test_statistics`` is committed to a database of its
own, the web app defers jobs as ``geo_app`` (the role the service runs as),
and real workers — in this process, or ``geo-service worker`` processes —
run them.  A worker killed with SIGKILL mid-job stops its heartbeat: a live
worker runs the job again once; killed again, the job is failed and its page
says so in Chinese with the 重新生成 form.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from helpers import committed_database, credit_code, wait_for
from services.test_statistics import build_register
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from geo_service import create_app, jobs
from geo_service.cli.serve import WORKER_COMMAND, WorkerPool
from geo_service.config import TestConfig

STALLED_S = 2.0  # a worker silent this long is dead (the default is 30 s)
WAIT_S = 600  # at most this long for a state (a loaded machine renders slowly); never an assertion on time


@pytest.fixture
def register_db(make_database: Callable[[], str]) -> Iterator[tuple[str, str]]:
    """(owner URL, geo_app URL) of a fresh database holding the committed register."""
    url, _ = committed_database(make_database, build_register)
    yield url, make_url(url).set(username="geo_app").render_as_string(hide_password=False)


def _in_own_thread(fn, *args, **kwargs):
    """Call ``fn`` in a thread of its own: a worker runs its own asyncio loop,
    which cannot start in a thread where one already runs (the browser tests'
    Playwright keeps a loop in the main thread for the whole session)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def _config(app_url: str, var_dir: Path) -> TestConfig:
    config = TestConfig(app_url, var_dir)
    config.JOBS_INLINE = False  # on the queue, as served
    config.JOB_STALLED_SECONDS = STALLED_S
    return config


@pytest.fixture
def web(register_db: tuple[str, str], tmp_path: Path) -> Iterator[Any]:
    """The web app on the committed database, deferring jobs to the queue."""
    app = create_app(_config(register_db[1], tmp_path / "var"))
    yield app
    queue = app.extensions.get("job_queue")
    if queue is not None:
        queue.close()
    app.extensions["geo_engine"].dispose()


def _owner(register_db: tuple[str, str]) -> Any:
    return create_engine(register_db[0])


def _post_bundle(client: Any, region: str, **form: str) -> dict[str, Any]:
    resp = client.post(f"/returns/{region}/2026-10/bundle", data=form, headers={"Accept": "application/json"})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    return resp.get_json()


def _worker_process(app_url: str, var_dir: Path, name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": app_url, "VAR_DIR": str(var_dir),
           "JOB_STALLED_SECONDS": str(STALLED_S)}
    return subprocess.Popen([*WORKER_COMMAND, "--name", name], env=env)


def _wait_for(what: str, probe: Callable[[], Any]) -> Any:
    return wait_for(probe, what, WAIT_S, every_s=0.2)


def _row(engine: Any, job_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT b.state, b.done, b.total, b.attempts, b.error, q.status, q.attempts AS queue_attempts"
            " FROM background_job b LEFT JOIN procrastinate_jobs q ON q.id = b.queue_job_id WHERE b.id = :id"),
            {"id": job_id}).one()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_a_worker_builds_the_return_and_any_web_worker_serves_it(web, register_db, tmp_path):
    client = web.test_client()
    job = _post_bundle(client, "532501", paper="A4")
    assert (job["state"], job["done"]) == ("running", 0)
    assert job["message"] == "排队中（暂无处理进程，请联系管理员启动 geo-service worker）"  # none is running yet
    # the same return asked for again while it waits: the waiting job, not a second one
    again = _post_bundle(client, "532501", paper="A4")
    assert again["id"] == job["id"]
    owner = _owner(register_db)
    with owner.connect() as conn:
        queued = conn.execute(text(
            "SELECT task_name, lock, status FROM procrastinate_jobs WHERE task_name = 'return_bundle'")).all()
    assert [tuple(r) for r in queued] == [("return_bundle", "return:532501:2026-10", "todo")]

    # a worker in this process, as geo_app, until the queue is empty
    _in_own_thread(jobs.run_worker, _config(register_db[1], tmp_path / "worker-var"), name="test", wait=False)

    # another web app (another gunicorn worker, another machine) answers the poll and serves the ZIP
    other = create_app(_config(register_db[1], tmp_path / "other-var"))
    with other.test_client() as second:
        status = second.get(job["status_url"]).get_json()
        # 个旧市 has no child region: two maps, the numbers, the change map, one workbook
        assert (status["state"], status["done"], status["total"]) == ("done", 5, 5)
        z = second.get(status["download_url"])
        assert z.status_code == 200 and z.mimetype == "application/zip"
        members = zipfile.ZipFile(io.BytesIO(z.data)).namelist()
        assert "532501_个旧市_2026-10_统计月报.xlsx" in members
        assert "地图/532501_个旧市_重大事故隐患分布图_2026-10.pdf" in members
    other.extensions["geo_engine"].dispose()
    with owner.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM map_export")).scalar_one() == 4  # committed by the worker (PNG and PDF)
        assert conn.execute(text("SELECT status FROM procrastinate_jobs WHERE task_name = 'return_bundle'")
                            ).scalar_one() == "succeeded"
    owner.dispose()


def test_a_large_list_export_is_built_by_a_worker(web, register_db, tmp_path):
    import csv

    client = web.test_client()
    resp = client.post("/api/hazards/exports?format=csv&region=532502")
    assert resp.status_code == 202
    job = resp.get_json()
    assert job["state"] == "running" and client.get(job["download_url"]).status_code == 404  # not yet
    _in_own_thread(jobs.run_worker, _config(register_db[1], tmp_path / "worker-var"), name="test", wait=False)
    status = client.get(job["status_url"]).get_json()
    assert (status["state"], status["done"], status["total"]) == ("done", 2, 2)
    file = client.get(job["download_url"])
    assert file.status_code == 200 and file.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(file.get_data().decode("utf-8-sig"))))
    owner = _owner(register_db)
    with owner.connect() as conn:  # counted independently: the hazards of 开远市's enterprises
        expected = conn.execute(text(
            "SELECT count(*) FROM hazard h JOIN enterprise e ON e.id = h.enterprise_id"
            " WHERE e.region_code LIKE '532502%'")).scalar_one()
        audit = conn.execute(text("SELECT object_type, after FROM audit_log WHERE action = 'download'")).one()
    assert len(rows) == status["result"]["rows"] == expected > 0
    assert audit.object_type == "hazards" and audit.after["rows"] == expected
    assert audit.after["filter"]["region"] == "532502"
    owner.dispose()


def test_results_older_than_an_hour_and_finished_queue_entries_are_pruned(web, register_db, tmp_path):
    import asyncio

    from procrastinate import PsycopgConnector

    client = web.test_client()
    old = _post_bundle(client, "532501", paper="A4")
    config = _config(register_db[1], tmp_path / "worker-var")
    _in_own_thread(jobs.run_worker, config, name="test", wait=False)
    waiting = _post_bundle(client, "532502", paper="A4")  # queued after the worker stopped: stays
    owner = _owner(register_db)
    with owner.begin() as conn:  # the first finished two hours ago
        conn.execute(text("UPDATE procrastinate_events SET at = at - interval '2 hours' WHERE job_id ="
                          " (SELECT queue_job_id FROM background_job WHERE id = :id)"), {"id": old["id"]})
        conn.execute(text("UPDATE background_job SET created_at = created_at - interval '2 hours'"
                          " WHERE id = :id"), {"id": old["id"]})

    async def prune() -> None:  # as a worker does it: as geo_app
        queue = jobs.build_queue(PsycopgConnector(conninfo=jobs.psycopg_conninfo(register_db[1])))
        async with queue.open_async():
            await jobs.prune_jobs(queue, jobs.WorkerContext(web.extensions["geo_engine"], web.config))

    _in_own_thread(asyncio.run, prune())
    with owner.connect() as conn:
        assert conn.execute(text("SELECT id FROM background_job")).scalars().all() == [waiting["id"]]
        assert conn.execute(text("SELECT status FROM procrastinate_jobs WHERE task_name = 'return_bundle'")
                            ).scalars().all() == ["todo"]
    assert client.get(old["status_url"]).status_code == 404
    assert client.get(waiting["status_url"]).get_json()["state"] == "running"
    owner.dispose()


def test_a_large_import_runs_on_a_worker_with_a_progress_bar(web, register_db, tmp_path):
    # 450 enterprises spread over 个旧市 (103–103.5 E, 23–24 N), and one row without a name
    lines = ["统一社会信用代码,企业名称,行业领域,行政区划代码,经度,纬度,监管认定风险等级"]
    lines += [f"{credit_code(1000 + i)},个旧测试企业{i},建材,,{103.1 + (i % 40) * 0.005:.3f},"
              f"{23.2 + (i // 40) * 0.01:.2f}," for i in range(450)]
    lines.append(f"{credit_code(5000)},,建材,,103.2,23.3,")
    owner = _owner(register_db)
    with owner.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM enterprise")).scalar_one()
    client = web.test_client()
    resp = client.post("/import", data={
        "kind": "enterprises", "datum": "wgs84", "skip_bad": "1",
        "file": (io.BytesIO("\n".join(lines).encode("utf-8")), "个旧企业.csv")}, content_type="multipart/form-data")
    assert resp.status_code == 303
    job_url = resp.headers["Location"]
    waiting = client.get(job_url).get_data(as_text=True)
    assert "正在导入" in waiting and '<meta http-equiv="refresh" content="2">' in waiting
    assert re.search(r'<progress id="import-progress" max="1" value="0"></progress> 0/1 排队中', waiting)
    with owner.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM enterprise")).scalar_one() == before  # nothing yet

    _in_own_thread(jobs.run_worker, _config(register_db[1], tmp_path / "worker-var"), name="test", wait=False)

    page = client.get(job_url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "正在导入" not in html and "http-equiv" not in html
    counts = dict(re.findall(r'id="count-(\w+)">(\d+)<', html))
    assert counts == {"rows": "451", "inserted": "450", "updated": "0", "unchanged": "0", "rejected": "1"}
    with owner.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM enterprise")).scalar_one() == before + 450
        # every row checked, then every row written or rejected: the bar went to its end
        assert conn.execute(text("SELECT done, total, upload IS NULL FROM background_job")).one() == (902, 902, True)
    link = re.search(r'href="(/import/jobs/[0-9a-f]{32}/rejects\.xlsx)"', html)
    assert link is not None
    rows = list(openpyxl.load_workbook(io.BytesIO(client.get(link.group(1)).data)).active.iter_rows(values_only=True))
    assert rows[0][-1] == "错误原因" and len(rows) == 2 and rows[1][-1].startswith("第452行 企业名称")
    owner.dispose()


def test_a_killed_worker_s_job_is_run_again_by_another_worker(web, register_db, tmp_path):
    client = web.test_client()
    job = _post_bundle(client, "532500", submit="1", by="李科员", paper="A4")
    owner = _owner(register_db)
    first = _worker_process(register_db[1], tmp_path / "a", "a")
    second = None
    try:
        _wait_for("the first worker is drawing maps", lambda: _row(owner, job["id"]).done >= 2)
        _kill(first)
        # killed mid-job: nothing of that attempt is kept
        with owner.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM return_archive")).scalar_one() == 0
        assert client.get(job["status_url"]).get_json()["state"] == "running"
        second = _worker_process(register_db[1], tmp_path / "b", "b")
        row = _wait_for("the job finished", lambda: (r := _row(owner, job["id"])).state != "running" and r)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(60)
    assert (row.state, row.done, row.total, row.attempts, row.status) == ("done", 11, 11, 2, "succeeded")
    status = client.get(job["status_url"]).get_json()
    assert status["state"] == "done" and status["archive_id"] is not None
    with owner.connect() as conn:
        # one archive, one set of map records: those of the attempt that finished
        assert conn.execute(text("SELECT count(*) FROM return_archive")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM map_export")).scalar_one() == 12
        archived = conn.execute(text("SELECT bundle_zip FROM return_archive")).scalar_one()
    assert client.get(status["download_url"]).data == bytes(archived)
    owner.dispose()


def test_a_job_whose_worker_dies_twice_fails_and_the_page_offers_a_retry(web, register_db, tmp_path):
    client = web.test_client()
    job = _post_bundle(client, "532500", submit="1", by="李科员", paper="A3")
    owner = _owner(register_db)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(_worker_process(register_db[1], tmp_path / "a", "a"))
        _wait_for("the first attempt is drawing maps", lambda: _row(owner, job["id"]).done >= 2)
        _kill(procs[-1])
        procs.append(_worker_process(register_db[1], tmp_path / "b", "b"))
        _wait_for("the second attempt is drawing maps",
                  lambda: (r := _row(owner, job["id"])).attempts == 2 and r.done >= 2)
        _kill(procs[-1])
        procs.append(_worker_process(register_db[1], tmp_path / "c", "c"))
        row = _wait_for("the job failed", lambda: (r := _row(owner, job["id"])).state != "running" and r)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(60)
    assert (row.state, row.status) == ("error", "failed")
    status = client.get(job["status_url"]).get_json()
    assert status["state"] == "error" and "已中断" in status["error"] and "重新生成" in status["error"]
    with owner.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM return_archive")).scalar_one() == 0
    page = client.get(job["page_url"]).get_data(as_text=True)
    assert "http-equiv=\"refresh\"" not in page  # no longer polls
    assert "已中断" in page
    form = re.search(r'<form method="post" action="([^"]+)" class="retry-form">(.*?)</form>', page, re.S)
    assert form is not None and "重新生成</button>" in form.group(2)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(2)))
    assert (fields["submit"], fields["by"], fields["paper"]) == ("1", "李科员", "A3")
    owner.dispose()


def test_serve_s_workers_are_restarted_when_one_dies_and_stopped_with_it(register_db, tmp_path, monkeypatch):
    monkeypatch.setenv("JOB_STALLED_SECONDS", str(STALLED_S))
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    owner = _owner(register_db)

    def live_workers(since: Any = None) -> int:
        with owner.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM procrastinate_workers"
                " WHERE last_heartbeat > coalesce(:t, now() - interval '2 seconds')"), {"t": since}).scalar_one()

    pool = WorkerPool(2, register_db[1], check_seconds=0.5)
    pool.start()
    try:
        _wait_for("two workers beat", lambda: live_workers() == 2)
        dead = pool.procs[0]
        _kill(dead)
        with owner.connect() as conn:  # the killed worker beats no more after this
            killed_at = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        _wait_for("the dead worker is replaced", lambda: pool.procs[0] is not dead and pool.procs[0].poll() is None)
        _wait_for("two workers beat again", lambda: live_workers(since=killed_at) == 2)
    finally:
        pool.stop()
    assert all(proc.poll() is not None for proc in pool.procs), [proc.poll() for proc in pool.procs]
    with owner.connect() as conn:
        # stopped cleanly, they unregistered: every worker that beat after the kill is gone;
        # only the killed one's row (its last beat before the kill) lingers until pruned
        assert conn.execute(text("SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > :t"),
                            {"t": killed_at}).scalar_one() == 0, [proc.returncode for proc in pool.procs]
    owner.dispose()
