#!/usr/bin/env python3
"""A webhook receiver for sonar-relay's pushes, with Python 3's standard library only.

It verifies the Standard Webhooks signature, answers 204 when it holds and 401 when it does
not, and prints the event type, the job id and the start of the answer.

Run it beside `npm start`, then submit a job with "callback_url": "http://127.0.0.1:8791/hooks":

    python3 examples/receiver.py
    python3 examples/receiver.py --port 8791 --secret whsec_...

    --port, PORT              where to listen (default 8791), on 127.0.0.1 (HOST to change it)
    --secret, WEBHOOK_SECRET  your whsec_... signing secret; several (space-separated, or --secret
                              again) during a key rotation. Without one, the receiver asks the relay:
                              GET $RELAY_URL/v1/webhook-secret with RELAY_API_KEY (default: the "dev"
                              key in ./.dev.vars, npm start's). The dashboard shows it too.

How a push is verified (https://www.standardwebhooks.com/):
    key       = base64-decode(secret without its "whsec_" prefix)
    signature = "v1," + base64(HMAC-SHA256(key, webhook-id + "." + webhook-timestamp + "." + raw body))
webhook-signature may hold several space-separated signatures; one match is enough. A timestamp
more than 5 minutes from now is refused (a replay), and signatures are compared in constant time.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 5 * 60
"""How far webhook-timestamp may be from now, either way."""
MAX_BODY_BYTES = 2 * 1024 * 1024
"""Bodies above this are refused (413): the relay pushes at most 1 MiB, with a result_url beyond that."""


def verify(secrets, headers, body):
    """Checks one delivery's Standard Webhooks headers against the raw body; returns None or why not."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not timestamp or not signatures:
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    if not re.fullmatch(r"\d{1,15}", timestamp):
        return "webhook-timestamp is not Unix seconds"
    if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return "webhook-timestamp is more than 5 minutes from now"
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = [
        hmac.new(base64.b64decode(secret.removeprefix("whsec_")), signed, hashlib.sha256).digest()
        for secret in secrets
    ]
    for entry in signatures.split(" "):
        version, _, value = entry.partition(",")
        if version != "v1" or not value:
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(mac, given) for mac in expected):
            return None
    return "no signature matches"


def answer_of(data):
    """The answer text: a Sonar job's chat completion, or an Agent API Response's message items."""
    content = ((((data.get("response") or {}).get("choices") or [{}])[0]).get("message") or {}).get("content")
    if isinstance(content, str):
        return content
    items = [{"type": "message", "content": content}] if isinstance(content, list) else []
    items += data.get("output") or []
    parts = [part for item in items if item.get("type") == "message" for part in item.get("content") or []]
    return "".join(part.get("text", "") for part in parts if isinstance(part.get("text"), str))


def describe(body):
    """One line about an event: what happened to which job, and the start of its answer (or its error)."""
    try:
        event = json.loads(body)
    except ValueError:
        return "(the body is not JSON)"
    data = event.get("data") or {}
    answer = answer_of(data)
    if answer:
        detail = " ".join(answer.split())[:160]
    elif data.get("result_url"):
        detail = f"too large to push: {data['result_url']}"
    else:
        detail = data.get("error_message") or (data.get("error") or {}).get("message") or ""
    line = f"{event.get('type', '(no type)')}  job {data.get('id', '?')}"
    return f"{line}\n  {detail}" if detail else line


class Receiver(BaseHTTPRequestHandler):
    secrets = []
    seen = set()
    """The webhook-ids handled so far (a real receiver keeps them in its database, with the work they did)."""

    def do_POST(self):
        if not (self.headers.get("content-length") or "").isdigit():
            return self.reply(411, {"error": "content-length required"})
        length = int(self.headers["content-length"])
        if length > MAX_BODY_BYTES:
            return self.reply(413, {"error": "body too large"})
        # Verify the bytes exactly as received: parsing and re-serialising the JSON would change them.
        body = self.rfile.read(length)
        reason = verify(self.secrets, self.headers, body)
        if reason:
            print(f"✗ rejected (401): {reason}", flush=True)
            return self.reply(401, {"error": reason})
        # Verified: now the body can be trusted. An event may come more than once (a retry after a
        # lost answer, a redelivery), always with the same webhook-id: act on it once.
        msg_id = self.headers["webhook-id"]
        again = "  (again: a retry or a redelivery)" if msg_id in self.seen else ""
        self.seen.add(msg_id)
        print(f"✓ verified {describe(body.decode('utf-8', 'replace'))}{again}", flush=True)
        self.reply(204)

    def do_GET(self):
        self.reply(405, {"error": "POST only"})

    def reply(self, status, payload=None):
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        if payload is not None:
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # One line per event is printed above; no access log.


def local_api_key():
    """The local default: the "dev" tenant's key in ./.dev.vars (API_KEYS="tenant:key,..."), as npm start reads it."""
    try:
        with open(".dev.vars", encoding="utf-8") as file:
            text = file.read()
    except OSError:
        return None
    match = re.search(r"""^\s*API_KEYS\s*=\s*(?:"([^"]*)"|'([^']*)'|([^#\n]*))""", text, re.MULTILINE)
    value = next((group for group in match.groups() if group is not None), "") if match else ""
    pairs = [pair.strip() for pair in value.split(",")]
    pair = next((p for p in pairs if p.startswith("dev:")), None) or next((p for p in pairs if ":" in p), None)
    return pair.split(":", 1)[1] if pair else None


def secrets_from_relay():
    """The tenant's secrets from the relay (the current one, and the next during a rotation)."""
    relay_url = os.environ.get("RELAY_URL") or "http://127.0.0.1:8787"
    api_key = os.environ.get("RELAY_API_KEY") or local_api_key()
    if not api_key:
        sys.exit("receiver: give --secret or WEBHOOK_SECRET, or RELAY_API_KEY to fetch it from the relay.")
    request = urllib.request.Request(f"{relay_url}/v1/webhook-secret", headers={"authorization": f"Bearer {api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
    except OSError as error:
        sys.exit(f"receiver: cannot get the signing secret from {relay_url}/v1/webhook-secret: {error}")
    print(f"signing secret: from {relay_url}/v1/webhook-secret", flush=True)
    return [answer["secret"]] + ([answer["next_secret"]] if answer.get("next_secret") else [])


def main():
    parser = argparse.ArgumentParser(description="Verify and print sonar-relay's webhook pushes.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8791))
    parser.add_argument("--secret", action="append", help="whsec_... (repeat during a key rotation)")
    args = parser.parse_args()
    host = os.environ.get("HOST") or "127.0.0.1"
    Receiver.secrets = args.secret or os.environ.get("WEBHOOK_SECRET", "").replace(",", " ").split()
    if not Receiver.secrets:
        Receiver.secrets = secrets_from_relay()
    for secret in Receiver.secrets:
        try:
            base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            sys.exit("receiver: a secret is not whsec_ followed by base64")
    server = ThreadingHTTPServer((host, args.port), Receiver)
    print(
        f"receiver listening on http://{host}:{args.port} (POST to any path), {len(Receiver.secrets)} secret(s)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
