"""Realistic OTLP trace requests of an online shop, for the benchmarks.

Cardinalities follow real traffic: thousands of users and client addresses, sessions of a few
dozen spans, a few hundred product URLs, a handful of user agents and routes. Every request is
different, so caches see the churn they would see in production.
"""

from __future__ import annotations

import random

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otelpriv._otlp import keyvalue

AGENTS = [
    f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/{major}.0 Safari/537.36"
    for major in range(110, 140)
]
ROUTES = ["/p/{id}", "/search", "/cart", "/checkout", "/login", "/api/orders/{id}"]
COLORS = ["sand", "navy", "black", "white", "olive", "red"]


def build_request(rng: random.Random, spans: int = 512) -> ExportTraceServiceRequest:
    """One request of ``spans`` spans: about 12 attributes each, 10% with an exception."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        [keyvalue("service.name", "checkout-api"), keyvalue("host.name", "web-7")]
    )
    scope = resource_spans.scope_spans.add()
    scope.scope.name = "opentelemetry.instrumentation.flask"
    session_user = 0
    session = ""
    for index in range(spans):
        if index % 24 == 0:
            session_user = rng.randrange(5000)
            session = f"{rng.getrandbits(128):032x}"
        product = rng.randrange(400)
        route = rng.choice(ROUTES)
        query = f"color={rng.choice(COLORS)}&size={rng.randrange(34, 46)}"
        if route == "/search":
            query = f"q=linen+dress+{product}&page={rng.randrange(1, 5)}"
        span = scope.spans.add(
            trace_id=rng.randbytes(16),
            span_id=rng.randbytes(8),
            name=f"GET {route}",
            kind=2,
            start_time_unix_nano=1_764_000_000_000_000_000 + index * 1000,
            end_time_unix_nano=1_764_000_000_000_000_000 + index * 1000 + 5_000_000,
        )
        span.attributes.extend(
            [
                keyvalue("http.request.method", "GET"),
                keyvalue("url.full", f"https://shop.example.com/p/item-{product}?{query}"),
                keyvalue("http.route", route),
                keyvalue("http.response.status_code", 200),
                keyvalue("client.address", f"203.0.{session_user % 250}.{session_user % 199}"),
                keyvalue("user_agent.original", AGENTS[session_user % len(AGENTS)]),
                keyvalue("server.address", "shop.example.com"),
                keyvalue("server.port", 443),
                keyvalue("network.protocol.version", "1.1"),
                keyvalue("enduser.id", f"customer{session_user}@example.com"),
                keyvalue("session.id", session),
                keyvalue("app.cart.items", rng.randrange(6)),
            ]
        )
        if index % 10 == 0:
            event = span.events.add(name="exception", time_unix_nano=span.end_time_unix_nano)
            event.attributes.extend(
                [
                    keyvalue("exception.type", "OrderError"),
                    keyvalue(
                        "exception.message",
                        f"order ORD-{rng.randrange(10**6)} failed for "
                        f"customer{session_user}@example.com",
                    ),
                ]
            )
            span.status.code = 2
    return request
