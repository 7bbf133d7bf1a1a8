"""The waiting-room page in headless Chromium: what a person sees while waiting, when admission
pauses and resumes, when admitted, when sold out, and when EventSource is not available."""
import os
import subprocess
import time
from urllib.parse import urlparse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def text(browser, element_id):
    return browser.find_element(By.ID, element_id).text.strip()


def visible(browser, element_id):
    return browser.find_element(By.ID, element_id).is_displayed()


def wait_for(browser, predicate, timeout=10, message=""):
    WebDriverWait(browser, timeout, poll_frequency=0.1).until(lambda _: predicate(), message)


def redis_cli(*args):
    url = urlparse(os.environ.get("WAITROOM_REDIS_URL", "redis://127.0.0.1:6391"))
    db = (url.path or "/0").lstrip("/") or "0"
    subprocess.run(["redis-cli", "-h", url.hostname, "-p", str(url.port or 6379), "-n", db, *args],
                   check=True, capture_output=True)


def test_waiting_shows_exact_position_and_eta(server, browser):
    event = server.create_event(rate=1, paused=True)
    # Two people are already in line.
    for user in ("first", "second"):
        assert server.call("POST", "/v1/events/%s/queue" % event, {"userId": user})[0] == 201
    browser.get(server.base + "/e/" + event)
    wait_for(browser, lambda: text(browser, "position") == "3", message="position 3 shown")
    assert text(browser, "state-label") == "Your place in line"
    assert text(browser, "eta").startswith("Estimated wait")
    assert browser.find_element(By.ID, "app").get_attribute("data-transport") == "sse"
    assert not visible(browser, "checkout")


def test_someone_leaving_moves_the_page_up(server, browser):
    event = server.create_event(rate=1, paused=True)
    status, first = server.call("POST", "/v1/events/%s/queue" % event, {"userId": "ahead"})
    assert status == 201
    browser.get(server.base + "/e/" + event)
    wait_for(browser, lambda: text(browser, "position") == "2")
    assert server.call("DELETE", "/v1/events/%s/queue/%s" % (event, first["ticket"]))[0] == 204
    wait_for(browser, lambda: text(browser, "position") == "1", timeout=5, message="moved up after a departure")


def test_pause_and_resume_banner(server, browser):
    event = server.create_event(rate=0.2, paused=False)
    for user in ("a1", "a2", "a3"):
        server.call("POST", "/v1/events/%s/queue" % event, {"userId": user})
    browser.get(server.base + "/e/" + event)
    wait_for(browser, lambda: text(browser, "position").isdigit())
    server.admission(event, paused=True)
    wait_for(browser, lambda: visible(browser, "banner") and "paused" in text(browser, "banner").lower(),
             timeout=5, message="paused banner")
    server.admission(event, paused=False)
    wait_for(browser, lambda: not visible(browser, "banner"), timeout=5, message="banner gone on resume")


def test_admission_moves_to_checkout(server, browser):
    event = server.create_event(rate=1, paused=True)
    browser.get(server.base + "/e/" + event)
    wait_for(browser, lambda: text(browser, "position") == "1")
    server.admission(event, paused=False, ratePerSecond=5)
    wait_for(browser, lambda: visible(browser, "checkout"), timeout=10, message="checkout view after admission")
    assert "It's your turn" in text(browser, "checkout")
    assert text(browser, "admission-expiry") != "–"
    assert not visible(browser, "waiting")
    # A reload keeps the admission (the token is kept for its lifetime).
    browser.refresh()
    wait_for(browser, lambda: visible(browser, "checkout"), timeout=5)


def test_sold_out_ends_the_wait(server, browser):
    event = server.create_event(rate=1, paused=True)
    browser.get(server.base + "/e/" + event)
    wait_for(browser, lambda: text(browser, "position") == "1")
    redis_cli("HSET", "wr:{%s}:cfg" % event, "soldOut", "1")
    redis_cli("PUBLISH", "wr:{%s}:ev" % event, "soldout")
    wait_for(browser, lambda: visible(browser, "banner") and "Sold out" in text(browser, "banner"),
             timeout=5, message="sold out banner")
    assert not visible(browser, "waiting")
    # Someone arriving now is told at once.
    status, body = server.call("POST", "/v1/events/%s/queue" % event, {"userId": "late"})
    assert status == 410 and body["error"]["code"] == "sold_out"


def test_polling_fallback_without_eventsource(server, browser):
    event = server.create_event(rate=1, paused=True)
    server.call("POST", "/v1/events/%s/queue" % event, {"userId": "ahead"})
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                            {"source": "window.EventSource = undefined;"})
    browser.get(server.base + "/e/" + event)
    wait_for(browser, lambda: text(browser, "position") == "2")
    assert browser.find_element(By.ID, "app").get_attribute("data-transport") == "polling"
    server.admission(event, paused=False, ratePerSecond=5)
    wait_for(browser, lambda: visible(browser, "checkout"), timeout=10, message="polling sees the admission")


def test_unknown_event_page_is_404_with_a_message(server, browser):
    browser.get(server.base + "/e/no-such-event")
    assert "Event not found" in browser.find_element(By.TAG_NAME, "h1").text
