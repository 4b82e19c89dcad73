#!/usr/bin/env python3
"""A STAND-IN for the Kubernetes API server, for tern's integration tests.

This is not a live cluster and not a real kube-apiserver: it is a small
Python (stdlib only) server on 127.0.0.1 that speaks the parts of the real
HTTP list/watch protocol that a client like kube-rs uses, with the JSON of
core/v1, discovery.k8s.io/v1 and networking.k8s.io/v1:

  GET /api/v1/{pods,services,endpoints,nodes}
  GET /api/v1/namespaces/{ns}/{pods,services,endpoints}
  GET /apis/discovery.k8s.io/v1[/namespaces/{ns}]/endpointslices
  GET /apis/networking.k8s.io/v1[/namespaces/{ns}]/ingresses
    list: a {Kind}List with metadata.resourceVersion (the current one);
          labelSelector (=, ==, !=, in, notin, exists, !exists) and
          fieldSelector (metadata.name, metadata.namespace, spec.nodeName,
          status.phase; =, ==, !=) applied; limit is ignored (as the real
          server does for resourceVersion=0, served from its watch cache).
    ?watch=1: chunked newline-delimited watch events ADDED, MODIFIED,
          DELETED (also when a change moves an object out of a selector),
          BOOKMARK (allowWatchBookmarks), and ERROR with a 410 Status
          ("reason":"Expired") when resourceVersion is older than the
          oldest event kept; timeoutSeconds honoured.

Control interface for tests (not part of the Kubernetes API):
  POST   /_control/apply            {"resource": "pods", "object": {...}}: create or
                                    update (ADDED / MODIFIED), returns the stored object
  DELETE /_control/objects/{resource}/{namespace or _}/{name}: DELETED
  POST   /_control/expire           forget all events so far; open watches get
                                    ERROR 410 and are closed (so clients relist)
  POST   /_control/drop             close every open watch stream (clean end)
  POST   /_control/bookmark         send a BOOKMARK on every watch that allows them
  POST   /_control/fail?count=N     answer the next N API requests 500 (InternalError)
  GET    /_control/stats            {"lists": [...], "watches": [...], "open_watches": n}
                                    each entry {"path", "query", "authorization"} as
                                    requested (test credentials only)

Prints "PORT <n>" on stdout once listening. Stops when stdin closes.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

RESOURCES = {
    # resource: (api prefix, kind, apiVersion, namespaced)
    "pods": ("/api/v1", "Pod", "v1", True),
    "services": ("/api/v1", "Service", "v1", True),
    "endpoints": ("/api/v1", "Endpoints", "v1", True),
    "nodes": ("/api/v1", "Node", "v1", False),
    "endpointslices": ("/apis/discovery.k8s.io/v1", "EndpointSlice", "discovery.k8s.io/v1", True),
    "ingresses": ("/apis/networking.k8s.io/v1", "Ingress", "networking.k8s.io/v1", True),
}


class State:
    def __init__(self):
        self.cond = threading.Condition()
        self.rv = 100  # current resourceVersion
        self.objects = {}  # (resource, ns, name) -> object
        self.events = []  # (rv, resource, type, old, new)
        self.oldest = 0  # events with rv <= oldest are forgotten
        self.drop_gen = 0  # bumped to close watches cleanly
        self.expire_gen = 0  # bumped to send 410 to open watches
        self.bookmark_gen = 0
        self.lists = []
        self.watches = []
        self.fail_next = 0  # API requests still to answer 500
        self.failed = 0
        self.open_watches = 0

    def apply(self, resource, obj):
        with self.cond:
            meta = obj.setdefault("metadata", {})
            ns = meta.get("namespace", "") if RESOURCES[resource][3] else ""
            key = (resource, ns, meta["name"])
            old = self.objects.get(key)
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            meta.setdefault("uid", "uid-%s-%s-%s" % (resource, ns, meta["name"]))
            meta.setdefault("creationTimestamp", "2024-01-01T00:00:00Z")
            self.objects[key] = obj
            self.events.append((self.rv, resource, "MODIFIED" if old else "ADDED", old, obj))
            self.cond.notify_all()
            return obj

    def delete(self, resource, ns, name):
        with self.cond:
            old = self.objects.pop((resource, "" if ns == "_" else ns, name), None)
            if old is None:
                return False
            self.rv += 1
            gone = json.loads(json.dumps(old))
            gone["metadata"]["resourceVersion"] = str(self.rv)
            self.events.append((self.rv, resource, "DELETED", old, gone))
            self.cond.notify_all()
            return True

    def expire(self):
        with self.cond:
            self.oldest = self.rv
            self.events = []
            self.expire_gen += 1
            self.cond.notify_all()

    def bump(self, attr):
        with self.cond:
            setattr(self, attr, getattr(self, attr) + 1)
            self.cond.notify_all()


STATE = State()


# ------------------------------------------------------------ selectors

def split_terms(s):
    terms, depth, cur = [], 0, ""
    for c in s:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == "," and depth == 0:
            terms.append(cur.strip())
            cur = ""
        else:
            cur += c
    if cur.strip():
        terms.append(cur.strip())
    return terms


def label_matches(selector, labels):
    for term in split_terms(selector or ""):
        words = term.split()
        if len(words) >= 3 and words[1] in ("in", "notin"):
            key, op = words[0], words[1]
            values = {v.strip() for v in term.split("(", 1)[1].rstrip(")").split(",")}
            inside = labels.get(key) in values
            if (op == "in" and not inside) or (op == "notin" and key in labels and inside):
                return False
        elif "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def field_value(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


def field_matches(selector, obj):
    for term in split_terms(selector or ""):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if field_value(obj, k.strip()) == v.strip():
                return False
        else:
            k, v = term.replace("==", "=").split("=", 1)
            if field_value(obj, k.strip()) != v.strip():
                return False
    return True


class Query:
    def __init__(self, resource, ns, params):
        self.resource = resource
        self.ns = ns
        self.label = params.get("labelSelector", [""])[0]
        self.field = params.get("fieldSelector", [""])[0]

    def matches(self, obj):
        if obj is None:
            return False
        if self.ns is not None and obj["metadata"].get("namespace", "") != self.ns:
            return False
        return label_matches(self.label, obj["metadata"].get("labels") or {}) and field_matches(
            self.field, obj
        )


def typed(resource, obj):
    _, kind, api_version, _ = RESOURCES[resource]
    out = dict(obj)
    out["kind"] = kind
    out["apiVersion"] = api_version
    return out


def parse_path(path):
    """(resource, namespace or None) for an API path, else None."""
    for resource, (prefix, _, _, namespaced) in RESOURCES.items():
        if path == "%s/%s" % (prefix, resource):
            return resource, None
        if namespaced and path.startswith(prefix + "/namespaces/"):
            rest = path[len(prefix + "/namespaces/"):].split("/")
            if len(rest) == 2 and rest[1] == resource:
                return resource, rest[0]
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def status(self, code, reason, message):
        self.send_json(code, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                              "status": "Failure", "message": message, "reason": reason,
                              "code": code})

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"null")

    def do_POST(self):
        path = urlsplit(self.path).path
        if path == "/_control/apply":
            body = self.read_body()
            self.send_json(200, STATE.apply(body["resource"], body["object"]))
        elif path == "/_control/expire":
            STATE.expire()
            self.send_json(200, {})
        elif path == "/_control/drop":
            STATE.bump("drop_gen")
            self.send_json(200, {})
        elif path == "/_control/fail":
            with STATE.cond:
                STATE.fail_next = int(parse_qs(urlsplit(self.path).query)["count"][0])
            self.send_json(200, {})
        elif path == "/_control/bookmark":
            STATE.bump("bookmark_gen")
            self.send_json(200, {})
        else:
            self.status(404, "NotFound", "no such control path")

    def do_DELETE(self):
        parts = urlsplit(self.path).path.split("/")
        if len(parts) == 6 and parts[1:3] == ["_control", "objects"]:
            found = STATE.delete(parts[3], parts[4], parts[5])
            self.send_json(200 if found else 404, {})
        else:
            self.status(404, "NotFound", "no such control path")

    def do_GET(self):
        url = urlsplit(self.path)
        params = parse_qs(url.query)
        if url.path == "/_control/stats":
            with STATE.cond:
                body = {"lists": STATE.lists, "watches": STATE.watches,
                        "open_watches": STATE.open_watches, "resource_version": STATE.rv,
                        "failed": STATE.failed}
            return self.send_json(200, body)
        parsed = parse_path(url.path)
        if parsed is None:
            return self.status(404, "NotFound", "the server could not find the requested resource")
        with STATE.cond:
            fail = STATE.fail_next > 0
            if fail:
                STATE.fail_next -= 1
                STATE.failed += 1
        if fail:
            return self.status(500, "InternalError", "injected failure")
        query = Query(parsed[0], parsed[1], params)
        record = {"path": url.path, "query": {k: v[0] for k, v in params.items()},
                  "authorization": self.headers.get("Authorization")}
        if params.get("watch", [""])[0] in ("1", "true"):
            with STATE.cond:
                STATE.watches.append(record)
            return self.watch(query, params)
        with STATE.cond:
            STATE.lists.append(record)
            items = [o for (r, _, _), o in sorted(STATE.objects.items()) if r == query.resource
                     and query.matches(o)]
            rv = STATE.rv
        _, kind, api_version, _ = RESOURCES[query.resource]
        self.send_json(200, {"kind": kind + "List", "apiVersion": api_version,
                             "metadata": {"resourceVersion": str(rv)}, "items": items})

    def chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, query, params):
        since = int(params.get("resourceVersion", ["0"])[0] or 0)
        bookmarks = params.get("allowWatchBookmarks", [""])[0] == "true"
        timeout = float(params.get("timeoutSeconds", ["3600"])[0])
        deadline = time.monotonic() + timeout
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with STATE.cond:
            STATE.open_watches += 1
            drop_gen, expire_gen, bookmark_gen = STATE.drop_gen, STATE.expire_gen, STATE.bookmark_gen
            expired = since != 0 and since < STATE.oldest
        try:
            if expired:
                self.send_expired(since)
                return
            if since == 0:
                # "Any" starting point: the current objects as ADDED.
                with STATE.cond:
                    since = STATE.rv
                    current = [o for (r, _, _), o in sorted(STATE.objects.items())
                               if r == query.resource and query.matches(o)]
                for o in current:
                    self.chunk({"type": "ADDED", "object": typed(query.resource, o)})
            while time.monotonic() < deadline:
                with STATE.cond:
                    STATE.cond.wait_for(
                        lambda: STATE.rv > since or STATE.drop_gen != drop_gen
                        or STATE.expire_gen != expire_gen or STATE.bookmark_gen != bookmark_gen,
                        timeout=0.5)
                    pending = [e for e in STATE.events if e[0] > since and e[1] == query.resource]
                    dropped = STATE.drop_gen != drop_gen
                    expired = STATE.expire_gen != expire_gen
                    bookmark = STATE.bookmark_gen != bookmark_gen
                    bookmark_gen = STATE.bookmark_gen
                    current_rv = STATE.rv
                if expired:
                    self.send_expired(since)
                    return
                for rv, resource, kind, old, new in pending:
                    was, now = query.matches(old), query.matches(new)
                    if kind == "DELETED":
                        event = "DELETED" if was else None
                    elif now:
                        event = "MODIFIED" if was else "ADDED"
                    else:
                        event = "DELETED" if was else None
                    if event:
                        self.chunk({"type": event, "object": typed(resource, new)})
                # Events of other resources up to here need no answer either.
                since = max(since, current_rv)
                if dropped:
                    return
                if bookmark and bookmarks:
                    _, kind, api_version, _ = RESOURCES[query.resource]
                    self.chunk({"type": "BOOKMARK", "object": {
                        "kind": kind, "apiVersion": api_version,
                        "metadata": {"resourceVersion": str(since)}}})
        except (BrokenPipeError, ConnectionResetError):
            return
        finally:
            with STATE.cond:
                STATE.open_watches -= 1
            try:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True

    def send_expired(self, since):
        self.chunk({"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "too old resource version: %d (%d)" % (since, STATE.oldest),
            "reason": "Expired", "code": 410}})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("PORT %d" % server.server_address[1], flush=True)
    sys.stdin.read()  # until the test closes stdin (or dies)


if __name__ == "__main__":
    main()
