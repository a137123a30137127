"""Request context helpers shared by the blueprints."""

from __future__ import annotations

from flask import g

from ..domain import Actor
from ..queries.scope import ALL, Scope

__all__ = ["current_scope", "current_actor"]


def current_scope() -> Scope:
    """The caller's jurisdiction (set by the accounts layer; ALL until it exists)."""
    return g.get("scope", ALL)


def current_actor() -> Actor:
    """The caller as an :class:`~geo_service.domain.Actor` for events and the audit log."""
    return g.get("actor", Actor("匿名用户"))
