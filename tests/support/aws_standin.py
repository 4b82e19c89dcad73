#!/usr/bin/env python3
"""Local stand-ins for the AWS endpoints tern's SigV4 tests talk to, on
127.0.0.1 only, each speaking the real wire protocol:

- receiver: an Amazon Managed Service for Prometheus remote-write endpoint.
  It verifies every request's AWS Signature Version 4 independently of tern,
  with botocore's signer (``botocore.auth.SigV4Auth``, from PyPI): it
  recomputes the canonical request from the signed headers, the path and the
  body it received, the string to sign and the signature with the secret key
  it knows for the access key id, and compares. It checks the body's SHA-256
  against ``x-amz-content-sha256``, the credential scope (date, region,
  service ``aps``), the clock skew (5 minutes, as AWS) and the session token.
  It answers refusals as AMP does: 403 with ``x-amzn-ErrorType`` and a JSON
  ``{"message": ...}`` (ExpiredTokenException, UnrecognizedClientException,
  InvalidSignatureException with the canonical string quoted, as AWS quotes
  it, AccessDeniedException). Accepted requests are forwarded unchanged to the
  upstream (the tests' Rust receiver, which decodes and records them) and its
  answer relayed.
- sts: AWS STS's query protocol (``POST /``, form-encoded), answering
  ``AssumeRoleWithWebIdentity`` (checks the role ARN and the web identity
  token) and ``AssumeRole`` (itself SigV4-verified, service ``sts``) with the
  XML STS sends; every call mints new credentials that the receiver accepts
  until they expire.
- imds: EC2 instance metadata with IMDSv2 sessions: ``PUT /latest/api/token``
  (requires ``X-aws-ec2-metadata-token-ttl-seconds``), then the role name,
  the role's credentials (JSON, as EC2 serves them) and the region, each only
  with the session token. Like EC2, it serves the same credentials until they
  come within ``rotate_before`` seconds of their expiry (or the receiver was
  told they expired), then new ones.

The tests drive it through ``/_control/...`` on the receiver's port (JSON).
The first line on stdout is ``{"receiver": port, "sts": port, "imds": port}``.
The process exits when its standard input closes (the test went away).

Usage: aws_standin.py --upstream URL [--region us-east-1] [--service aps]
"""

import argparse
import datetime
import hashlib
import hmac
import json
import os
import secrets
import string
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

MAX_SKEW = 300
ACCOUNT = "123456789012"
CORAL = ":http://internal.amazon.com/coral/com.amazon.coral.service/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


class Store:
    """Keys the receiver knows, what the stand-ins were asked, and a log."""

    def __init__(self):
        self.lock = threading.Lock()
        self.keys = {}  # access key id -> dict(secret, token, expires, state)
        self.log = []  # one dict per request to the receiver
        self.sts = {"role_arn": None, "token": None, "lifetime": 3600, "base": None}
        self.sts_calls = []
        self.imds = {"role": "tern-instance-role", "lifetime": 21600, "rotate_before": 300}
        self.imds_current = None
        self.imds_calls = []
        self.imds_tokens = set()

    def mint(self, lifetime, prefix="ASIA"):
        alphabet = string.ascii_uppercase + string.digits
        key = {
            "access_key_id": prefix + "".join(secrets.choice(alphabet) for _ in range(16)),
            "secret": secrets.token_urlsafe(30)[:40],
            "token": "IQoJb3JpZ2luX2Vj" + secrets.token_urlsafe(96),
            "expires": time.time() + lifetime,
            "state": "valid",
        }
        self.keys[key["access_key_id"]] = key
        return key


STORE = Store()


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_authorization(value):
    """``AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..``."""
    if not value or not value.startswith("AWS4-HMAC-SHA256 "):
        return None
    parts = {}
    for item in value[len("AWS4-HMAC-SHA256 "):].split(","):
        name, _, val = item.strip().partition("=")
        parts[name] = val
    if not {"Credential", "SignedHeaders", "Signature"} <= parts.keys():
        return None
    scope = parts["Credential"].split("/")
    if len(scope) != 5:
        return None
    return {
        "access_key_id": scope[0],
        "date": scope[1],
        "region": scope[2],
        "service": scope[3],
        "terminator": scope[4],
        "signed_headers": parts["SignedHeaders"].split(";"),
        "signature": parts["Signature"],
    }


class Refusal(Exception):
    def __init__(self, error_type, message, status=403):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


