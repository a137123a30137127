"""The API's own description: a valid OpenAPI document, and the API behaves as it says.

schemathesis generates requests from ``/api/openapi.json`` (property-based, a
bounded number of examples per operation) and sends them to the application
as a WSGI app, signed in with a regulator's API token; every answer must be a
non-5xx response that the document describes.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from queries.world import build_world
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation import GenerationMode

from geo_service.services import accounts


def test_openapi_document_is_valid(client):
    doc = client.get("/api/openapi.json").get_json()
    validate(doc)  # raises on any violation of the OpenAPI 3 schema


def test_ogc_openapi_document_is_valid(client):
    validate(client.get("/ogc/api").get_json())


@pytest.fixture
def auth(app, session):
    """A regulator of prefecture 532500 (the world's enterprises) signed in by API token."""
    build_world(session)
    user = accounts.create_user(session, "fuzz", "correct-horse-9", "regulator", region_code="532500")
    token = accounts.create_token(session, user, "fuzz")
    session.commit()
    app.config["LOGIN_REQUIRED"] = True
    return {"Authorization": f"Bearer {token}"}


# "Schema-valid request rejected" is left out: what the document can say, it says
# (patterns, enums, bounds, required members, no unknown fields); what remains is
# beyond JSON Schema and documented as a 400 with its reason: bbox west < east and its
# area, lon with lat, found_from ≤ found_to, a closed valid polygon, the credit code's
# check character, a point inside its region, the version (body or If-Match), legal
# state transitions.
EXCLUDED = [positive_data_acceptance]
MAX_EXAMPLES = 6  # per operation: ~30 operations stay well under two minutes on two cores


def test_api_answers_as_its_document_says(app, auth):
    """schemathesis over every operation of ``/api/openapi.json``: no 5xx, no
    response (status, content type, body) that the document does not describe."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, headers=auth)
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in GenerationMode:

            @given(case=operation.as_strategy(mode))
            @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case):  # type: ignore[no-untyped-def]
                case.call_and_validate(headers=auth, excluded_checks=EXCLUDED)

            try:
                run()
            except (Exception, BaseExceptionGroup) as err:  # noqa: BLE001 - every failure is collected and reported
                # the failures, the response and a curl command to reproduce it
                failures[f"{operation.label} ({mode})"] = str(err)[:3000]
    assert operations >= 25
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


@pytest.mark.parametrize("url", [
    "/api/enterprises?q=a%00b", "/api/risk-points?q=%00", "/api/regions?parent=53%0025",
    "/ogc/collections/enterprises/items?filter=name%20%3D%20%27%00%27", "/tiles/enterprises/1/0/0.pbf?q=%00",
])
def test_a_nul_character_in_the_query_is_a_400_not_a_500(client, auth, url):
    """Found by schemathesis: PostgreSQL text cannot hold NUL, and the driver failed on it."""
    r = client.get(url, headers=auth)
    assert r.status_code == 400 and "NUL" in r.get_json()["message"]


def test_a_nul_character_in_a_json_body_is_a_400_not_a_500(client, auth):
    r = client.post("/api/enterprises", headers=auth, json={
        "credit_code": "91532501MA0000000X", "name": "空\u0000字符", "industry": "coal", "lng": 103.3, "lat": 23.3})
    assert r.status_code == 400 and r.get_json()["parameter"] == "body"


def test_k_nearest_and_a_radius_together_are_refused_not_half_ignored(client, auth):
    r = client.get("/api/enterprises?lon=103.25&lat=23.5&k=2&radius_m=null", headers=auth)
    assert r.status_code == 400 and r.get_json()["parameter"] == "radius_m"
    r = client.get("/api/enterprises?lon=103.25&lat=23.5&k=2", headers=auth)
    assert r.status_code == 200 and len(r.get_json()["features"]) == 2
