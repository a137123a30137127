"""The application for gunicorn in the benchmark (settings from the environment,
``DATABASE_URL`` pointing at the benchmark database)."""

from geo_service import create_app
from geo_service.config import Config

app = create_app(Config())
