"""``geo-service serve``: migrate, load the demo when empty, serve with gunicorn
beside ``JOB_WORKERS`` job worker processes; ``geo-service worker``: one worker."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ..config import Config

LOGGER = logging.getLogger(__name__)
# How a worker process is started: this interpreter, this package's command.
WORKER_COMMAND = [sys.executable, "-c", "from geo_service.cli import main; main()", "worker"]


class _Gunicorn:  # built lazily: gunicorn is only needed to serve
    @staticmethod
    def run(options: dict[str, Any], config: Config) -> None:
        from gunicorn.app.base import BaseApplication

        class App(BaseApplication):  # type: ignore[misc]
            def load_config(self) -> None:
                for key, value in options.items():
                    self.cfg.set(key, value)

            def load(self):  # type: ignore[no-untyped-def]
                from .. import create_app

                return create_app(config)

        App().run()


def _load_demo(url: str, upload_dir: Path) -> None:
    """The demo register and its accounts, when the register is empty.

    Demo accounts (documented passwords) are made only together with the demo
    register, never on a register of real data."""
    from sqlalchemy.orm import Session

    from ..db import make_engine
    from ..services import accounts, demo

    if not demo.load_if_empty(url, upload_dir=upload_dir):
        return
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            created = accounts.ensure_demo_users(session)
            session.commit()
        if created:
            click.echo("已创建演示账号：" + "、".join(created) + "（密码见 README）")
    finally:
        engine.dispose()


class WorkerPool:
    """``n`` ``geo-service worker`` processes on ``url``, restarted when one
    dies (its job is taken over, see :mod:`geo_service.jobs`), stopped
    (SIGTERM: each finishes or hands back its job) on :meth:`stop`."""

    def __init__(self, n: int, url: str, *, check_seconds: float = 2.0) -> None:
        self.n, self.url, self.check_seconds = n, url, check_seconds
        self.procs: list[subprocess.Popen[bytes]] = []
        self._stopping = threading.Event()
        self._watch = threading.Thread(target=self._keep_alive, name="job-workers", daemon=True)

    def _spawn(self, i: int) -> subprocess.Popen[bytes]:
        env = {**os.environ, "DATABASE_URL": self.url}
        return subprocess.Popen([*WORKER_COMMAND, "--name", f"worker-{i + 1}"], env=env)

    def start(self) -> None:
        self.procs = [self._spawn(i) for i in range(self.n)]
        self._watch.start()

    def _keep_alive(self) -> None:
        while not self._stopping.wait(self.check_seconds):
            for i, proc in enumerate(self.procs):
                if proc.poll() is not None and not self._stopping.is_set():
                    LOGGER.warning("job worker %d (pid %d) exited with %s: starting another",
                                   i + 1, proc.pid, proc.returncode)
                    self.procs[i] = self._spawn(i)

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        if self._watch.is_alive():
            self._watch.join()
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def job_workers(n: int, url: str) -> Iterator[WorkerPool]:
    """``n`` worker processes for the duration of the block."""
    pool = WorkerPool(n, url)
    if n:
        pool.start()
    try:
        yield pool
    finally:
        pool.stop()


def _app_url(config: Config, url: str) -> str:
    """The URL the service runs on: the embedded cluster's as geo_app, not the owner."""
    if config.DATABASE_URL:
        return url
    from ..embedded import EmbeddedCluster

    return EmbeddedCluster(config.VAR_DIR).app_url


@click.command("serve")
@click.option("--host", default=None, help="监听地址（默认 HOST 或 127.0.0.1）")
@click.option("--port", type=int, default=None, help="端口（默认 PORT 或 5000）")
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--threads", type=int, default=4, show_default=True)
@click.option("--no-demo", is_flag=True, help="登记簿为空时也不载入演示数据")
def serve(host: str | None, port: int | None, workers: int, threads: int, no_demo: bool) -> None:
    """启动 Web 服务（默认 http://127.0.0.1:5000）。"""
    from .. import db as dbmod
    from . import database

    config = Config()
    host = host or config.HOST
    port = port or config.PORT
    with database(config) as url:
        dbmod.upgrade(url)
        if not no_demo:
            _load_demo(url, config.UPLOAD_DIR)
        url = _app_url(config, url)
        config.DATABASE_URL = url
        click.echo(f"风险一张图 正在 http://{host}:{port} 提供服务（Ctrl+C 停止）")
        if config.JOB_WORKERS:
            click.echo(f"任务处理进程：{config.JOB_WORKERS} 个（月报生成、导入）")
        else:
            click.echo("JOB_WORKERS=0：本机不处理月报生成和导入任务，请在其他机器上运行 geo-service worker")
        with job_workers(config.JOB_WORKERS, url):
            _Gunicorn.run(
                {
                    "bind": f"{host}:{port}",
                    "workers": workers,
                    "threads": threads,
                    "worker_class": "gthread",
                    "timeout": 120,
                    "accesslog": "-",
                    "limit_request_line": 8190,
                },
                config,
            )


@click.command("worker")
@click.option("--name", default=None, help="处理进程名称（日志中显示）")
@click.option("--once", is_flag=True, help="处理完队列中已有的任务即退出")
def worker(name: str | None, once: bool) -> None:
    """运行一个任务处理进程（月报生成、导入），直到 Ctrl+C；可在其他机器上运行。"""
    from .. import jobs
    from . import database

    config = Config()
    with database(config) as url:
        config.DATABASE_URL = _app_url(config, url)
        jobs.run_worker(config, name=name, wait=not once)


commands = [serve, worker]
