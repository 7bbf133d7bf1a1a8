#!/usr/bin/env python3
"""Admission tokens through the real queue: joins N users to an event and waits until each is
admitted; prints one token per line (for `waitroom-load reserve --tokens`).

    LoadTests/admissions.py http://127.0.0.1:8080 EVENT N [USER_PREFIX]
"""
import json
import sys
import time
import urllib.request


def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def main():
    base, event, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    prefix = sys.argv[4] if len(sys.argv) > 4 else "load"
    queue = "%s/v1/events/%s/queue" % (base.rstrip("/"), event)
    tickets = [call("POST", queue, {"userId": "%s-%d" % (prefix, i)})["ticket"] for i in range(count)]
    tokens, deadline = {}, time.time() + 120
    while len(tokens) < count and time.time() < deadline:
        for ticket in tickets:
            if ticket not in tokens:
                place = call("GET", queue + "/" + ticket)
                if place.get("admission"):
                    tokens[ticket] = place["admission"]["token"]
        time.sleep(0.05)
    if len(tokens) < count:
        sys.exit("only %d of %d admitted in time" % (len(tokens), count))
    print("\n".join(tokens[t] for t in tickets))


if __name__ == "__main__":
    main()
