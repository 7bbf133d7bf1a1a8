"""The checkout part of the HTTP contract through a real server and PostgreSQL: reserve, read,
release and confirm with an admission token; idempotency keys; the refusals."""
import threading
import time
import uuid

from conftest import sign_token

CLASSES = [
    {"id": "ga", "name": "General admission", "capacity": 20, "priceCents": 2500},
    {"id": "stalls", "name": "Stalls", "capacity": 6, "priceCents": 9000,
     "seating": [{"row": "A", "seats": 3}, {"row": "B", "seats": 3}]},
]


def bearer(token, key=None):
    headers = {"Authorization": "Bearer " + token}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def reserve(server, event, token, items, key=None):
    return server.call("POST", "/v1/events/%s/reservations" % event, {"items": items},
                       headers=bearer(token, key or uuid.uuid4().hex))


def test_reserve_read_confirm_and_release(server):
    event = server.create_event(rate=50, classes=CLASSES)
    token = server.admitted(event, "buyer")
    status, held = reserve(server, event, token, [{"ticketClassId": "stalls", "quantity": 2}, {"ticketClassId": "ga", "quantity": 1}])
    assert status == 201, held
    assert held["status"] == "held" and held["reservationId"] and held["expiresAt"].endswith("Z")
    items = {i["ticketClassId"]: i for i in held["items"]}
    assert items["ga"]["quantity"] == 1 and len(items["stalls"]["seats"]) == 2
    rid = held["reservationId"]

    status, read = server.call("GET", "/v1/reservations/" + rid, headers=bearer(token))
    assert status == 200 and read["status"] == "held" and read["reservationId"] == rid

    status, order = server.call("POST", "/v1/reservations/%s/confirm" % rid,
                                {"payment": {"method": "card", "simulate": "approve"}}, headers=bearer(token, "pay-1"))
    assert status == 202 and order["status"] == "pending" and order["orderId"]
    status, read = server.call("GET", "/v1/reservations/" + rid, headers=bearer(token))
    assert read["status"] == "confirmed" and read["orderId"] == order["orderId"]
    status, body = server.call("DELETE", "/v1/reservations/" + rid, headers=bearer(token))
    assert status == 409 and body["error"]["code"] == "reservation_confirmed"

    status, second = reserve(server, event, token, [{"ticketClassId": "ga", "quantity": 2}])
    assert status == 201
    status, body = server.call("DELETE", "/v1/reservations/" + second["reservationId"], headers=bearer(token))
    assert status == 204 and body is None
    status, read = server.call("GET", "/v1/reservations/" + second["reservationId"], headers=bearer(token))
    assert read["status"] == "released"
    status, stats = server.call("GET", "/v1/admin/events/%s/stats" % event, admin=True)
    by_class = {c["id"]: c for c in stats["ticketClasses"]}
    assert by_class["ga"]["held"] == 0 and by_class["ga"]["sold"] == 1
    assert by_class["stalls"]["sold"] == 2


def test_idempotency_key_replays_and_refuses_reuse(server):
    event = server.create_event(rate=50, classes=CLASSES)
    token = server.admitted(event, "retrier")
    items = [{"ticketClassId": "ga", "quantity": 2}]
    first = reserve(server, event, token, items, key="same-key")
    again = reserve(server, event, token, items, key="same-key")
    assert first == again and first[0] == 201
    status, body = reserve(server, event, token, [{"ticketClassId": "ga", "quantity": 3}], key="same-key")
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused"
    _, stats = server.call("GET", "/v1/admin/events/%s/stats" % event, admin=True)
    assert {c["id"]: c["held"] for c in stats["ticketClasses"]}["ga"] == 2
    status, body = server.call("POST", "/v1/events/%s/reservations" % event, {"items": items}, headers=bearer(token))
    assert status == 400 and body["error"]["code"] == "idempotency_key_required"


