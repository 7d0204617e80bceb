"""The shop and the payment gateway it calls: two Flask applications.

Pages take e-mail addresses, postal addresses and card numbers in query strings and forms. The
checkout logs the customer's e-mail, the gateway logs the card number, and a declined card
raises an exception whose message carries the card and the e-mail. The logged-in customer's
e-mail becomes the server span's ``enduser.id``, as the semantic conventions suggest. The
gateway token is a made-up value.
"""

from __future__ import annotations

import logging

import requests
from flask import Flask, Response, abort, jsonify, redirect, request, session
from opentelemetry import trace

PRODUCTS = {
    "linen-dress-1042": {"name": "Linen summer dress", "price": 89.0},
    "denim-jacket-311": {"name": "Denim jacket", "price": 120.0},
    "wool-scarf-77": {"name": "Wool scarf", "price": 35.0},
}
DECLINED_PREFIX = "5555"
GATEWAY_TOKEN = "gw_demo_7f3a9c1e5b2d4f60a8e1"


class PaymentDeclined(Exception):
    """The gateway refused the card."""


def create_shop(payments_url: str) -> Flask:
    """The web shop; ``payments_url`` is the payment gateway's base URL."""
    app = Flask("shop")
    app.secret_key = "demo-only-not-secret"
    app.logger.setLevel(logging.INFO)

    @app.after_request
    def tag_customer(response: Response) -> Response:
        customer = session.get("customer")
        if customer:
            trace.get_current_span().set_attribute("enduser.id", customer)
        return response

    @app.get("/")
    def catalogue():
        return jsonify(sorted(PRODUCTS))

    @app.get("/products/<sku>")
    def product(sku: str):
        if sku not in PRODUCTS:
            abort(404)
        trace.get_current_span().set_attribute("shop.product.sku", sku)
        return jsonify(PRODUCTS[sku])

    @app.get("/search")
    def search():
        words = request.args.get("q", "").lower().split()
        found = [sku for sku in PRODUCTS if any(word in sku for word in words)]
        return jsonify(found)

    @app.get("/shipping/quote")
    def shipping_quote():
        zone = "domestic" if request.args.get("country", "GB") == "GB" else "abroad"
        return jsonify({"zone": zone, "price": 4.5 if zone == "domestic" else 12.0})

    @app.post("/login")
    def login():
        session["customer"] = request.form["email"]
        return redirect("/account")

    @app.get("/account")
    def account():
        if "customer" not in session:
            abort(401)
        return jsonify({"customer": session["customer"], "orders": []})

    @app.post("/checkout")
    def checkout():
        email = request.form["email"]
        card = request.form["card"]
        sku = request.form["sku"]
        answer = requests.post(
            f"{payments_url}/charge",
            params={"customer": email},
            json={"card": card, "amount": PRODUCTS[sku]["price"]},
            headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
            timeout=5,
        )
        if answer.status_code == 402:
            raise PaymentDeclined(f"card {card} declined for {email}")
        app.logger.info("order %s placed for %s", answer.json()["charge"], email)
        return jsonify({"order": answer.json()["charge"], "sku": sku}), 201

    return app


def create_payments() -> Flask:
    """The payment gateway: declines the cards of one issuer, charges the rest."""
    app = Flask("payments")
    app.logger.setLevel(logging.INFO)

    @app.post("/charge")
    def charge():
        card = str(request.get_json()["card"])
        app.logger.info("charging card %s for %s", card, request.args["customer"])
        if card.startswith(DECLINED_PREFIX):
            return jsonify({"error": "declined"}), 402
        return jsonify({"charge": f"ch_{abs(hash(card)) % 10**8:08d}"})

    return app
