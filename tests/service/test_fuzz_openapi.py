"""Fuzz every operation of the API from its own OpenAPI spec (schemathesis, bounded examples):
no answer may be a 5xx, and every answer must match the schema the spec gives for its status (the
response models of api/models.py, the error body on every 4xx). The server runs with tight limits
so that accepted runs finish at once."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance
from service_helpers import Server

pytestmark = pytest.mark.slow

LIMITS = {
    "NNPLAYGROUND_MAX_EPOCHS": "3",
    "NNPLAYGROUND_MAX_DATASET_SIZE": "200",
    "NNPLAYGROUND_MAX_PARAMS": "3000",
    "NNPLAYGROUND_MAX_RUNS_PER_CLIENT": "1000",
    "NNPLAYGROUND_QUEUE_BOUND": "8",
}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("fuzz") / "fuzz.db", workers=1, env=LIMITS).start()
    # a finished run, so that operations on an existing id get exercised too
    rid = s.http.post("/api/runs", json={"training": {"epochs": 2}, "dataset": {"n_samples": 40}}).json()["id"]
    s.run_id = rid
    yield s
    s.stop()


def test_no_server_errors(fuzz_server):
    schema = schemathesis.openapi.from_url(f"{fuzz_server.base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures, calls = [], []
    for op in operations:
        fuzz_operation(op, fuzz_server.run_id, failures, calls)
    assert not failures, failures
    assert len(calls) >= 5 * len(operations)
    assert any(c == 200 and "{run_id}" in p for _, p, c in calls)  # existing runs were reached too


def fuzz_operation(op, run_id, failures, calls):
    @given(case=op.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def check(case):
        params = case.path_parameters or {}
        if op.method.upper() != "DELETE" and "run_id" in params and str(params["run_id"])[:1] in "abcdef":
            params["run_id"] = run_id  # often, a run that exists
        response = case.call(timeout=20)
        calls.append((op.method, op.path, response.status_code))
        if response.status_code >= 500:
            failures.append((op.method, op.path, case.body, case.query, response.status_code, response.text[:300]))
        media = response.headers.get("content-type", "")
        media = (media[0] if isinstance(media, list) else media).split(";")[0]
        assert media in ("application/json", "application/octet-stream", "text/csv", "text/x-python"), media
        # the body matches the spec's schema for its status (raises schemathesis' FailureGroup, which
        # names the schema path, the value and a curl line that reproduces it)
        case.validate_response(response, checks=[response_schema_conformance])

    check()
