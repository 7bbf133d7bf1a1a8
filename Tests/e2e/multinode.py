#!/usr/bin/env python3
"""Clients of the multi-node test (Tests/e2e/multinode.sh): browsers that join through the load
balancer and hold SSE streams, each from its own loopback address (127.0.1.x, so that every
"browser" is a different client for the per-address join limit behind the proxy); checkout
clients that reserve and confirm on a chosen edge node. Prints one `PASS name` or `FAIL name`
line per check (the shell script counts them) and `INFO ...` lines.

    multinode.py streams LB EVENT N RATE STATE.json    join N, stream, pause/resume, all admitted
    multinode.py checkout EDGE1 EDGE2 EVENT CAPACITY STATE.json ORDERS.json
    multinode.py orders EDGE1 EDGE2 ORDERS.json TIMEOUT wait until every order is completed
    multinode.py survivor LB EVENT N RATE NODE PID...  N stream on both nodes; PIDs killed; NODE admits all
    multinode.py limit LB EVENT                        the join limit counts clients, not the proxy

The admin token comes from WAITROOM_ADMIN_TOKEN.
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid

ADMIN = os.environ.get("WAITROOM_ADMIN_TOKEN", "")


def report(ok, name):
    print(("PASS " if ok else "FAIL ") + name, flush=True)
    return ok


def info(text):
    print("INFO " + text, flush=True)


def client_address(i):
    """A distinct loopback source address per simulated browser."""
    return "127.0.%d.%d" % (1 + i // 250, 1 + i % 250)


def call(base, method, path, body=None, token=None, admin=False, source=None, key=None, timeout=10):
    """One request; answers (status, decoded JSON or None, headers)."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    headers = {"Content-Type": "application/json"}
    if admin:
        headers["Authorization"] = "Bearer " + ADMIN
    if token:
        headers["Authorization"] = "Bearer " + token
    if key:
        headers["Idempotency-Key"] = key
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, (json.loads(raw) if raw else None), dict(response.getheaders())
    finally:
        conn.close()


