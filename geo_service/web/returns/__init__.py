"""The returns surface (being built)."""

from flask import Blueprint

bp = Blueprint("returns", __name__)
