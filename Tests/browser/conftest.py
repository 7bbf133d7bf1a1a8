"""A real `waitroomd serve` (2 workers) against the local Redis and PostgreSQL, and headless
Chromium (Debian's `chromium` + `chromedriver`) driving the waiting-room page as a person would."""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ADMIN_TOKEN = "browser-test-admin-token-" + uuid.uuid4().hex[:8]
# A signing key the tests know, so that they can make tokens the server must refuse although
# the signature is good (expired, of another kind). Test-only; never a real deployment's key.
SIGNING_SECRET = os.urandom(32)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, body=None, admin=False, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if admin:
            request.add_header("Authorization", "Bearer " + ADMIN_TOKEN)
        for k, v in (headers or {}).items():
            request.add_header(k, v)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, (json.loads(raw) if raw else None)

    def create_event(self, rate=1, max_active=100, paused=False, capacity=100, opens_at=None, classes=None):
        event_id = "bt-" + uuid.uuid4().hex[:10]
        body = {
            "name": "Browser test " + event_id,
            "ticketClasses": classes or [{"id": "ga", "name": "General admission", "capacity": capacity, "priceCents": 2500}],
            "admission": {"ratePerSecond": rate, "maxActive": max_active, "sessionSeconds": 300},
        }
        if opens_at:
            body["opensAt"] = opens_at
        status, _ = self.call("PUT", "/v1/admin/events/" + event_id, body, admin=True)
        assert status == 201, status
        if paused:
            self.admission(event_id, paused=True)
        return event_id

    def admission(self, event_id, **settings):
        status, body = self.call("PATCH", "/v1/admin/events/%s/admission" % event_id, settings, admin=True)
        assert status == 200, (status, body)
        return body


    def admitted(self, event_id, user):
        """Joins `event_id` as `user` and waits for the admission; returns its token."""
        status, joined = self.call("POST", "/v1/events/%s/queue" % event_id, {"userId": user})
        assert status in (200, 201), (status, joined)
        deadline = time.time() + 20
        while time.time() < deadline:
            _, place = self.call("GET", "/v1/events/%s/queue/%s" % (event_id, joined["ticket"]))
            if place.get("admission"):
                return place["admission"]["token"]
            time.sleep(0.1)
        raise AssertionError("not admitted in time: %r" % place)


def sign_token(purpose, event_id, sequence, expires_at):
    """A token in the server's wire form, signed with the test key (see Tokens/SignedToken)."""
    import hashlib
    import hmac
    import struct
    key_id = hashlib.sha256(SIGNING_SECRET).digest()[:4]
    body = bytes([1, ord(purpose)]) + key_id + struct.pack(">QQ", expires_at, sequence) + event_id.encode()
    mac = hmac.new(SIGNING_SECRET, body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")


@pytest.fixture(scope="session")
def server():
    binary = os.environ.get("WAITROOMD", os.path.join(ROOT, ".build", "debug", "waitroomd"))
    port = free_port()
    env = dict(os.environ)
    env.update({
        "WAITROOM_PORT": str(port), "WAITROOM_PROCESSES": "2", "WAITROOM_ADMIN_TOKEN": ADMIN_TOKEN,
        "WAITROOM_LOG_LEVEL": "warning",
        "WAITROOM_SIGNING_KEY": base64.urlsafe_b64encode(SIGNING_SECRET).decode().rstrip("="),
        "WAITROOM_HOLD_SECONDS": "6", "WAITROOM_SWEEP_MS": "300", "WAITROOM_TICKETS_PER_ADMISSION": "6",
    })
    log = open(os.path.join(ROOT, ".local", "browser-server.log"), "w")
    process = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = "http://127.0.0.1:%d" % port
    deadline = time.time() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                if r.status == 200:
                    break
        except Exception:
            pass
        if time.time() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("waitroomd did not become ready; see .local/browser-server.log")
        time.sleep(0.2)
    yield Server(base)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture
def browser():
    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1000,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                              options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()
