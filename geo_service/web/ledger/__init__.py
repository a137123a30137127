"""The ledger surface (being built)."""

from flask import Blueprint

bp = Blueprint("ledger", __name__)
