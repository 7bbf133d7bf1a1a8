"""10,000 malformed requests: bad request lines, invalid header bytes, huge heads, huge or
invalid Content-Length, chunked garbage, bad JSON, wrong JSON types, wrong ids, bodies over the
limit. Each gets its 4xx in the API's error shape (unparsable HTTP: `400` and a closed
connection), and no worker crashes."""
import asyncio
import collections
import hashlib
import hmac
import json
import time

from conftest import ADMIN_TOKEN, MAX_BODY_BYTES, WEBHOOK_SECRET
from rawhttp import exchange, raise_file_limit

TOTAL = 10_000
CONCURRENCY = 32
ADMIN = "Authorization: Bearer %s\r\n" % ADMIN_TOKEN
EVENT = {"name": "n", "ticketClasses": [{"id": "a", "name": "n", "capacity": 1, "priceCents": 1}],
         "admission": {"ratePerSecond": 1, "maxActive": 1, "sessionSeconds": 10}}


def request(method, path, body=b"", headers=""):
    if isinstance(body, str):
        body = body.encode()
    return (("%s %s HTTP/1.1\r\nHost: t\r\n%sContent-Length: %d\r\n\r\n" % (method, path, headers, len(body))).encode()
            + body)


def event_body(**changes):
    body = json.loads(json.dumps(EVENT))
    for key, value in changes.items():
        if key == "class_name":
            body["ticketClasses"][0]["name"] = value
        else:
            body[key] = value
    return json.dumps(body)


def signed_webhook(payload):
    body = json.dumps(payload).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return request("POST", "/v1/payments/webhook", body, "X-Payment-Signature: %s\r\n" % signature)


HEAD = b"GET /healthz HTTP/1.1\r\nHost: t\r\n"
JOIN = b"POST /v1/events/demo/queue HTTP/1.1\r\nHost: t\r\n"

