"""The ogc surface (being built)."""

from flask import Blueprint

bp = Blueprint("ogc", __name__)
