"""``geo-service user …``: accounts and API tokens."""

from __future__ import annotations

import getpass
import sys

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..config import Config
from ..domain import ROLES, Actor
from ..models import ApiToken, Enterprise, User
from ..services import accounts


def _run(work) -> None:  # type: ignore[no-untyped-def]
    from . import session_scope

    with session_scope() as session:
        work(session)


def _cli_actor() -> Actor:
    """The operator at the command line, as the audit log records them."""
    return Actor(f"命令行 {getpass.getuser()}"[:100])


def _min_length() -> int:
    return int(Config().MIN_PASSWORD_LENGTH)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("密码", hide_input=True, confirmation_prompt=True)


@click.group("user")
def user_group() -> None:
    """账号管理：新增、列出、改密码、停用，以及 API 令牌。"""


@user_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(list(ROLES)), required=True, help="角色")
@click.option("--name", "display_name", help="显示名称")
@click.option("--region", help="管辖行政区划代码（监管人员、只读）")
@click.option("--enterprise", help="企业统一社会信用代码（企业用户）")
@click.option("--unit", help="填报单位（月报默认的填报单位；不填时用 ISSUING_UNIT 设置）")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码")
def add(username: str, role: str, display_name: str | None, region: str | None,
        enterprise: str | None, unit: str | None, password_stdin: bool) -> None:
    """新增账号。"""
    password = _read_password(password_stdin)

    def work(session: Session) -> None:
        enterprise_id = None
        if enterprise:
            enterprise_id = session.scalar(
                sa.select(Enterprise.id).where(Enterprise.credit_code == enterprise)
            )
            if enterprise_id is None:
                raise click.ClickException(f"找不到信用代码为 {enterprise} 的企业")
        user = accounts.create_user(session, username, password, role, display_name=display_name,
                                    region_code=region, enterprise_id=enterprise_id, unit=unit,
                                    min_password_length=_min_length())
        accounts.audit(session, _cli_actor(), "create", "app_user", user.id,
                       after={"username": username, "role": role, "region_code": region,
                              "enterprise_id": enterprise_id, "unit": user.unit})
        click.echo(f"已新增账号 {username}（{ROLES[role]}）")

    _run(work)


@user_group.command("list")
def list_users() -> None:
    """列出账号。"""

    def work(session: Session) -> None:
        for u in session.scalars(sa.select(User).order_by(User.id)):
            where = u.region_code or (f"企业#{u.enterprise_id}" if u.enterprise_id else "全部")
            state = "" if u.active else "（已停用）"
            unit = f"  填报单位：{u.unit}" if u.unit else ""
            click.echo(f"{u.id:>4}  {u.username:<16} {ROLES[u.role]:<6} {where:<12} {u.display_name}{state}{unit}")

    _run(work)


def _user(session: Session, username: str) -> User:
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"账号 {username} 不存在")
    return user


@user_group.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码")
def passwd(username: str, password_stdin: bool) -> None:
    """修改密码（该账号此前的所有登录随之失效）。"""
    password = _read_password(password_stdin)

    def work(session: Session) -> None:
        user = _user(session, username)
        accounts.set_password(user, password, min_length=_min_length())
        accounts.audit(session, _cli_actor(), "set_password", "app_user", user.id)
        click.echo("密码已修改")

    _run(work)


def _set_active(username: str, active: bool) -> None:
    def work(session: Session) -> None:
        user = _user(session, username)
        before = user.active
        accounts.set_active(user, active)  # ends its sessions either way
        accounts.audit(session, _cli_actor(), "enable" if active else "disable", "app_user", user.id,
                       before={"active": before}, after={"active": active})
        click.echo(f"已{'启用' if active else '停用'} {username}")

    _run(work)


@user_group.command("set")
@click.argument("username")
@click.option("--unit", required=True, help="填报单位（空字符串清除，改用 ISSUING_UNIT 设置）")
def set_attrs(username: str, unit: str) -> None:
    """修改账号的填报单位。"""

    def work(session: Session) -> None:
        user = _user(session, username)
        before = user.unit
        user.unit = accounts.clean_unit(unit)
        accounts.audit(session, _cli_actor(), "update", "app_user", user.id,
                       before={"unit": before}, after={"unit": user.unit})
        click.echo(f"{username} 的填报单位：{user.unit or '（未设，使用 ISSUING_UNIT）'}")

    _run(work)


@user_group.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """停用账号（其令牌随之失效）。"""
    _set_active(username, False)


@user_group.command("enable")
@click.argument("username")
def enable(username: str) -> None:
    """启用账号。"""
    _set_active(username, True)


@user_group.command("token")
@click.argument("username")
@click.option("--name", default="脚本", show_default=True)
def token(username: str, name: str) -> None:
    """为账号新建 API 令牌（明文只显示一次）。"""
    _run(lambda s: click.echo(accounts.create_token(s, _user(s, username), name)))


@user_group.command("revoke-token")
@click.argument("token_id", type=int)
def revoke(token_id: int) -> None:
    """撤销 API 令牌。"""
    _run(lambda s: (accounts.revoke_token(s, token_id), click.echo(f"令牌 {token_id} 已撤销")))


@user_group.command("tokens")
@click.argument("username")
def tokens(username: str) -> None:
    """列出账号的令牌。"""

    def work(session: Session) -> None:
        user = _user(session, username)
        for t in session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id)):
            click.echo(f"{t.id:>4}  {t.name:<20} {'已撤销' if t.revoked_at else '有效'}")

    _run(work)


commands = [user_group]
