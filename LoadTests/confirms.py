#!/usr/bin/env python3
"""Reserve and confirm N orders through the HTTP API as fast as T threads can, with admission
tokens from a file (reused round-robin; run the server with WAITROOM_TICKETS_PER_ADMISSION=0).
Prints the order ids, one per line; the number of failures goes to stderr.

    LoadTests/confirms.py http://127.0.0.1:8080 EVENT TOKENS_FILE N THREADS [simulate]
"""
import json
import sys
import threading
import urllib.error
import urllib.request
import uuid


def call(base, method, path, token, body, key):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", "Bearer " + token)
    request.add_header("Idempotency-Key", key)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def main():
    base, event, tokens_file, count, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    simulate = sys.argv[6] if len(sys.argv) > 6 else "approve"
    tokens = [t for t in open(tokens_file).read().split() if t]
    orders, failures, lock, counter = [], [0], threading.Lock(), iter(range(count))

    def worker():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            token = tokens[i % len(tokens)]
            try:
                held = call(base, "POST", "/v1/events/%s/reservations" % event, token,
                            {"items": [{"ticketClassId": "ga", "quantity": 1}]}, uuid.uuid4().hex)
                order = call(base, "POST", "/v1/reservations/%s/confirm" % held["reservationId"], token,
                             {"payment": {"method": "card", "simulate": simulate}}, uuid.uuid4().hex)
                with lock:
                    orders.append(order["orderId"])
            except (urllib.error.URLError, KeyError, ValueError) as error:
                with lock:
                    failures[0] += 1
                    if failures[0] == 1:
                        print("first failure: %r" % error, file=sys.stderr)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    print("\n".join(orders))
    print("failures: %d" % failures[0], file=sys.stderr)


if __name__ == "__main__":
    main()