def verify(method, path, headers, body, region, service, need_content_sha=True):
    """Verifies a SigV4-signed request; returns the key record or raises Refusal."""
    auth = parse_authorization(headers.get("Authorization"))
    if auth is None:
        raise Refusal("MissingAuthenticationTokenException", "Missing Authentication Token")
    with STORE.lock:
        key = dict(STORE.keys.get(auth["access_key_id"]) or {})
    if not key:
        raise Refusal("UnrecognizedClientException", "The security token included in the request is invalid.")
    token = headers.get("X-Amz-Security-Token")
    if key.get("token") and token != key["token"]:
        raise Refusal("UnrecognizedClientException", "The security token included in the request is invalid.")
    if key["state"] == "expired" or (key.get("expires") and time.time() >= key["expires"]):
        raise Refusal("ExpiredTokenException", "The security token included in the request is expired")
    amz_date = headers.get("X-Amz-Date", "")
    try:
        signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise Refusal("IncompleteSignatureException", "Missing or malformed X-Amz-Date")
    skew = abs(time.time() - signed_at.timestamp())
    if skew > MAX_SKEW:
        raise Refusal("InvalidSignatureException", f"Signature expired: {amz_date} is now earlier or later than allowed")
    if auth["date"] != amz_date[:8] or auth["terminator"] != "aws4_request":
        raise Refusal("InvalidSignatureException", "Credential should be scoped to a valid date")
    if auth["region"] != region or auth["service"] != service:
        raise Refusal("InvalidSignatureException", f"Credential should be scoped to a valid region and service ({region}/{service})")
    required = {"host", "x-amz-date"}
    if need_content_sha:
        required.add("x-amz-content-sha256")
    if token:
        required.add("x-amz-security-token")
    missing = required - set(auth["signed_headers"])
    if missing:
        raise Refusal("IncompleteSignatureException", f"Headers not signed: {sorted(missing)}")
    content_sha = headers.get("X-Amz-Content-Sha256")
    if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
        raise Refusal(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "(x-amz-content-sha256 does not match the body)",
        )
    signed = {}
    for name in auth["signed_headers"]:
        value = headers.get(name)
        if value is None:
            raise Refusal("IncompleteSignatureException", f"Signed header {name} is missing")
        signed[name] = value
    request = AWSRequest(method=method, url=f"http://{signed['host']}{path}", headers=signed, data=body)
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(key["access_key_id"], key["secret"], key.get("token")), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, auth["signature"]):
        # As AWS does: the message quotes the canonical string, session
        # token included (tern must not log it).
        raise Refusal(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation "
            f"for details.\n\nThe Canonical String for this request should have been\n'{canonical}'\n",
        )
    if key["state"] == "denied":
        raise Refusal(
            "AccessDeniedException",
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/tern/session is not authorized to perform: "
            f"aps:RemoteWrite on resource: arn:aws:aps:{region}:{ACCOUNT}:workspace/ws-test",
        )
    return key


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, status, body=b"", content_type="application/json", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def json(self, status, value):
        self.answer(status, json.dumps(value))


class Receiver(Handler):
    region = "us-east-1"
    service = "aps"
    upstream = ""

    def do_GET(self):
        with STORE.lock:
            if self.path == "/_control/log":
                return self.json(200, STORE.log)
            if self.path == "/_control/sts_calls":
                return self.json(200, STORE.sts_calls)
            if self.path == "/_control/imds_calls":
                return self.json(200, STORE.imds_calls)
            if self.path == "/_control/keys":
                return self.json(200, list(STORE.keys.values()))
        self.json(404, {"message": "not found"})

    def do_POST(self):
        body = self.body()
        if self.path.startswith("/_control/"):
            return self.control(self.path[len("/_control/"):], json.loads(body or b"{}"))
        try:
            key = verify("POST", self.path, self.headers, body, self.region, self.service)
        except Refusal as r:
            self.record(r.status, r.error_type)
            return self.answer(
                r.status,
                json.dumps({"message": r.message}),
                headers=[("x-amzn-ErrorType", r.error_type + CORAL), ("x-amzn-RequestId", secrets.token_hex(8))],
            )
        forward = urllib.request.Request(self.upstream, data=body, method="POST")
        for name in ("Content-Type", "Content-Encoding", "X-Prometheus-Remote-Write-Version", "User-Agent"):
            if self.headers.get(name):
                forward.add_header(name, self.headers[name])
        forward.add_header("X-Standin-Access-Key-Id", key["access_key_id"])
        try:
            with urllib.request.urlopen(forward, timeout=10) as r:
                status, answer = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, answer = e.code, e.read()
        except OSError as e:
            status, answer = 502, str(e).encode()
        self.record(status, None, key["access_key_id"])
        self.answer(status, answer, content_type="text/plain")

    def record(self, status, error_type, access_key_id=None):
        if access_key_id is None:
            auth = parse_authorization(self.headers.get("Authorization"))
            access_key_id = auth["access_key_id"] if auth else None
        with STORE.lock:
            STORE.log.append({"time": time.time(), "access_key_id": access_key_id, "status": status, "error": error_type})

    def control(self, what, req):
        with STORE.lock:
            if what == "key":
                key = {"state": "valid", "token": None, "expires": None}
                key.update(req)
                STORE.keys[key["access_key_id"]] = key
            elif what == "state":
                STORE.keys[req["access_key_id"]]["state"] = req["state"]
            elif what == "sts":
                STORE.sts.update(req)
            elif what == "imds":
                STORE.imds.update(req)
            else:
                return self.json(404, {"message": f"unknown control {what}"})
        self.json(200, {"ok": True})


