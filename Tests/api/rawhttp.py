"""Raw HTTP/1.1 over asyncio sockets, for requests that no HTTP library would send."""
import asyncio
import json
import resource


def raise_file_limit(wanted):
    """Lifts this process's open-file limit towards `wanted` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


class Answer:
    """One parsed response: status, lower-cased headers, body bytes."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def error_code(self):
        """The `error.code` of the API's error shape; fails when the body is not that shape."""
        assert self.headers.get("content-type", "").startswith("application/json"), self.headers
        parsed = self.json()
        assert set(parsed) >= {"error"} and set(parsed["error"]) == {"code", "message"}, parsed
        assert isinstance(parsed["error"]["message"], str) and parsed["error"]["message"]
        return parsed["error"]["code"]


async def read_answer(reader, head_request=False):
    """Reads one response (Content-Length or close-delimited); None if the peer closed first."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if head_request or status in (204, 304) or 100 <= status < 200:
        return Answer(status, headers, b"")
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body = await reader.read()
    return Answer(status, headers, body)


async def exchange(host, port, payload, expect=1, timeout=10):
    """Sends raw bytes on a new connection and reads up to `expect` answers; returns
    (answers, closed), `closed` being whether the server ended the connection after them."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    answers = []
    try:
        writer.write(payload)
        await writer.drain()
        while len(answers) < expect:
            answer = await asyncio.wait_for(read_answer(reader), timeout)
            if answer is None:
                return answers, True
            answers.append(answer)
            if answer.headers.get("connection", "").lower() == "close":
                break
        if answers and answers[-1].headers.get("connection", "").lower() == "close":
            try:
                rest = await asyncio.wait_for(reader.read(), timeout)
            except ConnectionError:
                rest = b""
            return answers, rest == b""
        return answers, False
    except ConnectionError:
        return answers, True
    finally:
        writer.close()
