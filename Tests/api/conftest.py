"""A real `waitroomd serve` (2 workers) against the local Redis and PostgreSQL, with an admin
token, the demo event, and short connection timeouts so that the slow-client tests finish in
seconds. Shared by the API document, schemathesis and robustness tests."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WAITROOMD = os.environ.get("WAITROOMD", os.path.join(ROOT, ".build", "debug", "waitroomd"))
DOCUMENT = os.path.join(ROOT, "docs", "openapi.yaml")
ADMIN_TOKEN = "api-test-admin-token-" + uuid.uuid4().hex[:8]
# The payment webhook's HMAC secret, so that tests can sign webhooks the server must still refuse.
WEBHOOK_SECRET = "api-test-webhook-secret-" + uuid.uuid4().hex[:8]
# The server's connection timeouts in these tests (the defaults are 10 s, 30 s, 60 s, 60 s).
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
BODY_DEADLINE = 4.0
MAX_BODY_BYTES = 65536


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, port, process, log_path):
        self.port = port
        self.base = "http://127.0.0.1:%d" % port
        self.process = process
        self.log_path = log_path

    def call(self, method, path, body=None, admin=False, headers=None, timeout=10):
        """(status, parsed JSON or None, headers) of one request."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if admin:
            request.add_header("Authorization", "Bearer " + ADMIN_TOKEN)
        for k, v in (headers or {}).items():
            request.add_header(k, v)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
                kind = response.headers.get("Content-Type", "")
                return response.status, (json.loads(raw) if raw and "json" in kind else raw), response.headers
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, (json.loads(raw) if raw else None), error.headers

    def worker_pids(self):
        """The supervisor's child processes (the workers)."""
        with open("/proc/%d/task/%d/children" % (self.process.pid, self.process.pid)) as f:
            return sorted(int(p) for p in f.read().split())

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def assert_healthy(self, pids_before):
        """The same workers still run, /healthz answers, and the log shows no crash."""
        assert self.process.poll() is None, "the supervisor exited"
        assert self.worker_pids() == pids_before, "a worker was replaced (it crashed)"
        status, body, _ = self.call("GET", "/healthz")
        assert (status, body) == (200, {"status": "ok"})
        log = self.log()
        for sign in ("worker exited", "Fatal error", "fatal error", "Crash", "unhandled error"):
            assert sign not in log, "server log shows %r:\n%s" % (sign, log[-4000:])


@pytest.fixture(scope="session")
def server():
    env = dict(os.environ)
    env.update({
        "WAITROOM_PROCESSES": "2", "WAITROOM_ADMIN_TOKEN": ADMIN_TOKEN, "WAITROOM_LOG_LEVEL": "warning",
        # Fuzzed and malformed joins come from one address: the per-address limit would answer 429
        # before the body is even read.
        "WAITROOM_JOIN_RATE_PER_ADDRESS": "0",
        "WAITROOM_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "WAITROOM_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        "WAITROOM_BODY_DEADLINE_SECONDS": str(BODY_DEADLINE),
        "WAITROOM_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "WAITROOM_PAYMENT_WEBHOOK_SECRET": WEBHOOK_SECRET,
    })
    env.pop("WAITROOM_PORT", None)
    demo = subprocess.run([WAITROOMD, "demo"], env=env, capture_output=True, text=True, timeout=60)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    port = free_port()
    log_path = os.path.join(ROOT, ".local", "api-server.log")
    log = open(log_path, "w")
    process = subprocess.Popen([WAITROOMD, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    result = Server(port, process, log_path)
    deadline = time.time() + 30
    while True:
        try:
            with urllib.request.urlopen(result.base + "/readyz", timeout=2) as r:
                if r.status == 200 and len(result.worker_pids()) == 2:
                    break
        except Exception:
            pass
        if time.time() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("waitroomd did not become ready; see .local/api-server.log")
        time.sleep(0.2)
    yield result
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