def test_refused_tokens_are_401(server):
    event = server.create_event(rate=50, classes=CLASSES)
    other = server.create_event(rate=50, classes=CLASSES)
    token = server.admitted(event, "owner")
    items = [{"ticketClassId": "ga", "quantity": 1}]
    now = int(time.time())
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    expired = sign_token("A", event, 1, now - 5)
    ticket_not_admission = sign_token("T", event, 1, 0)
    for bad in (tampered, expired, ticket_not_admission, "not-a-token", sign_token("A", other, 1, now + 60)):
        status, body = reserve(server, event, bad, items)
        assert status == 401 and body["error"]["code"] == "invalid_token", (bad, status, body)
    status, body = server.call("POST", "/v1/events/%s/reservations" % event, {"items": items}, headers={"Idempotency-Key": "k"})
    assert status == 401 and body["error"]["code"] == "invalid_token"
    # A good token of this event reserves; the same token cannot touch another event.
    status, held = reserve(server, event, token, items)
    assert status == 201
    status, body = reserve(server, other, token, items)
    assert status == 401
    # Another admission of the same event cannot see or release it.
    stranger = server.admitted(event, "stranger")
    status, body = server.call("GET", "/v1/reservations/" + held["reservationId"], headers=bearer(stranger))
    assert status == 404 and body["error"]["code"] == "reservation_not_found"
    status, body = server.call("DELETE", "/v1/reservations/" + held["reservationId"], headers=bearer(stranger))
    assert status == 404


def test_bad_items_and_payments_are_clear_4xx(server):
    event = server.create_event(rate=50, classes=CLASSES)
    token = server.admitted(event, "clumsy")
    cases = [
        ([], 422, "invalid_items"),
        ([{"ticketClassId": "ga", "quantity": 0}], 422, "invalid_items"),
        ([{"ticketClassId": "ga", "quantity": 7}], 422, "invalid_items"),            # over the per-admission limit (6)
        ([{"ticketClassId": "balcony", "quantity": 1}], 422, "invalid_items"),
        ([{"ticketClassId": "ga", "quantity": 1}, {"ticketClassId": "ga", "quantity": 1}], 422, "invalid_items"),
        ([{"ticketClassId": "stalls", "quantity": "two"}], 400, "invalid_json"),
    ]
    for items, want_status, want_code in cases:
        status, body = reserve(server, event, token, items)
        assert (status, body["error"]["code"]) == (want_status, want_code), (items, status, body)
    status, held = reserve(server, event, token, [{"ticketClassId": "ga", "quantity": 4}])
    assert status == 201
    status, body = reserve(server, event, token, [{"ticketClassId": "ga", "quantity": 3}])
    assert status == 409 and body["error"]["code"] == "ticket_limit_exceeded"
    status, body = server.call("POST", "/v1/reservations/%s/confirm" % held["reservationId"],
                               {"payment": {"method": "card", "simulate": "sometimes"}}, headers=bearer(token, "p"))
    assert status == 422 and body["error"]["code"] == "invalid_payment"
    status, body = server.call("GET", "/v1/reservations/bad%20id", headers=bearer(token))
    assert status == 400 and body["error"]["code"] == "invalid_id"


def test_holds_expire_and_a_late_confirm_is_409(server):
    event = server.create_event(rate=50, classes=CLASSES)   # the server holds for 6 s (conftest)
    token = server.admitted(event, "slow")
    status, held = reserve(server, event, token, [{"ticketClassId": "stalls", "quantity": 3}])
    assert status == 201
    time.sleep(6.3)
    status, body = server.call("POST", "/v1/reservations/%s/confirm" % held["reservationId"],
                               {"payment": {"method": "card"}}, headers=bearer(token, "late"))
    assert status == 409 and body["error"]["code"] == "reservation_expired"
    deadline = time.time() + 5
    while time.time() < deadline:
        _, stats = server.call("GET", "/v1/admin/events/%s/stats" % event, admin=True)
        if {c["id"]: c["held"] for c in stats["ticketClasses"]}["stalls"] == 0:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the expired hold's seats did not come back")


def test_concurrent_buyers_never_oversell(server):
    event = server.create_event(rate=200, max_active=500, classes=[{"id": "ga", "name": "GA", "capacity": 30, "priceCents": 1}])
    tokens = [server.admitted(event, "crowd-%d" % i) for i in range(24)]
    held, refused, lock = [], [], threading.Lock()

    def buyer(token):
        for _ in range(3):
            status, body = reserve(server, event, token, [{"ticketClassId": "ga", "quantity": 2}])
            with lock:
                (held if status == 201 else refused).append((status, body))

    threads = [threading.Thread(target=buyer, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(held) == 15
    assert all(s == 409 and b["error"]["code"] == "insufficient_inventory" for s, b in refused)
    _, stats = server.call("GET", "/v1/admin/events/%s/stats" % event, admin=True)
    assert stats["ticketClasses"][0]["held"] == 30
