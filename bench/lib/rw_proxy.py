#!/usr/bin/env python3
"""A counting pass-through proxy for Prometheus remote write.

Usage: rw_proxy.py LISTEN_PORT UPSTREAM_URL

Listens on 127.0.0.1:LISTEN_PORT. A `POST /<agent>/api/v1/write` (or any path
`/<agent>/...`) is forwarded unchanged (body and the remote-write headers) to
UPSTREAM_URL, and the upstream's status and body are returned to the sender.
Per agent (the first path segment) it counts requests, request body bytes (the
compressed bytes on the wire, without HTTP headers) and responses by status.

`GET /stats` returns the counters as JSON:
  {"tern": {"requests": N, "body_bytes": N, "status": {"204": N}, "last_request": unix_s}, ...}

Standard library only: one thread per connection (agents keep connections
alive), one upstream connection per thread. At a benchmark's rate (~20
requests/s of ~100 KiB) this costs a few per cent of a core.
"""

import http.client
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FORWARDED_HEADERS = (
    "Content-Type",
    "Content-Encoding",
    "User-Agent",
    "X-Prometheus-Remote-Write-Version",
    "Authorization",
)

LOCK = threading.Lock()
STATS = {}
UPSTREAM = None  # (host, port, path)
LOCAL = threading.local()


def upstream_conn(fresh=False):
    conn = getattr(LOCAL, "conn", None)
    if conn is None or fresh:
        if conn is not None:
            conn.close()
        conn = http.client.HTTPConnection(UPSTREAM[0], UPSTREAM[1], timeout=60)
        LOCAL.conn = conn
    return conn


def forward(body, headers):
    for attempt in (0, 1):
        conn = upstream_conn(fresh=attempt == 1)
        try:
            conn.request("POST", UPSTREAM[2], body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read(), resp.getheader("Content-Type")
        except (http.client.HTTPException, OSError):
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args):
        pass

    def reply(self, status, body=b"", content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type or "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                body = json.dumps(STATS, sort_keys=True).encode()
            self.reply(200, body, "application/json")
        else:
            self.reply(404, b"not found\n")

    def do_POST(self):
        agent = self.path.lstrip("/").split("/", 1)[0] or "-"
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {h: self.headers[h] for h in FORWARDED_HEADERS if self.headers.get(h)}
        try:
            status, resp_body, content_type = forward(body, headers)
        except (http.client.HTTPException, OSError) as e:
            status, resp_body, content_type = 502, f"proxy: upstream error: {e}\n".encode(), "text/plain"
        with LOCK:
            s = STATS.setdefault(agent, {"requests": 0, "body_bytes": 0, "status": {}, "last_request": 0.0})
            s["requests"] += 1
            s["body_bytes"] += len(body)
            s["status"][str(status)] = s["status"].get(str(status), 0) + 1
            s["last_request"] = time.time()
        self.reply(status, resp_body, content_type)


def main():
    global UPSTREAM
    if len(sys.argv) != 3:
        sys.exit("usage: rw_proxy.py LISTEN_PORT UPSTREAM_URL")
    port = int(sys.argv[1])
    url = urllib.parse.urlsplit(sys.argv[2])
    UPSTREAM = (url.hostname, url.port or 80, url.path or "/")
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