# (name, raw request, status, error code, whether the server must close the connection)
CASES = [
    # Unparsable HTTP: 400 bad_request, then the connection closes.
    ("garbage request line", b"GARBAGE\r\n\r\n", 400, "bad_request", True),
    ("unknown HTTP version", b"GET /healthz HTTP/9.9\r\nHost: t\r\n\r\n", 400, "bad_request", True),
    ("HTTP/0.9 request line", b"GET /healthz\r\n\r\n", 400, "bad_request", True),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "bad_request", True),
    ("bad method token", b"G(T /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 400, "bad_request", True),
    ("bare LF line ends", b"GET /healthz HTTP/1.1\nHost: t\n\n", 400, "bad_request", True),
    ("non-ASCII target", b"GET /\xff\xfe HTTP/1.1\r\nHost: t\r\n\r\n", 400, "bad_request", True),
    ("control byte in header name", HEAD + b"X-B\x01d: v\r\n\r\n", 400, "bad_request", True),
    ("NUL in header value", HEAD + b"X-Bad: a\x00b\r\n\r\n", 400, "bad_request", True),
    ("header without colon", HEAD + b"NoColon\r\n\r\n", 400, "bad_request", True),
    ("space before colon", HEAD + b"X-Bad : v\r\n\r\n", 400, "bad_request", True),
    ("Content-Length not a number", JOIN + b"Content-Length: abc\r\n\r\n", 400, "bad_request", True),
    ("negative Content-Length", JOIN + b"Content-Length: -1\r\n\r\n", 400, "bad_request", True),
    ("Content-Length overflowing", JOIN + b"Content-Length: 99999999999999999999999\r\n\r\n", 400, "bad_request", True),
    ("two Content-Lengths", JOIN + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400, "bad_request", True),
    ("Content-Length and chunked", JOIN + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
     400, "bad_request", True),
    ("unknown Transfer-Encoding", JOIN + b"Transfer-Encoding: gzip\r\n\r\n{}", 400, "bad_request", True),
    ("chunk size garbage", JOIN + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400, "bad_request", True),
    ("chunk without CRLF", JOIN + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", 400, "bad_request", True),
    # Heads and bodies over the limits.
    ("huge header", HEAD + b"X-Big: " + b"a" * 40_000 + b"\r\n\r\n", 431, "request_header_fields_too_large", True),
    ("huge request target", b"GET /" + b"a" * 40_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n",
     431, "request_header_fields_too_large", True),
    ("huge Content-Length", JOIN + b"Content-Length: 1000000000\r\n\r\n", 413, "payload_too_large", True),
    ("body over the limit", request("POST", "/v1/events/demo/queue", b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}"),
     413, "payload_too_large", True),
    ("chunked body over the limit", JOIN + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % (MAX_BODY_BYTES + 100)
     + b"a" * (MAX_BODY_BYTES + 100) + b"\r\n0\r\n\r\n", 413, "payload_too_large", True),
    ("admin body over the limit", request("PUT", "/v1/admin/events/mx", b"[" * (MAX_BODY_BYTES + 1), ADMIN),
     413, "payload_too_large", True),
    # Well-formed HTTP, wrong content: the route's 4xx; the connection stays usable.
    ("join: bad JSON", request("POST", "/v1/events/demo/queue", "{"), 400, "invalid_json", False),
    ("join: JSON array", request("POST", "/v1/events/demo/queue", "[]"), 400, "invalid_json", False),
    ("join: userId a number", request("POST", "/v1/events/demo/queue", '{"userId": 5}'), 400, "invalid_json", False),
    ("join: userId an object", request("POST", "/v1/events/demo/queue", '{"userId": {"a": 1}}'),
     400, "invalid_json", False),
    ("join: invalid UTF-8", request("POST", "/v1/events/demo/queue", b'{"userId":"\xff\xfe"}'), 400, "invalid_json", False),
    ("join: lone surrogate", request("POST", "/v1/events/demo/queue", '{"userId":"\\ud800"}'), 400, "invalid_json", False),
    ("join: nested 30,000 deep", request("POST", "/v1/events/demo/queue", "[" * 30_000 + "]" * 30_000),
     400, "invalid_json", False),
    ("join: number out of range", request("POST", "/v1/events/demo/queue", '{"userId": 1e999999}'),
     400, "invalid_json", False),
    ("join: userId too long", request("POST", "/v1/events/demo/queue", json.dumps({"userId": "u" * 200})),
     422, "invalid_user_id", False),
    ("join: event id with a dot", request("POST", "/v1/events/bad.id/queue", "{}"), 400, "invalid_id", False),
    ("join: event id of 65", request("POST", "/v1/events/%s/queue" % ("e" * 65), "{}"), 400, "invalid_id", False),
    ("place: escaped slash in id", request("GET", "/v1/events/a%2Fb/queue/x"), 400, "invalid_id", False),
    ("place: forged ticket", request("GET", "/v1/events/demo/queue/AAAA"), 404, "ticket_not_found", False),
    ("stream: huge Last-Event-ID", request("GET", "/v1/events/demo/queue/AAAA/stream", "",
                                           "Last-Event-ID: 99999999999999999999999\r\n"), 404, "ticket_not_found", False),
    ("reservation id with a space", request("GET", "/v1/reservations/a%20b"), 400, "invalid_id", False),
    ("order id of 65", request("GET", "/v1/orders/" + "o" * 65), 400, "invalid_id", False),
    ("reserve: no token", request("POST", "/v1/events/demo/reservations", '{"items": []}'), 401, "invalid_token", False),
    ("reserve: latin-1 token", request("POST", "/v1/events/demo/reservations", "{}",
                                       "Authorization: Bearer \xff\xfe\r\n"), 401, "invalid_token", False),
    ("confirm: forged token", request("POST", "/v1/reservations/r1/confirm", "{}",
                                      "Authorization: Bearer AAAA\r\nIdempotency-Key: k\r\n"), 401, "invalid_token", False),
    ("admin: wrong token", request("GET", "/v1/admin/events/demo", "", "Authorization: Bearer nope\r\n"),
     401, "unauthorized", False),
    ("admin: name a number", request("PUT", "/v1/admin/events/mx", '{"name": 5}', ADMIN), 400, "invalid_json", False),
    ("admin: paused a string", request("PATCH", "/v1/admin/events/demo/admission", '{"paused": "yes"}', ADMIN),
     400, "invalid_json", False),
    ("admin: maxActive 1e300", request("PATCH", "/v1/admin/events/demo/admission", '{"maxActive": 1e300}', ADMIN),
     400, "invalid_json", False),
    ("admin: rate zero", request("PATCH", "/v1/admin/events/demo/admission", '{"ratePerSecond": 0}', ADMIN),
     422, "invalid_admission", False),
    ("admin: NUL in the name", request("PUT", "/v1/admin/events/mx", event_body(name="a\u0000b"), ADMIN),
     422, "invalid_event", False),
    ("admin: control byte in a class name", request("PUT", "/v1/admin/events/mx", event_body(class_name="\u0007"), ADMIN),
     422, "invalid_event", False),
    ("admin: opensAt in year 1", request("PUT", "/v1/admin/events/mx", event_body(opensAt="0001-01-01T00:00:00Z"), ADMIN),
     422, "invalid_event", False),
    ("admin: opensAt not a time", request("PUT", "/v1/admin/events/mx", event_body(opensAt="tomorrow"), ADMIN),
     422, "invalid_event", False),
    ("admin: stats of no event", request("GET", "/v1/admin/events/none-such/stats", "", ADMIN),
     404, "event_not_found", False),
    ("webhook: no signature", request("POST", "/v1/payments/webhook", "{}"), 401, "invalid_signature", False),
    ("webhook: signed, NUL in orderId", signed_webhook({"paymentId": "p", "orderId": "o\u0000", "status": "succeeded",
                                                         "amountCents": 1}), 400, "invalid_payload", False),
    ("webhook: signed, wrong types", signed_webhook({"paymentId": 1, "orderId": [], "status": 2, "amountCents": "x"}),
     400, "invalid_payload", False),
    ("unknown route", request("GET", "/v2/nothing"), 404, "not_found", False),
    ("trailing slash", request("GET", "/healthz/"), 404, "not_found", False),
    ("wrong method", request("DELETE", "/healthz"), 405, "method_not_allowed", False),
    ("unknown method on a route", request("PURGE", "/v1/events/demo/queue"), 405, "method_not_allowed", False),
]


async def run(port):
    raise_file_limit(4096)
    outcomes = collections.Counter()
    problems = []
    counter = iter(range(TOTAL))

    async def worker():
        for n in counter:
            name, payload, status, code, closes = CASES[n % len(CASES)]
            try:
                answers, closed = await exchange("127.0.0.1", port, payload, expect=1, timeout=10)
            except Exception as error:  # noqa: BLE001 - any failure is a finding
                problems.append((name, repr(error)))
                continue
            if len(answers) != 1:
                problems.append((name, "no answer", closed))
                continue
            answer = answers[0]
            try:
                got = answer.error_code()
            except Exception as error:  # noqa: BLE001
                problems.append((name, answer.status, answer.body[:200], repr(error)))
                continue
            if (answer.status, got) != (status, code) or (closes and not closed):
                problems.append((name, answer.status, got, "closed" if closed else "open"))
            if status == 405:
                assert "allow" in answer.headers
            outcomes[answer.status] += 1

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return outcomes, problems


def test_ten_thousand_malformed_requests_get_clear_4xx_answers_and_crash_nothing(server):
    pids = server.worker_pids()
    started = time.monotonic()
    outcomes, problems = asyncio.run(run(server.port))
    elapsed = time.monotonic() - started
    print("%d malformed requests in %.1f s (%d kinds): %s" % (TOTAL, elapsed, len(CASES), dict(sorted(outcomes.items()))))
    assert problems == [], problems[:20]
    assert sum(outcomes.values()) == TOTAL
    assert all(400 <= status < 500 for status in outcomes)
    server.assert_healthy(pids)


def test_a_tiny_admission_rate_gives_a_capped_eta_not_a_crash(server):
    """Regression: `Int(position / rate)` trapped for rate 1e-300, killing the worker."""
    pids = server.worker_pids()
    body = json.loads(event_body())
    body["admission"]["ratePerSecond"] = 1e-300
    status, _, _ = server.call("PUT", "/v1/admin/events/tiny-rate", body, admin=True)
    assert status in (200, 201)
    etas = []
    for user in ("first", "second"):
        status, joined, _ = server.call("POST", "/v1/events/tiny-rate/queue", {"userId": user})
        assert status in (200, 201), joined
        for _ in range(4):   # both workers answer in turn
            status, place, _ = server.call("GET", "/v1/events/tiny-rate/queue/" + joined["ticket"])
            assert status == 200, place
            if place["state"] == "waiting":
                etas.append(place["etaSeconds"])
    assert etas and all(eta is None or eta == 2**31 - 1 for eta in etas), etas
    server.assert_healthy(pids)


def test_admin_times_are_rfc3339(server):
    """Regression: the admin routes sent `opensAt` as seconds since 2001."""
    status, event, _ = server.call("PUT", "/v1/admin/events/rfc-time", json.loads(
        event_body(opensAt="2030-05-01T10:00:00Z")), admin=True)
    assert status in (200, 201) and event["opensAt"] == "2030-05-01T10:00:00Z", event
    status, event, _ = server.call("GET", "/v1/admin/events/rfc-time", admin=True)
    assert status == 200 and event["opensAt"] == "2030-05-01T10:00:00Z", event
