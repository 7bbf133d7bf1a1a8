"""The OpenAPI document (docs/openapi.yaml) against the real server: the same routes both ways,
the same document served, and schemathesis finding no 5xx and no answer off the schemas."""
import json
import os
import re
import subprocess
import sys
import time

import yaml

from conftest import ADMIN_TOKEN, DOCUMENT, ROOT, WAITROOMD

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def normalise(path):
    """`/v1/events/{eventId}` and `/v1/events/{id}` are the same route."""
    return re.sub(r"\{[^}/]+\}", "{}", path)


def document():
    with open(DOCUMENT) as f:
        return yaml.safe_load(f)


def server_routes():
    out = subprocess.run([WAITROOMD, "routes"], capture_output=True, text=True, timeout=60, check=True)
    return {(r["method"], normalise(r["path"])) for r in json.loads(out.stdout)}


def test_server_routes_and_document_agree():
    served = server_routes()
    documented = {(method.upper(), normalise(path))
                  for path, item in document()["paths"].items() for method in item if method in METHODS}
    assert len(served) >= 19, served
    assert served - documented == set(), "routes the server registers but the document lacks"
    assert documented - served == set(), "routes the document lists but the server lacks"


def test_every_operation_has_its_error_answers_and_ids_their_pattern():
    spec = document()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            statuses = set(operation["responses"])
            assert {"405", "413"} <= statuses, (method, path)
            if path.startswith("/v1/") and path != "/v1/openapi.yaml":
                assert {"400", "500", "503"} <= statuses, (method, path)
    assert spec["components"]["schemas"]["Id"]["pattern"] == "^[A-Za-z0-9_-]{1,64}$"
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["properties"]["error"]["required"] == ["code", "message"]


def test_the_server_serves_the_document(server):
    status, body, headers = server.call("GET", "/v1/openapi.yaml")
    assert status == 200
    assert headers["Content-Type"].startswith("application/yaml")
    with open(DOCUMENT, "rb") as f:
        assert body == f.read()


CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_schema_conformance", "response_headers_conformance", "negative_data_rejection",
])


# A fixed seed keeps CI reproducible; to explore further, set WAITROOM_SCHEMATHESIS_SEED and
# WAITROOM_SCHEMATHESIS_SCALE (a factor on the time budgets).
# Which statuses count as rejecting invalid data (413 for a body over the limit among them).
CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml")
SEED = os.environ.get("WAITROOM_SCHEMATHESIS_SEED", "20261127")
SCALE = float(os.environ.get("WAITROOM_SCHEMATHESIS_SCALE", "1"))


def schemathesis(server, token, seconds, *selection):
    """Runs schemathesis against `server` with `token` as the bearer for `seconds` (times the
    scale); returns its output."""
    seconds = int(seconds * SCALE)
    st = os.path.join(os.path.dirname(sys.executable), "st")
    report = os.path.join(ROOT, ".local", "schemathesis-report")
    command = [
        st, "--config-file", CONFIG, "run", DOCUMENT, "--url", server.base, "-H", "Authorization: Bearer " + token,
        "--checks", CHECKS, "--max-examples", str(int(60 * SCALE)), "--max-time", str(seconds), "--workers", "1",
        "--phases", "examples,coverage,fuzzing", "--request-timeout", "10", "--seed", SEED,
        "--generation-database", "none", "--no-color", "--report", "junit", "--report-dir", report,
        "--suppress-health-check", "all", "--warnings", "off", *selection,
    ]
    # cwd: schemathesis keeps a cache of what it found in ./.schemathesis
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 90, cwd=os.path.join(ROOT, ".local"))
    output = result.stdout + result.stderr
    print(output[-3000:])
    assert result.returncode == 0 and "No issues found" in output, findings(output) + "\nserver log:\n" + server.log()[-1500:]
    return output


def findings(output):
    """What schemathesis found, first: its FAILURES and ERRORS sections (each case with its curl
    line), then its summary, so that a log cut to its head still names the case."""
    sections = re.split(r"^=+ (FAILURES|ERRORS|WARNINGS|SUMMARY) =+$", output, flags=re.M)
    named = dict(zip(sections[1::2], sections[2::2]))
    found = "".join("%s:\n%s\n" % (name, named[name].strip()[:6000]) for name in ("FAILURES", "ERRORS") if name in named)
    return (found or "no FAILURES or ERRORS section\n") + "SUMMARY:\n" + named.get("SUMMARY", output[-3000:]).strip()[-3000:]


def admission_token(server, event_id):
    """Joins `event_id` and waits for the admission; its token."""
    status, _, _ = server.call("PATCH", "/v1/admin/events/%s/admission" % event_id,
                               {"paused": False, "ratePerSecond": 50, "maxActive": 1000}, admin=True)
    assert status == 200
    # A user of its own per run: on a Redis kept from an earlier run, "demo" still holds that
    # run's place (expired by now), and joining again returns it.
    user = "schemathesis-%d-%d" % (os.getpid(), int(time.time()))
    status, joined, _ = server.call("POST", "/v1/events/%s/queue" % event_id, {"userId": user})
    assert status in (200, 201), joined
    deadline = time.time() + 20
    while time.time() < deadline:
        _, place, _ = server.call("GET", "/v1/events/%s/queue/%s" % (event_id, joined["ticket"]))
        if place.get("admission"):
            return place["admission"]["token"]
        time.sleep(0.2)
    raise AssertionError("not admitted: %r" % place)


def test_schemathesis_checkout_with_a_real_admission_token(server):
    """The checkout operations past their 401: reserve, read, release, confirm, orders."""
    schemathesis(server, admission_token(server, "demo"), 25, "--include-tag", "checkout")


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schemas(server):
    """Examples, coverage (boundary and invalid values) and random fuzzing of every operation,
    as the admin, within a CI-sized budget."""
    schemathesis(server, ADMIN_TOKEN, 60)