class Sts(Handler):
    region = "us-east-1"

    def do_POST(self):
        body = self.body()
        form = dict(urllib.parse.parse_qsl(body.decode()))
        action = form.get("Action")
        with STORE.lock:
            STORE.sts_calls.append({"time": time.time(), "action": action, "role_arn": form.get("RoleArn"),
                                    "external_id": form.get("ExternalId")})
            conf = dict(STORE.sts)
        if action == "AssumeRoleWithWebIdentity":
            if form.get("WebIdentityToken") != conf["token"]:
                return self.error(400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider")
            if form.get("RoleArn") != conf["role_arn"]:
                return self.error(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
        elif action == "AssumeRole":
            try:
                verify("POST", self.path, self.headers, body, self.region, "sts", need_content_sha=False)
            except Refusal as r:
                return self.error(403, r.error_type, r.message)
            if form.get("RoleArn") != conf["role_arn"]:
                return self.error(403, "AccessDenied", "Not authorized to perform sts:AssumeRole")
        else:
            return self.error(400, "InvalidAction", f"Could not find operation {action}")
        with STORE.lock:
            key = STORE.mint(conf["lifetime"])
        session = form.get("RoleSessionName", "session")
        role = (form.get("RoleArn") or "").split("/")[-1]
        extra = ""
        if action == "AssumeRoleWithWebIdentity":
            extra = ("<SubjectFromWebIdentityToken>system:serviceaccount:monitoring:tern</SubjectFromWebIdentityToken>"
                     "<Audience>sts.amazonaws.com</Audience><Provider>oidc.eks.us-east-1.amazonaws.com</Provider>")
        xml = (
            f'<{action}Response xmlns="{STS_NS}"><{action}Result>{extra}'
            f"<AssumedRoleUser><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}</Arn>"
            f"<AssumedRoleId>AROA{ACCOUNT}:{session}</AssumedRoleId></AssumedRoleUser>"
            f"<Credentials><AccessKeyId>{key['access_key_id']}</AccessKeyId>"
            f"<SecretAccessKey>{key['secret']}</SecretAccessKey>"
            f"<SessionToken>{key['token']}</SessionToken>"
            f"<Expiration>{iso(key['expires'])}</Expiration></Credentials>"
            f"</{action}Result><ResponseMetadata><RequestId>{secrets.token_hex(16)}</RequestId>"
            f"</ResponseMetadata></{action}Response>"
        )
        self.answer(200, xml, content_type="text/xml")

    def error(self, status, code, message):
        xml = (f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
               f"<Message>{message}</Message></Error><RequestId>{secrets.token_hex(16)}</RequestId></ErrorResponse>")
        self.answer(status, xml, content_type="text/xml")


class Imds(Handler):
    region = "us-east-1"

    def do_PUT(self):
        self.body()
        if self.path != "/latest/api/token":
            return self.answer(404, "", content_type="text/plain")
        if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self.answer(400, "", content_type="text/plain")
        token = secrets.token_urlsafe(32)
        with STORE.lock:
            STORE.imds_tokens.add(token)
            STORE.imds_calls.append({"time": time.time(), "path": self.path})
        self.answer(200, token, content_type="text/plain",
                    headers=[("X-aws-ec2-metadata-token-ttl-seconds", self.headers["X-aws-ec2-metadata-token-ttl-seconds"])])

    def do_GET(self):
        with STORE.lock:
            STORE.imds_calls.append({"time": time.time(), "path": self.path})
            if self.headers.get("X-aws-ec2-metadata-token") not in STORE.imds_tokens:
                return self.answer(401, "", content_type="text/plain")
            conf = dict(STORE.imds)
            base = "/latest/meta-data/iam/security-credentials/"
            if self.path == "/latest/meta-data/placement/region":
                return self.answer(200, self.region, content_type="text/plain")
            if self.path == base:
                return self.answer(200, conf["role"], content_type="text/plain")
            if self.path == base + conf["role"]:
                key = STORE.imds_current
                stale = (key is None or key["state"] != "valid"
                         or key["expires"] - time.time() < conf["rotate_before"])
                if stale:
                    key = STORE.mint(conf["lifetime"])
                    STORE.imds_current = key
                key = STORE.keys[key["access_key_id"]]
                STORE.imds_current = key
                doc = {
                    "Code": "Success",
                    "LastUpdated": iso(time.time()),
                    "Type": "AWS-HMAC",
                    "AccessKeyId": key["access_key_id"],
                    "SecretAccessKey": key["secret"],
                    "Token": key["token"],
                    "Expiration": iso(key["expires"]),
                }
                return self.answer(200, json.dumps(doc, indent=2), content_type="text/plain")
        self.answer(404, "", content_type="text/plain")


def serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--service", default="aps")
    args = parser.parse_args()
    Receiver.upstream = args.upstream
    Receiver.region = Sts.region = Imds.region = args.region
    Receiver.service = args.service
    ports = {"receiver": serve(Receiver), "sts": serve(Sts), "imds": serve(Imds)}
    print(json.dumps(ports), flush=True)
    # Until the test goes away.
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