class Stream(threading.Thread):
    """One browser's SSE stream: records every event with the time it arrived, and reconnects
    (with Last-Event-ID, as EventSource does) when the stream breaks before it is over."""

    def __init__(self, base, event, ticket, source, lifetime=90):
        super().__init__(daemon=True)
        self.base, self.event, self.ticket, self.source = base, event, ticket, source
        self.deadline = time.time() + lifetime
        self.events = []          # (time, name, data)
        self.nodes = []           # the node of each connection, in order
        self.last_id = None
        self.ended = threading.Event()
        self.lock = threading.Lock()

    @property
    def node(self):
        return self.nodes[-1] if self.nodes else None

    def run(self):
        try:
            while time.time() < self.deadline:
                if self.connect_once():
                    return
                time.sleep(0.2)
        finally:
            self.ended.set()

    def connect_once(self):
        """One connection; answers True when the stream is over (admitted, sold out, refused)."""
        url = urllib.parse.urlsplit(self.base)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60, source_address=(self.source, 0))
        headers = {"Accept": "text/event-stream"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        try:
            conn.request("GET", "/v1/events/%s/queue/%s/stream" % (self.event, self.ticket), headers=headers)
            response = conn.getresponse()
            if response.status != 200:
                self.record("refused", {"status": response.status})
                return response.status < 500
            with self.lock:
                self.nodes.append(response.getheader("X-Waitroom-Edge"))
            name, data = None, []
            while True:
                line = response.readline()
                if not line:
                    return False
                line = line.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line.startswith("id:"):
                    self.last_id = line[3:].strip()
                elif line == "":
                    if name:
                        self.record(name, json.loads("\n".join(data) or "{}"))
                        if name in ("admitted", "sold_out"):
                            return True
                    name, data = None, []
        except Exception as error:  # noqa: BLE001 - a broken stream is a test outcome, recorded
            self.record("error", {"error": repr(error)})
            return False
        finally:
            conn.close()

    def record(self, name, data):
        with self.lock:
            self.events.append((time.time(), name, data))

    def named(self, name):
        with self.lock:
            return [e for e in self.events if e[1] == name]

    def latest_position(self):
        positions = self.named("position")
        return positions[-1][2]["position"] if positions else None


def wait_until(predicate, timeout, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def join_and_stream(base, event, count, offset, prefix):
    """Joins `count` browsers one after the other (so their order is known) and opens their streams."""
    joined, streams = [], []
    for i in range(count):
        source = client_address(offset + i)
        status, body, _ = call(base, "POST", "/v1/events/%s/queue" % event, {"userId": "%s-%d" % (prefix, i)}, source=source)
        if status != 201:
            report(False, "join %d answered 201 (got %s %s)" % (i, status, body))
            return joined, streams
        joined.append(body)
    for i, place in enumerate(joined):
        stream = Stream(base, event, place["ticket"], client_address(offset + i))
        stream.start()
        streams.append(stream)
    return joined, streams


def admission(base, event, **settings):
    status, body, _ = call(base, "PATCH", "/v1/admin/events/%s/admission" % event, settings, admin=True)
    if status != 200:
        raise SystemExit("admission PATCH answered %s %s" % (status, body))


def streams_phase(base, event, count, rate, state_file):
    joined, streams = join_and_stream(base, event, count, 0, "mn")
    report(len(joined) == count, "%d joins through the load balancer, each from its own address (201)" % count)
    report([p["position"] for p in joined] == list(range(1, count + 1)),
           "join answers give positions 1..%d in join order" % count)
    report(wait_until(lambda: all(s.named("position") for s in streams), 15),
           "every stream got its first position event")
    nodes = [s.node for s in streams]
    info("streams per node: " + ", ".join("%s=%d" % (n, nodes.count(n)) for n in sorted(set(map(str, nodes)))))
    report(set(nodes) == {"edge1", "edge2"}, "streams landed on both edge nodes")
    first = [s.named("position")[0][2]["position"] for s in streams]
    report(first == list(range(1, count + 1)), "first stream position is exact on both nodes (1..%d)" % count)

    # Some admissions, then a pause: once the frames have settled, every waiting browser's
    # latest position must be its exact rank among those still waiting, whichever node it is on.
    admission(base, event, paused=False)
    time.sleep(2.5)
    admission(base, event, paused=True)
    time.sleep(2.0)
    admitted = [i for i, s in enumerate(streams) if s.named("admitted")]
    k = len(admitted)
    info("admitted before the pause: %d" % k)
    report(admitted == list(range(k)), "admissions follow join order (first %d admitted)" % k)
    report(0 < k < count, "some but not all admitted before the pause (%d of %d)" % (k, count))
    wrong = [(i, streams[i].latest_position(), i - k + 1) for i in range(k, count)
             if streams[i].latest_position() != i - k + 1]
    report(not wrong, "after the pause every waiting stream shows its exact position on both nodes"
           + ("" if not wrong else " (wrong: %s)" % wrong[:5]))

    admission(base, event, paused=False)
    report(wait_until(lambda: all(s.named("admitted") for s in streams), count / rate + 15),
           "every stream got its admitted event")
    report(wait_until(lambda: all(s.ended.is_set() for s in streams), 5), "every stream ended after admitted")
    report(all(len(s.nodes) == 1 for s in streams), "no stream had to reconnect")
    counts = [len(s.named("admitted")) for s in streams]
    report(all(c == 1 for c in counts), "no stream got admitted twice")
    tokens = [s.named("admitted")[0][2]["token"] for s in streams if s.named("admitted")]
    report(len(set(tokens)) == count, "%d distinct admission tokens" % len(set(tokens)))
    times = sorted(s.named("admitted")[0][0] for s in streams[k:] if s.named("admitted"))
    # Arrival order: frames of one tick reach browsers on two nodes a little apart, so a later
    # place may arrive a moment before an earlier one; never by more than that.
    order = [s.named("admitted")[0][0] for s in streams if s.named("admitted")]
    skew = max([max(order[:i]) - order[i] for i in range(1, len(order))] + [0.0])
    info("largest arrival skew of admitted events across nodes: %.3f s" % skew)
    report(skew <= 0.3, "admitted events arrive in join order across both nodes (skew %.3f s)" % skew)
    # One admitter at `rate` per second: after the first second (a token bucket may start full),
    # the rate stays near `rate`; two admitters would give about twice that.
    if len(times) >= 4:
        start = times[0] + 1.0
        later = [t for t in times if t > start]
        span = times[-1] - start
        steady = len(later) / span if span > 0 else float("inf")
        info("admissions after the resume: %d over %.2f s; steady rate %.1f/s (ratePerSecond %d)"
             % (len(times), times[-1] - times[0], steady, rate))
        report(0.6 * rate <= steady <= 1.4 * rate, "admission rate matches ratePerSecond (one admitter across both nodes)")
    status, stats, _ = call(base, "GET", "/v1/admin/events/%s/stats" % event, admin=True)
    info("stats: admittedTotal=%s waiting=%s active=%s" % (stats.get("admittedTotal"), stats.get("waiting"), stats.get("active")))
    report(status == 200 and stats.get("admittedTotal") == count == len(set(tokens)),
           "stats admittedTotal equals the distinct admitted (%d)" % count)
    report(stats.get("waiting") == 0, "nobody left waiting")
    json.dump([{"node": s.node, "token": s.named("admitted")[0][2]["token"]} for s in streams if s.named("admitted")],
              open(state_file, "w"))


def checkout_phase(edge1, edge2, event, capacity, state_file, orders_file):
    clients = json.load(open(state_file))
    bases = {"edge1": edge1, "edge2": edge2}
    other = {"edge1": "edge2", "edge2": "edge1"}
    results = [None] * len(clients)

    def reserve(i):
        c = clients[i]
        # The token came from a stream on one node; it is spent on the other.
        results[i] = call(bases[other[c["node"]]], "POST", "/v1/events/%s/reservations" % event,
                          {"items": [{"ticketClassId": "ga", "quantity": 1}]}, token=c["token"], key=uuid.uuid4().hex)

    threads = [threading.Thread(target=reserve, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    held = [i for i, r in enumerate(results) if r and r[0] == 201]
    refused = [i for i, r in enumerate(results) if r and r[0] == 409]
    info("reservations on the other node: %d held, %d refused (409), capacity %d" % (len(held), len(refused), capacity))
    report(len(held) == capacity, "exactly the capacity was reserved across both nodes (%d of %d)" % (len(held), len(clients)))
    report(len(held) + len(refused) == len(clients), "every other reservation was refused with 409")
    codes = {r[1]["error"]["code"] for i, r in enumerate(results) if i in refused}
    report(codes <= {"insufficient_inventory", "sold_out"}, "refusals say the tickets are gone (%s)" % sorted(codes))
    orders = []
    for i in held:
        c = clients[i]
        status, body, _ = call(bases[c["node"]], "POST", "/v1/reservations/%s/confirm" % results[i][1]["reservationId"],
                               {"payment": {"method": "card", "simulate": "approve"}}, token=c["token"], key=uuid.uuid4().hex)
        if status == 202:
            orders.append({"orderId": body["orderId"], "token": c["token"], "node": c["node"]})
    report(len(orders) == len(held), "every hold confirmed on the node of its stream (202): %d orders" % len(orders))
    json.dump(orders, open(orders_file, "w"))


def orders_phase(edge1, edge2, orders_file, timeout):
    orders = json.load(open(orders_file))
    bases = {"edge1": edge1, "edge2": edge2}
    other = {"edge1": "edge2", "edge2": "edge1"}

    def statuses():
        return [call(bases[other[o["node"]]], "GET", "/v1/orders/" + o["orderId"], token=o["token"])[1]["status"]
                for o in orders]

    done = wait_until(lambda: all(s == "completed" for s in statuses()), timeout, step=0.5)
    final = statuses()
    info("orders: " + ", ".join("%s=%d" % (s, final.count(s)) for s in sorted(set(final))))
    report(done, "all %d orders completed (read on the other node)" % len(orders))
    with_tickets = [o for o in orders
                    if len(call(bases[o["node"]], "GET", "/v1/orders/" + o["orderId"], token=o["token"])[1]["tickets"]) == 1]
    report(len(with_tickets) == len(orders), "each completed order carries its ticket code")


def survivor_phase(base, event, count, rate, survivor, victim_pids):
    joined, streams = join_and_stream(base, event, count, 500, "kill")
    report(len(joined) == count, "%d joins through the load balancer while both nodes run" % count)
    report(wait_until(lambda: all(s.named("position") for s in streams), 15), "their streams opened")
    info("streams per node before the kill: " + ", ".join(
        "%s=%d" % (n, [s.node for s in streams].count(n)) for n in sorted({str(s.node) for s in streams})))
    report({s.node for s in streams} == {"edge1", "edge2"}, "on both nodes")
    for pid in victim_pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    info("killed the other node (kill -9 of %s)" % " ".join(map(str, victim_pids)))
    # The browsers of the dead node reconnect through the proxy and land on the survivor.
    report(wait_until(lambda: all(s.node == survivor for s in streams), 15),
           "every stream is on the surviving node (%s) after reconnecting" % survivor)
    moved = [s for s in streams if len(s.nodes) > 1]
    info("%d streams reconnected" % len(moved))
    report(len(moved) > 0, "the dead node's streams reconnected")
    time.sleep(1.5)
    latest = [s.latest_position() for s in streams]
    report(latest == list(range(1, count + 1)), "exact positions 1..%d on the survivor, reconnected or not (%s)" % (count, latest))
    admission(base, event, paused=False)
    started = time.time()
    report(wait_until(lambda: all(s.named("admitted") for s in streams), count / rate + 20),
           "the surviving node admitted all %d" % count)
    info("admitted %d in %.1f s after the resume" % (sum(1 for s in streams if s.named("admitted")), time.time() - started))
    status, stats, _ = call(base, "GET", "/v1/admin/events/%s/stats" % event, admin=True)
    report(status == 200 and stats.get("admittedTotal") == count, "stats admittedTotal is %d" % count)


def limit_phase(base, event):
    statuses = [call(base, "POST", "/v1/events/%s/queue" % event, {"userId": "flood-%d" % i}, source="127.0.4.1")[0]
                for i in range(30)]
    info("30 quick joins from one client through the proxy: %d answered 429" % statuses.count(429))
    report(statuses.count(429) > 0, "one client over the join limit gets 429 through the proxy")
    status = call(base, "POST", "/v1/events/%s/queue" % event, {"userId": "neighbour"}, source="127.0.4.2")[0]
    report(status == 201, "another client behind the same proxy still joins (201): X-Forwarded-For is trusted")


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "streams":
        streams_phase(args[0], args[1], int(args[2]), int(args[3]), args[4])
    elif command == "checkout":
        checkout_phase(args[0], args[1], args[2], int(args[3]), args[4], args[5])
    elif command == "orders":
        orders_phase(args[0], args[1], args[2], float(args[3]))
    elif command == "survivor":
        survivor_phase(args[0], args[1], int(args[2]), int(args[3]), args[4], [int(p) for p in args[5:]])
    elif command == "limit":
        limit_phase(args[0], args[1])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
