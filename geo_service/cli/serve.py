"""``geo-service serve``: migrate, load the demo when empty, serve with gunicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..config import Config


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
        if not config.DATABASE_URL:
            # The embedded cluster: the app runs as geo_app, not the owner.
            from ..embedded import EmbeddedCluster

            url = EmbeddedCluster(config.VAR_DIR).app_url
        config.DATABASE_URL = url
        click.echo(f"风险一张图 正在 http://{host}:{port} 提供服务（Ctrl+C 停止）")
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


commands = [serve]
