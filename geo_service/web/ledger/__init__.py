"""The ledger surface: enterprise pages, the hazard ledger, hazard pages with the
closed loop, the registration forms, the overdue/due-soon list and the
ledger exports (附件4/5/6)."""

from flask import Blueprint

bp = Blueprint("ledger", __name__)

from . import views  # noqa: E402,F401  (routes register on bp)
