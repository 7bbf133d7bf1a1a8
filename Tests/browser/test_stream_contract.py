"""The queue's HTTP contract through a real server: the stream's headers and framing,
`Last-Event-ID` resume keeping the place, and refused tickets."""
import http.client
import json
from urllib.parse import urlparse


def open_stream(server, event, ticket, last_event_id=None):
    url = urlparse(server.base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    connection.request("GET", "/v1/events/%s/queue/%s/stream" % (event, ticket), headers=headers)
    return connection, connection.getresponse()


def read_frames(response, count):
    """Reads SSE frames (dicts of field -> value) until `count` frames with data have arrived."""
    frames, current = [], {}
    while len([f for f in frames if "data" in f]) < count:
        line = response.fp.readline().decode().rstrip("\n")
        if line == "":
            if current:
                frames.append(current)
            current = {}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        current[field] = value[1:] if value.startswith(" ") else value
    return frames


def test_stream_headers_and_first_frames(server):
    event = server.create_event(rate=1, paused=True)
    server.call("POST", "/v1/events/%s/queue" % event, {"userId": "ahead"})
    status, joined = server.call("POST", "/v1/events/%s/queue" % event, {"userId": "me"})
    assert status == 201 and joined["position"] == 2 and joined["state"] == "waiting"
    connection, response = open_stream(server, event, joined["ticket"])
    try:
        assert response.status == 200
        assert response.getheader("Content-Type").startswith("text/event-stream")
        assert response.getheader("Cache-Control") == "no-store"
        assert response.getheader("X-Accel-Buffering") == "no"
        frames = read_frames(response, 1)
        assert frames[0].get("retry", "").isdigit()
        position = frames[-1]
        assert position["event"] == "position" and position["id"] == "1"
        data = json.loads(position["data"])
        assert data["position"] == 2 and "etaSeconds" in data
    finally:
        connection.close()


def test_last_event_id_resume_keeps_the_place_and_continues_ids(server):
    event = server.create_event(rate=1, paused=True)
    for user in ("a", "b"):
        server.call("POST", "/v1/events/%s/queue" % event, {"userId": user})
    _, joined = server.call("POST", "/v1/events/%s/queue" % event, {"userId": "c"})
    connection, response = open_stream(server, event, joined["ticket"])
    first = [f for f in read_frames(response, 1) if "data" in f][0]
    connection.close()
    # The browser reconnects with the last id it saw: same place, ids go on from there.
    connection, response = open_stream(server, event, joined["ticket"], last_event_id=41)
    try:
        resumed = [f for f in read_frames(response, 1) if "data" in f][0]
        assert resumed["id"] == "42"
        assert json.loads(resumed["data"])["position"] == json.loads(first["data"])["position"] == 3
    finally:
        connection.close()
    # Rejoining with the same user id is the same place too.
    status, again = server.call("POST", "/v1/events/%s/queue" % event, {"userId": "c"})
    assert status == 200 and again["ticket"] == joined["ticket"] and again["position"] == 3


def test_forged_and_foreign_tickets_are_404(server):
    event = server.create_event(rate=1, paused=True)
    other = server.create_event(rate=1, paused=True)
    _, joined = server.call("POST", "/v1/events/%s/queue" % event, {"userId": "x"})
    ticket = joined["ticket"]
    forged = ticket[:-2] + ("AA" if ticket[-2:] != "AA" else "BB")
    for path in ("/v1/events/%s/queue/%s" % (event, forged), "/v1/events/%s/queue/%s" % (other, ticket),
                 "/v1/events/%s/queue/not-a-ticket" % event):
        status, body = server.call("GET", path)
        assert status == 404 and body["error"]["code"] == "ticket_not_found", path
    status, body = server.call("POST", "/v1/events/no-such-event/queue", {"userId": "x"})
    assert status == 404 and body["error"]["code"] == "event_not_found"
    status, body = server.call("POST", "/v1/events/%s/queue" % event, {"userId": 5})
    assert status == 400 and body["error"]["code"] == "invalid_json"


def test_leave_frees_the_place(server):
    event = server.create_event(rate=1, paused=True)
    _, first = server.call("POST", "/v1/events/%s/queue" % event, {"userId": "one"})
    _, second = server.call("POST", "/v1/events/%s/queue" % event, {"userId": "two"})
    assert second["position"] == 2
    status, _ = server.call("DELETE", "/v1/events/%s/queue/%s" % (event, first["ticket"]))
    assert status == 204
    status, body = server.call("GET", "/v1/events/%s/queue/%s" % (event, second["ticket"]))
    assert status == 200 and body["position"] == 1
    status, body = server.call("GET", "/v1/events/%s/queue/%s" % (event, first["ticket"]))
    assert status == 200 and body["state"] == "left"
