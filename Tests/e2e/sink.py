#!/usr/bin/env python3
"""An HTTP sink for the outbox relay in the e2e tests: accepts POSTs of JSON batches and appends
each event as one line (JSON) to a file.

    Tests/e2e/sink.py PORT FILE
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "a") as out:
            for event in json.loads(body):
                out.write(json.dumps(event) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
