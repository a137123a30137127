"""The return's 生成月报（ZIP） button in a real headless Chromium, served as in
production: the page defers the job to the queue, a separate ``geo-service
worker`` process builds it, and the page's progress bar follows it to the
download link — the same page as when the job ran inside the server."""

from __future__ import annotations

import io
import os
import re
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import committed_database
from live import login, serve
from services.test_statistics import build_register
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from geo_service.cli.serve import WORKER_COMMAND

WAIT_MS = 600_000  # at most this long for the ZIP on a loaded machine (a wait, not an assertion on time)


@pytest.fixture
def queued_server(make_database: Callable[[], str], tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(base URL, database URL): the live server on the committed return register, jobs on the
    queue, and one worker process."""
    url, _ = committed_database(make_database, build_register)
    env = {**os.environ, "DATABASE_URL": make_url(url).set(username="geo_app").render_as_string(hide_password=False),
           "VAR_DIR": str(tmp_path / "worker-var")}
    worker = subprocess.Popen([*WORKER_COMMAND, "--name", "browser-test"], env=env)
    try:
        with serve(url, tmp_path / "var", {"JOBS_INLINE": False}) as base:
            yield base, url
    finally:
        worker.terminate()
        worker.wait(60)


def test_the_button_s_progress_bar_follows_the_worker_to_the_zip(queued_server, page):  # type: ignore[no-untyped-def]
    base, url = queued_server
    login(page, base)
    page.goto(f"{base}/returns/532500/2026-10")
    seen: list[str] = []
    page.on("response", lambda r: seen.append(r.url) if "/api/returns/jobs/" in r.url else None)
    page.get_by_role("button", name="生成月报（ZIP）").click()
    page.wait_for_selector("#progress-link:not([hidden])", timeout=WAIT_MS)
    assert page.inner_text("#progress-text").startswith("已完成，用时")
    assert page.eval_on_selector("#progress-bar", "b => [b.value, b.max]") == [11, 11]
    assert len(seen) >= 2  # polled while it ran, then once more when done
    with page.expect_download() as info:
        page.click("#progress-link")
    members = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes())).namelist()
    assert "532500_红河州_2026-10_统计月报.xlsx" in members
    assert "地图/532502_开远市_重大事故隐患分布图_2026-10.pdf" in members
    # built by the worker process, through the queue
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text(
            "SELECT status, lock FROM procrastinate_jobs WHERE task_name = 'return_bundle'")).one() == (
            "succeeded", "return:532500:2026-10")
    engine.dispose()
    assert re.match(r"^/api/returns/jobs/[0-9a-f]{32}$", seen[0].split(base, 1)[1])
