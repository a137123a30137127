"""The tiles surface (being built)."""

from flask import Blueprint

bp = Blueprint("tiles", __name__)
