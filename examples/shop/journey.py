"""One customer's visit, with the personal data it plants in the shop's telemetry.

Every value is invented: an ``example.com`` address, the well-known test card numbers.
"""

from __future__ import annotations

import requests

EMAIL = "mia.hoffmann@example.com"
PASSWORD = "Harbour-Lane-27!"
CARD = "4111 1111 1111 1111"
DECLINED_CARD = "5555-5555-5555-4444"
STREET = "27 Harbour Lane"
ZIP = "BN1 4GH"
PLANTED = (EMAIL, PASSWORD, CARD, DECLINED_CARD, STREET, ZIP)
"""The personal values, as the customer types them."""

STEPS = [
    ("GET", "/", 200),
    ("GET", "/products/<sku>", 200),
    ("GET", "/products/<sku>", 404),
    ("GET", "/search", 200),
    ("GET", "/shipping/quote", 200),
    ("POST", "/login", 302),
    ("GET", "/account", 200),
    ("POST", "/checkout", 201),
    ("POST", "/checkout", 500),
]
"""Method, route template and status of each step, in order (redirects not followed)."""


def walk(base_url: str) -> list[int]:
    """Visit the shop as the customer does; the status code of each step, in order."""
    with requests.Session() as browser:
        get, post = browser.get, browser.post
        answers = [
            get(f"{base_url}/"),
            get(f"{base_url}/products/linen-dress-1042"),
            get(f"{base_url}/products/no-such-thing"),
            get(f"{base_url}/search", params={"q": "linen dress", "email": EMAIL}),
            get(
                f"{base_url}/shipping/quote",
                params={"street": STREET, "zip": ZIP, "country": "GB"},
            ),
            post(
                f"{base_url}/login",
                data={"email": EMAIL, "password": PASSWORD},
                allow_redirects=False,
            ),
            get(f"{base_url}/account"),
            post(
                f"{base_url}/checkout",
                data={"email": EMAIL, "card": CARD, "sku": "linen-dress-1042"},
            ),
            post(
                f"{base_url}/checkout",
                data={"email": EMAIL, "card": DECLINED_CARD, "sku": "wool-scarf-77"},
            ),
        ]
    return [answer.status_code for answer in answers]
