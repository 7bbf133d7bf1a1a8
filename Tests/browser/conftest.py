"""A real `waitroomd serve` (2 workers) against the local Redis and PostgreSQL, and headless
Chromium (Debian's `chromium` + `chromedriver`) driving the waiting-room page as a person would."""
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

    def create_event(self, rate=1, max_active=100, paused=False, capacity=100, opens_at=None):
        event_id = "bt-" + uuid.uuid4().hex[:10]
        body = {
            "name": "Browser test " + event_id,
            "ticketClasses": [{"id": "ga", "name": "General admission", "capacity": capacity, "priceCents": 2500}],
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


@pytest.fixture(scope="session")
def server():
    binary = os.environ.get("WAITROOMD", os.path.join(ROOT, ".build", "debug", "waitroomd"))
    port = free_port()
    env = dict(os.environ)
    env.update({
        "WAITROOM_PORT": str(port), "WAITROOM_PROCESSES": "2", "WAITROOM_ADMIN_TOKEN": ADMIN_TOKEN,
        "WAITROOM_LOG_LEVEL": "warning",
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
