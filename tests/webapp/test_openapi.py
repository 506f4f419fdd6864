"""The OpenAPI document validates against the OpenAPI 3.1 meta-schema, and schemathesis,
run in-process against the WSGI app with a bounded number of examples, finds no server
error and no answer that breaks the document."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.webapp.conftest import bearer, make_token

#: Left out: "every schema-valid request gets a 2xx" cannot hold, because rules across
#: parameters (start ≤ end, min_price ≤ max_price, dates within 1900…2999) are not
#: expressible in JSON Schema and rightly answer 400. Server errors, undocumented status
#: codes and answers that break the response schemas are all still checked.

FUZZED_PATHS = ["/kpis", "/breakdown/{dimension}", "/transactions", "/customers",
                "/timeseries", "/reports"]


@pytest.fixture(scope="module")
def token(app):
    return make_token(app, "analyst@example.com")


@pytest.fixture(scope="module")
def api_schema(app, token):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=bearer(token))


def test_document_is_valid_openapi(api_schema):
    api_schema.validate()
    operations = [operation.ok() for operation in api_schema.get_all_operations()]
    assert len(operations) >= 15


@pytest.mark.parametrize("path", FUZZED_PATHS)
def test_api_answers_without_server_errors(api_schema, token, path):
    operations = [result.ok() for result in api_schema.include(path=path).get_all_operations()]
    assert operations, path
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_well(case):
            case.call_and_validate(headers=bearer(token),
                                   excluded_checks=[positive_data_acceptance])
        answers_well()


def test_every_operation_with_query_parameters_documents_the_servers_414():
    from webapp.api.openapi import openapi_document

    document = openapi_document()
    with_query = [(path, method, operation) for path, methods in document["paths"].items()
                  for method, operation in methods.items()
                  if any(p["in"] == "query" for p in operation["parameters"])]
    assert with_query  # the filters are query parameters
    assert [(path, method) for path, method, operation in with_query
            if "414" not in operation["responses"]] == []
    without_query = [operation for methods in document["paths"].values()
                     for operation in methods.values()
                     if not any(p["in"] == "query" for p in operation["parameters"])]
    assert all("414" not in operation["responses"] for operation in without_query)
