"""The waiting-room page in headless Chromium: what a person sees while waiting, when admission
pauses and resumes, when admitted, when sold out, and when EventSource is not available."""
import datetime
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


def test_checkout_reserves_seats_and_pays(server, browser):
    event = server.create_event(rate=20, classes=[
        {"id": "ga", "name": "General admission", "capacity": 10, "priceCents": 2500},
        {"id": "stalls", "name": "Stalls", "capacity": 4, "priceCents": 9000,
         "seating": [{"row": "A", "seats": 2}, {"row": "B", "seats": 2}]},
    ])
    browser.get(server.base + "/e/" + event)
    wait_for(browser, lambda: visible(browser, "checkout"), timeout=10, message="admitted")
    # Nothing chosen: told so, nothing reserved.
    browser.find_element(By.ID, "reserve").click()
    wait_for(browser, lambda: "at least one" in text(browser, "checkout-error"), timeout=5)
    for class_id, n in (("ga", "2"), ("stalls", "2")):
        field = browser.find_element(By.ID, "qty-" + class_id)
        field.clear()
        field.send_keys(n)
    browser.find_element(By.ID, "reserve").click()
    wait_for(browser, lambda: visible(browser, "hold"), timeout=10, message="hold shown")
    items = text(browser, "hold-items")
    assert "2 × ga" in items and "2 × stalls (seats " in items
    left = text(browser, "hold-left")
    assert ":" in left and left != "0:00"
    _, stats = server.call("GET", "/v1/admin/events/%s/stats" % event, admin=True)
    assert {c["id"]: c["held"] for c in stats["ticketClasses"]} == {"ga": 2, "stalls": 2}
    # The tick that admitted this browser is stamped with the server's clock (RFC 3339, ms).
    assert stats["admittedTotal"] >= 1
    admitted_at = datetime.datetime.strptime(stats["lastAdmissionAt"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs((datetime.datetime.utcnow() - admitted_at).total_seconds()) < 60
    # A reload keeps the hold.
    browser.refresh()
    wait_for(browser, lambda: visible(browser, "hold"), timeout=10, message="hold kept across a reload")
    browser.find_element(By.ID, "pay").click()
    wait_for(browser, lambda: visible(browser, "order"), timeout=10, message="order shown")
    assert text(browser, "order-id").startswith("o_")
    # The saga pays (simulated) and issues the tickets; the page follows it.
    wait_for(browser, lambda: text(browser, "order-status") == "completed", timeout=15, message="order completed")
    tickets = text(browser, "order-tickets").splitlines()
    assert len(tickets) == 4 and sum("seat " in t for t in tickets) == 2
    _, stats = server.call("GET", "/v1/admin/events/%s/stats" % event, admin=True)
    assert {c["id"]: c["sold"] for c in stats["ticketClasses"]} == {"ga": 2, "stalls": 2}
    assert stats["orders"]["completed"] == 1


def hold_tickets(server, browser, event, count):
    """Opens the page, waits for the admission and holds `count` general-admission tickets."""
    browser.get(server.base + "/e/" + event)
    wait_for(browser, lambda: visible(browser, "checkout"), timeout=10, message="admitted")
    field = browser.find_element(By.ID, "qty-ga")
    field.clear()
    field.send_keys(str(count))
    browser.find_element(By.ID, "reserve").click()
    wait_for(browser, lambda: visible(browser, "hold"), timeout=10)


def test_a_declined_payment_gives_the_tickets_back(server, browser):
    event = server.create_event(rate=20, capacity=5)
    hold_tickets(server, browser, event, 2)
    browser.find_element(By.CSS_SELECTOR, "#simulate option[value=decline]").click()
    browser.find_element(By.ID, "pay").click()
    wait_for(browser, lambda: "did not go through" in text(browser, "checkout-error"), timeout=15, message="decline shown")
    assert visible(browser, "choose")
    _, stats = server.call("GET", "/v1/admin/events/%s/stats" % event, admin=True)
    assert stats["ticketClasses"][0]["sold"] == 0 and stats["orders"]["cancelled"] == 1


def test_release_gives_the_tickets_back(server, browser):
    event = server.create_event(rate=20, capacity=5)
    hold_tickets(server, browser, event, 3)
    browser.find_element(By.ID, "release").click()
    wait_for(browser, lambda: visible(browser, "choose") and not visible(browser, "hold"), timeout=10)
    _, stats = server.call("GET", "/v1/admin/events/%s/stats" % event, admin=True)
    assert stats["ticketClasses"][0]["held"] == 0
    # More than is left: a clear message, nothing held.
    field = browser.find_element(By.ID, "qty-ga")
    field.clear()
    field.send_keys("6")
    browser.find_element(By.ID, "reserve").click()
    wait_for(browser, lambda: text(browser, "checkout-error") != "", timeout=5)
    assert "at most 6" in text(browser, "checkout-error") or "not enough" in text(browser, "checkout-error")


def test_selling_the_last_tickets_tells_the_waiting_room(server, browser):
    event = server.create_event(rate=20, max_active=1, capacity=2)
    buyer = server.admitted(event, "buyer")
    # Someone else waits behind the buyer (maxActive 1 keeps them waiting).
    browser.get(server.base + "/e/" + event)
    wait_for(browser, lambda: text(browser, "position") == "1", timeout=10)
    headers = {"Authorization": "Bearer " + buyer, "Idempotency-Key": "last"}
    status, held = server.call("POST", "/v1/events/%s/reservations" % event,
                               {"items": [{"ticketClassId": "ga", "quantity": 2}]}, headers=headers)
    assert status == 201
    status, _ = server.call("POST", "/v1/reservations/%s/confirm" % held["reservationId"],
                            {"payment": {"method": "card"}}, headers=dict(headers, **{"Idempotency-Key": "pay"}))
    assert status == 202
    wait_for(browser, lambda: visible(browser, "banner") and "Sold out" in text(browser, "banner"),
             timeout=10, message="sold out reaches the waiting browser")
    status, body = server.call("POST", "/v1/events/%s/queue" % event, {"userId": "late"})
    assert status == 410 and body["error"]["code"] == "sold_out"
