"""A merchant's webhook endpoint that verifies payflow's deliveries with the `stripe` library.

Run it with the secret `payflow listen --scheme stripe` prints:

    WEBHOOK_SECRET=whsec_… python docs/examples/stripe_receiver.py   # listens on :3000

It answers 200 to a verified event and 400 to anything else, exactly as an app
written against Stripe would, because payflow's `stripe` scheme is Stripe's.
"""

from __future__ import annotations

import os
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import stripe

SECRET = os.environ["WEBHOOK_SECRET"]
PORT = int(os.environ.get("PORT", "3000"))


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            event: Any = stripe.Webhook.construct_event(
                body, self.headers.get("Stripe-Signature"), SECRET
            )
        except (stripe.SignatureVerificationError, ValueError) as exc:
            print(f"rejected: {exc}", flush=True)
            self.send_response(400)
        else:
            print(f"verified {event.type} for {event.data['orderNumber']}", flush=True)
            self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per event above is enough


if __name__ == "__main__":
    print(f"receiving on http://127.0.0.1:{PORT}/webhooks", flush=True)
    HTTPServer(("127.0.0.1", PORT), Receiver).serve_forever()
