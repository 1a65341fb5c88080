"""A swarmq HTTP agent service in Python, standard library only.

It checks each request's signature, runs the task, and answers as
docs/http-agents.md says. The "work" is a toy writer; the payload fields
below show each part of the contract at work (a retriable failure, a
refusal, a rate limit, progress).

    SWARMQ_AGENT_SECRET=... PORT=8000 python3 examples/python-agent/server.py

It prints one JSON line per event on stdout ({"event": "listening", "port": ...},
started, done, aborted, refused), which the swarm's tests read.
"""
import hashlib
import hmac
import json
import os
import re
import select
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ.get("SWARMQ_AGENT_SECRET", "").encode()
if not SECRET:
    sys.exit("set SWARMQ_AGENT_SECRET to the secret the swarm signs requests with")
PORT = int(os.environ.get("PORT", "8000"))
TOLERANCE_MS = 5 * 60 * 1000
MAX_BODY = 1024 * 1024

_lock = threading.Lock()
# Answers already given, by Idempotency-Key, for as long as a signed request can be replayed.
_answered = {}
# Tasks already told to come back later (rateLimitSeconds), so the next call runs.
_limited = set()


_out = threading.Lock()


def log(event, **fields):
    # One write per line under a lock: print() writes the newline apart, so threads would interleave lines.
    line = json.dumps({"event": event, **fields}) + "\n"
    with _out:
        sys.stdout.write(line)
        sys.stdout.flush()


def verify(headers, body):
    """The check of docs/http-agents.md: a fresh timestamp, and HMAC-SHA256 of "v1:<timestamp>:<body>"."""
    ts = headers.get("x-swarmq-timestamp")
    sig = headers.get("x-swarmq-signature")
    if ts is None or not re.fullmatch(r"[0-9]{1,16}", ts):
        return "missing or malformed x-swarmq-timestamp"
    if abs(time.time() * 1000 - int(ts)) > TOLERANCE_MS:
        return "stale x-swarmq-timestamp"
    if sig is None:
        return "missing x-swarmq-signature"
    mac = hmac.new(SECRET, b"v1:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(sig.encode(), ("v1=" + mac).encode()) else "bad signature"


class Aborted(Exception):
    """The swarm closed the connection: the task was cancelled or its time is up."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the swarm reuses its connections

    def log_message(self, *args):
        pass

    def send_json(self, status, value, headers=()):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for name, v in headers:
            self.send_header(name, v)
        self.end_headers()
        self.wfile.write(body)

    def wait(self, seconds):
        """Sleeps, noticing at once if the swarm closes the connection meanwhile."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            readable, _, _ = select.select([self.connection], [], [], left)
            if readable and self.connection.recv(1, socket.MSG_PEEK) == b"":
                raise Aborted()

    def chunk(self, data):
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        except (BrokenPipeError, ConnectionResetError):
            raise Aborted()

    def do_POST(self):
        if self.path != "/run":
            return self.send_json(404, {"error": "POST /run"})
        length = int(self.headers.get("content-length", "0"))
        if length > MAX_BODY:
            self.close_connection = True
            return self.send_json(413, {"error": "body too large"})
        body = self.rfile.read(length)
        refused = verify(self.headers, body)
        if refused:
            log("refused", why=refused)
            return self.send_json(401, {"error": refused})
        key = self.headers.get("idempotency-key")
        with _lock:
            done = _answered.get(key)
        if done:
            return self.send_json(200, done[0])
        try:
            task = json.loads(body)
        except ValueError:
            return self.send_json(400, {"error": "the body is not JSON"})
        log("started", taskId=task["taskId"], attempt=task["attempt"])
        try:
            result = self.handle_task(task)
        except Aborted:
            self.close_connection = True
            log("aborted", taskId=task["taskId"])
            return
        if result is not None:
            with _lock:
                _answered[key] = (result, time.time())
                for k in [k for k, (_, at) in _answered.items() if time.time() - at > TOLERANCE_MS / 1000]:
                    del _answered[k]
            log("done", taskId=task["taskId"])

    def handle_task(self, task):
        p = task["payload"] if isinstance(task["payload"], dict) else {}
        if isinstance(p.get("reject"), str):
            return self.send_json(422, {"error": p["reject"]})
        if isinstance(p.get("failAttempts"), int) and task["attempt"] <= p["failAttempts"]:
            return self.send_json(503, {"error": "attempt %d fails on purpose" % task["attempt"]})
        if isinstance(p.get("rateLimitSeconds"), int):
            with _lock:
                first = task["taskId"] not in _limited
                _limited.add(task["taskId"])
            if first:
                return self.send_json(429, {"error": "busy"}, [("retry-after", str(p["rateLimitSeconds"]))])
        if isinstance(p.get("sleepMs"), int):
            self.wait(p["sleepMs"] / 1000)
        text = p.get("text")
        result = {"written": text.upper() if isinstance(text, str) else None, "type": task["type"], "attempt": task["attempt"], "agentId": task["agentId"], "by": "python"}
        steps = p.get("progress")
        if isinstance(steps, int):
            self.send_response(200)
            self.send_header("content-type", "application/x-ndjson")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for i in range(1, steps + 1):
                self.chunk(json.dumps({"progress": {"step": i, "of": steps}}).encode() + b"\n")
                self.wait(p.get("stepMs", 10) / 1000)
            self.chunk(json.dumps({"result": result}).encode() + b"\n")
            self.chunk(b"")
            return result
        self.send_json(200, result)
        return result


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 would refuse connections when many agents call at once


if __name__ == "__main__":
    server = Server(("127.0.0.1", PORT), Handler)
    log("listening", port=server.server_address[1])
    server.serve_forever()
