"""The application for gunicorn in the benchmark (settings from the environment,
``DATABASE_URL`` pointing at the benchmark database).

Plus one route that exists only here: ``/bench/naive-tile/<z>/<x>/<y>.pbf``,
the benchmark's naive tile statement (``common.NAIVE_TILE``) served through the
same gunicorn, Flask and connection pool as the real tiles, so a tile request
can also be compared with the naive query over the same HTTP stack, not only
with the statement run in the database."""

from common import NAIVE_TILE
from flask import Response
from sqlalchemy import Engine

from geo_service import create_app
from geo_service.config import Config

app = create_app(Config())


@app.get("/bench/naive-tile/<int:z>/<int:x>/<int:y>.pbf")
def naive_tile(z: int, x: int, y: int) -> Response:
    engine: Engine = app.extensions["geo_autocommit_engine"]
    with engine.connect() as conn:
        data = conn.exec_driver_sql(NAIVE_TILE, {"z": z, "x": x, "y": y}).scalar_one()
    return Response(bytes(data or b""), mimetype="application/vnd.mapbox-vector-tile")
