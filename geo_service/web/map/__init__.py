"""The map surface (being built)."""

from flask import Blueprint

bp = Blueprint("map", __name__)
