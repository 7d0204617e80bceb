"""Generate the sample telemetry of an online fashion shop: shop-{traces,logs,metrics}.jsonl.

otelpriv needs input that looks like what it will meet in production: telemetry laid out the
way real SDKs and exporters lay it out, carrying the personal data real applications leak into
it (addresses in query strings, passwords in request bodies, bearer tokens and cookies in
headers, e-mail addresses in exception messages and log bodies, card numbers in SQL). So the
spans, log records and metrics are built with the OpenTelemetry Python SDK and encoded with the
OTLP exporter's own encoders, then written in the Collector file exporter's JSON-lines format.
Only the browser spans of ``shop-frontend`` are staged: they mimic what the JavaScript
instrumentations record, since no browser runs here.

Every person, postal address, phone number, card, password and token is invented: e-mail
addresses use example.com/example.org, IP addresses come from the RFC 5737 / RFC 3849
documentation ranges, phone numbers from the Ofcom and NANP fictional ranges, card numbers are
the well-known test numbers, and the JWTs are signed with a key published in this file.

The output is deterministic so that regenerating it yields no diff: ids come from a seeded
generator, every span, event and log record gets an explicit timestamp, the wall-clock stamps
the metrics SDK puts on data points and exemplars are replaced by fixed ones, and ``OTEL_*``
environment variables (which the SDK reads) are cleared first.

Run from the repository root: ``PYTHONPATH=. python examples/generate_samples.py``
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote_plus, urlencode, urlsplit

from google.protobuf.message import Message
from opentelemetry import trace
from opentelemetry._logs import Logger, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.metrics import Meter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AnyValue

from otelpriv._otlp_io import Signal, dump_json_line

SEED = 1042
START = datetime(2025, 6, 14, 9, 30, tzinfo=timezone.utc)
START_NS = int(START.timestamp()) * 1_000_000_000
MS = 1_000_000

SHOP = "https://shop.example.com"
PAYMENT_API = "http://payment-service.shop.svc.cluster.local:8080"
GATEWAY = "https://api.gateway.example.net"
LOAD_BALANCER = "198.51.100.10"
JWT_KEY = b"example-signing-key-not-a-secret"

SERVICES = {
    "shop-frontend": {
        "service.name": "shop-frontend",
        "service.version": "4.12.0",
        "deployment.environment.name": "production",
        "telemetry.sdk.language": "webjs",
        "telemetry.sdk.name": "opentelemetry",
    },
    "checkout-api": {
        "service.name": "checkout-api",
        "service.version": "2.31.4",
        "service.instance.id": "checkout-api-7d9f8b6c5-x2kqp",
        "deployment.environment.name": "production",
        "k8s.namespace.name": "shop",
        "k8s.pod.name": "checkout-api-7d9f8b6c5-x2kqp",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
    },
    "payment-service": {
        "service.name": "payment-service",
        "service.version": "1.8.2",
        "service.instance.id": "payment-service-5c4d7f9b8-m7tzl",
        "deployment.environment.name": "production",
        "k8s.namespace.name": "shop",
        "k8s.pod.name": "payment-service-5c4d7f9b8-m7tzl",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
    },
}

# Instrumentation scopes, as the usual instrumentation libraries name themselves.
SCOPES = {
    "document-load": ("shop-frontend", "@opentelemetry/instrumentation-document-load", "0.44.0"),
    "user-interaction": (
        "shop-frontend",
        "@opentelemetry/instrumentation-user-interaction",
        "0.44.0",
    ),
    "fetch": ("shop-frontend", "@opentelemetry/instrumentation-fetch", "0.57.0"),
    "checkout-http": ("checkout-api", "opentelemetry.instrumentation.fastapi", "0.54b0"),
    "checkout-client": ("checkout-api", "opentelemetry.instrumentation.httpx", "0.54b0"),
    "payment-http": ("payment-service", "opentelemetry.instrumentation.flask", "0.54b0"),
    "payment-db": ("payment-service", "opentelemetry.instrumentation.psycopg", "0.54b0"),
    "payment-client": ("payment-service", "opentelemetry.instrumentation.requests", "0.54b0"),
}

# The severity text Python's logging bridge reports.
SEVERITY_TEXT = {
    SeverityNumber.INFO: "INFO",
    SeverityNumber.WARN: "WARNING",
    SeverityNumber.ERROR: "ERROR",
}

DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0]


@dataclass(frozen=True)
class Customer:
    user_id: str
    name: str
    email: str
    password: str
    phone: str
    street: str
    zip: str
    city: str
    country: str
    card: str
    card_expiry: str
    card_cvc: str
    ip: str
    user_agent: str
    session_id: str
    rum_session: str


def _customers(rng: random.Random) -> tuple[Customer, Customer]:
    mia = Customer(
        user_id="u-48213",
        name="Mia Hoffmann",
        email="mia.hoffmann@example.com",
        password="Sommer-Linen#2025",
        phone="+44 7700 900461",
        street="27 Harbour Lane",
        zip="BN1 4GH",
        city="Brighton",
        country="GB",
        card="4111 1111 1111 1111",
        card_expiry="09/28",
        card_cvc="737",
        ip="203.0.113.24",
        user_agent=(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"
        ),
        session_id=_hex(rng, 16),
        rum_session=_uuid(rng),
    )
    jonas = Customer(
        user_id="u-51077",
        name="Jonas Berg",
        email="jonas.berg@example.org",
        password="hunter2-Berg!",
        phone="+1 202-555-0143",
        street="1600 Example Avenue Apt 5",
        zip="97201",
        city="Portland",
        country="US",
        card="5555-5555-5555-4444",
        card_expiry="03/27",
        card_cvc="512",
        ip="2001:db8::7a3f:1e2",
        user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
        session_id=_hex(rng, 16),
        rum_session=_uuid(rng),
    )
    return mia, jonas


def _uuid(rng: random.Random) -> str:
    """A browser session id: random, and unlike the ``sid`` cookie, no credential."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hex(rng: random.Random, size: int) -> str:
    return rng.getrandbits(8 * size).to_bytes(size, "big").hex()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwt(claims: dict[str, object]) -> str:
    """An HS256 JWT signed with a published key: real in shape, worthless as a credential."""
    header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(JWT_KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


class SeededIdGenerator(IdGenerator):
    """Trace and span ids from a seeded generator, so that every run yields the same ids."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def generate_span_id(self) -> int:
        return self._rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._rng.getrandbits(128) or 1


PROPAGATOR = TraceContextTextMapPropagator()


def _over_the_wire(context: Context) -> Context:
    """The context a downstream service extracts from the ``traceparent`` header it receives."""
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier, context=context)
    return PROPAGATOR.extract(carrier)


class Shop:
    """The shop's three services, each with SDK providers that collect into memory."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.spans = InMemorySpanExporter()
        self.logs = InMemoryLogRecordExporter()
        self.metric_readers: list[InMemoryMetricReader] = []
        self.span_end_times: dict[bytes, int] = {}
        ids = SeededIdGenerator(rng)
        tracer_providers: dict[str, TracerProvider] = {}
        self.loggers: dict[str, Logger] = {}
        self.meters: dict[str, Meter] = {}
        for service, attributes in SERVICES.items():
            resource = Resource(attributes)
            tracer_provider = TracerProvider(
                sampler=ALWAYS_ON, resource=resource, id_generator=ids, shutdown_on_exit=False
            )
            tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
            tracer_providers[service] = tracer_provider
            logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
            logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
            self.loggers[service] = logger_provider.get_logger(f"{service}.app", "1.0.0")
            reader = InMemoryMetricReader()
            self.metric_readers.append(reader)
            meter_provider = MeterProvider(
                metric_readers=[reader], resource=resource, shutdown_on_exit=False
            )
            self.meters[service] = meter_provider.get_meter(f"{service}.metrics", "1.0.0")
        self.tracers: dict[str, Tracer] = {
            key: tracer_providers[service].get_tracer(name, version)
            for key, (service, name, version) in SCOPES.items()
        }
        checkout = self.meters["checkout-api"]
        payment = self.meters["payment-service"]
        self.request_duration = checkout.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Duration of HTTP server requests.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.payment_request_duration = payment.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Duration of HTTP server requests.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.login_attempts = checkout.create_counter(
            "shop.login.attempts", unit="{attempt}", description="Sign-in attempts by outcome."
        )
        self.orders = checkout.create_counter(
            "shop.orders", unit="{order}", description="Orders placed, by payment outcome."
        )
        self.open_carts = checkout.create_gauge(
            "shop.carts.open", unit="{cart}", description="Carts with at least one item."
        )
        self.charges = payment.create_counter(
            "payment.charges", unit="{charge}", description="Card charges by brand and outcome."
        )
        self.db_duration = payment.create_histogram(
            "db.client.operation.duration",
            unit="s",
            description="Duration of database client operations.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )

    # --- spans ---

    @contextmanager
    def span(
        self,
        scope: str,
        name: str,
        *,
        parent: Context | None,
        kind: SpanKind,
        start: int,
        end: int,
        attributes: dict[str, AnyValue],
    ) -> Iterator[Span]:
        """A span with fixed start and end times; ends when the block does."""
        span = self.tracers[scope].start_span(
            name,
            context=parent if parent is not None else Context(),
            kind=kind,
            attributes=attributes,
            start_time=start,
        )
        yield span
        span.end(end_time=end)

    def drain_spans(self) -> Message:
        spans = self.spans.get_finished_spans()
        self.spans.clear()
        for span in spans:
            if span.context is not None and span.end_time is not None:
                self.span_end_times[span.context.span_id.to_bytes(8, "big")] = span.end_time
        return encode_spans(spans)

    # --- logs ---

    def log(
        self,
        service: str,
        severity: SeverityNumber,
        body: AnyValue,
        *,
        at: int,
        context: Context | None = None,
        attributes: dict[str, AnyValue] | None = None,
    ) -> None:
        self.loggers[service].emit(
            timestamp=at,
            observed_timestamp=at + 2 * MS,
            context=context if context is not None else Context(),
            severity_number=severity,
            severity_text=SEVERITY_TEXT[severity],
            body=body,
            attributes=attributes,
        )

    def drain_logs(self) -> Message:
        records = self.logs.get_finished_logs()
        self.logs.clear()
        return encode_logs(records)

    # --- metrics ---

    def collect_metrics(self, at: int) -> Message:
        resource_metrics = []
        for reader in self.metric_readers:
            data = reader.get_metrics_data()
            if data is not None:
                resource_metrics.extend(data.resource_metrics)
        request = encode_metrics(MetricsData(resource_metrics=resource_metrics))
        self._pin_metric_times(request, at)
        return request

    def _pin_metric_times(self, request: ExportMetricsServiceRequest, at: int) -> None:
        """Replace the SDK's wall-clock stamps: points span START..at, exemplars their span."""
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    kind = metric.WhichOneof("data")
                    for point in getattr(metric, kind).data_points:
                        if point.start_time_unix_nano:
                            point.start_time_unix_nano = START_NS
                        point.time_unix_nano = at
                        for exemplar in point.exemplars:
                            exemplar.time_unix_nano = self.span_end_times.get(exemplar.span_id, at)


@dataclass
class Http:
    """What a server span records about one HTTP exchange."""

    method: str
    target: str
    route: str
    status: int
    client: Customer | None = None
    client_address: str = ""
    user_agent: str = ""
    headers: dict[str, list[str]] | None = None
    response_headers: dict[str, list[str]] | None = None
    enduser: str = ""
    extra: dict[str, AnyValue] | None = None

    def server_attributes(self, base_url: str) -> dict[str, AnyValue]:
        parts = urlsplit(base_url + self.target)
        client_address = self.client.ip if self.client else self.client_address
        user_agent = self.client.user_agent if self.client else self.user_agent
        attributes: dict[str, AnyValue] = {
            "http.request.method": self.method,
            "url.full": base_url + self.target,
            "url.scheme": parts.scheme,
            "url.path": parts.path,
        }
        if parts.query:
            attributes["url.query"] = parts.query
        attributes.update(
            {
                "http.route": self.route,
                "http.response.status_code": self.status,
                "server.address": parts.hostname or "",
                "server.port": parts.port or (443 if parts.scheme == "https" else 80),
                "client.address": client_address,
                "network.peer.address": LOAD_BALANCER,
                "network.protocol.version": "1.1",
                "user_agent.original": user_agent,
            }
        )
        if self.enduser:
            attributes["enduser.id"] = self.enduser
        for name, values in (self.headers or {}).items():
            attributes[f"http.request.header.{name}"] = values
        for name, values in (self.response_headers or {}).items():
            attributes[f"http.response.header.{name}"] = values
        attributes.update(self.extra or {})
        return attributes


class Journeys:
    """The user journeys; each leaves the spans of one trace export request behind."""

    def __init__(self, shop: Shop, mia: Customer, jonas: Customer) -> None:
        self.shop = shop
        self.mia = mia
        self.jonas = jonas

    # --- building blocks ---

    def browser_headers(
        self, customer: Customer, *, referer: str, cookies: str, token: str | None = None
    ) -> dict[str, list[str]]:
        headers = {
            "cookie": [cookies],
            "x-forwarded-for": [f"{customer.ip}, {LOAD_BALANCER}"],
            "referer": [referer],
        }
        if token is not None:
            headers["authorization"] = [f"Bearer {token}"]
        return headers

    def fetch(
        self, parent: Context, customer: Customer, http: Http, *, start: int, end: int
    ) -> Context:
        """A browser ``fetch`` span for ``http``; returns the context it propagates."""
        attributes: dict[str, AnyValue] = {
            "http.request.method": http.method,
            "url.full": SHOP + http.target,
            "http.response.status_code": http.status,
            "server.address": "shop.example.com",
            "user_agent.original": customer.user_agent,
            "client.address": customer.ip,
            "session.id": customer.rum_session,
        }
        with self.shop.span(
            "fetch",
            http.method,
            parent=parent,
            kind=SpanKind.CLIENT,
            start=start,
            end=end,
            attributes=attributes,
        ) as span:
            return trace.set_span_in_context(span)

    def server(self, parent: Context, http: Http, *, start: int, end: int) -> tuple[Span, Context]:
        """Open a checkout-api server span; the caller ends it."""
        span = self.shop.tracers["checkout-http"].start_span(
            f"{http.method} {http.route}",
            context=_over_the_wire(parent),
            kind=SpanKind.SERVER,
            attributes=http.server_attributes(SHOP),
            start_time=start,
        )
        if http.status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        context = trace.set_span_in_context(span)
        self.shop.request_duration.record(
            (end - start) / 1e9,
            {
                "http.request.method": http.method,
                "http.route": http.route,
                "http.response.status_code": http.status,
                "url.scheme": "https",
            },
            context=context,
        )
        return span, context

    def document_load(self, customer: Customer, url: str, *, start: int) -> Context:
        """The spans the document-load instrumentation records for one page view."""
        common = {
            "url.full": url,
            "user_agent.original": customer.user_agent,
            "client.address": customer.ip,
            "session.id": customer.rum_session,
        }
        with self.shop.span(
            "document-load",
            "documentLoad",
            parent=None,
            kind=SpanKind.INTERNAL,
            start=start,
            end=start + 1180 * MS,
            attributes=common,
        ) as load:
            for offset, event in [
                (0, "fetchStart"),
                (412, "domInteractive"),
                (655, "domContentLoadedEventEnd"),
                (1180, "loadEventEnd"),
            ]:
                load.add_event(event, timestamp=start + offset * MS)
            context = trace.set_span_in_context(load)
            with self.shop.span(
                "document-load",
                "documentFetch",
                parent=context,
                kind=SpanKind.INTERNAL,
                start=start,
                end=start + 240 * MS,
                attributes={**common, "http.response_content_length": 48213},
            ):
                pass
            return context

    def click(
        self, customer: Customer, page: str, target: str, xpath: str, *, start: int
    ) -> Context:
        with self.shop.span(
            "user-interaction",
            "click",
            parent=None,
            kind=SpanKind.INTERNAL,
            start=start,
            end=start + 3 * MS,
            attributes={
                "event_type": "click",
                "target_element": target,
                "target_xpath": xpath,
                "url.full": SHOP + page,
                "session.id": customer.rum_session,
            },
        ) as span:
            return trace.set_span_in_context(span)

    # --- journeys ---

    def browse(self, at: int) -> None:
        mia = self.mia
        page = "/p/linen-summer-dress-1042?color=sand&size=38"
        context = self.document_load(mia, SHOP + page, start=at)
        with self.shop.span(
            "document-load",
            "resourceFetch",
            parent=context,
            kind=SpanKind.INTERNAL,
            start=at + 250 * MS,
            end=at + 610 * MS,
            attributes={
                "url.full": "https://cdn.shop.example.com/img/linen-summer-dress-1042-sand.webp",
                "http.response_content_length": 183_004,
            },
        ):
            pass
        http = Http(
            "GET",
            "/api/products/1042?color=sand&size=38",
            "/api/products/{product_id}",
            200,
            client=mia,
            headers=self.browser_headers(mia, referer=SHOP + page, cookies=f"sid={mia.session_id}"),
        )
        fetch = self.fetch(context, mia, http, start=at + 420 * MS, end=at + 498 * MS)
        span, _ = self.server(fetch, http, start=at + 431 * MS, end=at + 489 * MS)
        span.end(end_time=at + 489 * MS)

    def search(self, at: int) -> None:
        jonas = self.jonas
        context = self.click(
            jonas, "/c/dresses?page=2", "BUTTON", '//*[@id="search-submit"]', start=at
        )
        http = Http(
            "GET",
            "/api/search?" + urlencode({"q": "linen dress", "size": "38", "sort": "price_asc"}),
            "/api/search",
            200,
            client=jonas,
            headers=self.browser_headers(
                jonas, referer=SHOP + "/c/dresses?page=2", cookies=f"sid={jonas.session_id}"
            ),
        )
        fetch = self.fetch(context, jonas, http, start=at + 1 * MS, end=at + 143 * MS)
        span, _ = self.server(fetch, http, start=at + 12 * MS, end=at + 131 * MS)
        span.end(end_time=at + 131 * MS)

    def add_to_cart(self, at: int) -> None:
        mia = self.mia
        context = self.click(
            mia,
            "/p/linen-summer-dress-1042?color=sand&size=38",
            "BUTTON",
            '//*[@id="add-to-cart"]',
            start=at,
        )
        cart_id = "c_" + _hex(self.shop.rng, 8)
        http = Http(
            "POST",
            "/api/cart/items",
            "/api/cart/items",
            201,
            client=mia,
            headers=self.browser_headers(
                mia,
                referer=SHOP + "/p/linen-summer-dress-1042?color=sand&size=38",
                cookies=f"sid={mia.session_id}",
            ),
            response_headers={"set-cookie": [f"cart={cart_id}; Path=/; Secure; HttpOnly"]},
            extra={"http.request.body": '{"sku":"LD-1042-SND-38","qty":1}'},
        )
        fetch = self.fetch(context, mia, http, start=at + 1 * MS, end=at + 96 * MS)
        span, _ = self.server(fetch, http, start=at + 9 * MS, end=at + 84 * MS)
        span.end(end_time=at + 84 * MS)
        self.shop.open_carts.set(17)

    def login(self, at: int) -> None:
        mia = self.mia
        context = self.click(mia, "/account/login", "BUTTON", '//*[@id="sign-in"]', start=at)
        issued = at // 1_000_000_000
        guest_token = _jwt(
            {
                "sub": "guest-" + mia.session_id[:12],
                "scope": "cart",
                "iat": issued,
                "exp": issued + 86_400,
            }
        )
        session = _hex(self.shop.rng, 24)
        body = {"email": mia.email, "password": mia.password, "remember_me": True}
        http = Http(
            "POST",
            "/api/auth/login",
            "/api/auth/login",
            200,
            client=mia,
            headers=self.browser_headers(
                mia,
                referer=SHOP + "/account/login",
                cookies=f"sid={mia.session_id}",
                token=guest_token,
            ),
            response_headers={
                "set-cookie": [
                    f"session={session}; Path=/; Secure; HttpOnly; SameSite=Lax",
                    f"sid={mia.session_id}; Path=/; Secure",
                ]
            },
            enduser=mia.email,
            extra={"http.request.body": json.dumps(body, separators=(",", ":"))},
        )
        fetch = self.fetch(context, mia, http, start=at + 1 * MS, end=at + 305 * MS)
        span, _ = self.server(fetch, http, start=at + 14 * MS, end=at + 292 * MS)
        span.end(end_time=at + 292 * MS)
        self.shop.login_attempts.add(
            1, {"outcome": "success", "enduser.id": mia.email, "client.address": mia.ip}
        )

    def credential_stuffing(self, at: int) -> None:
        """Failed sign-ins against one account from one address, throttled after five."""
        attacker = "198.51.100.77"
        self.shop.login_attempts.add(
            5, {"outcome": "failure", "enduser.id": self.jonas.email, "client.address": attacker}
        )
        self.shop.log(
            "checkout-api",
            SeverityNumber.WARN,
            f"login throttled: 5 failed attempts for {self.jonas.email} from {attacker} within 60s",
            at=at,
            attributes={"client.address": attacker, "event.name": "auth.throttled"},
        )

    def checkout(self, customer: Customer, order_id: str, at: int, *, declined: bool) -> None:
        shop = self.shop
        issued = at // 1_000_000_000 - 600
        token = _jwt(
            {
                "sub": customer.user_id,
                "email": customer.email,
                "name": customer.name,
                "iat": issued,
                "exp": issued + 3600,
            }
        )
        context = self.click(customer, "/cart", "BUTTON", '//*[@id="place-order"]', start=at)
        address = {
            "street": customer.street,
            "zip": customer.zip,
            "city": customer.city,
            "phone": customer.phone,
        }
        form = {
            "card_number": customer.card,
            "card_holder": customer.name,
            "exp": customer.card_expiry,
            "cvc": customer.card_cvc,
        }
        status = 402 if declined else 201
        http = Http(
            "POST",
            "/api/checkout?" + urlencode(address, quote_via=quote_plus),
            "/api/checkout",
            status,
            client=customer,
            headers=self.browser_headers(
                customer,
                referer=SHOP + "/cart",
                cookies=f"sid={customer.session_id}; session={_hex(shop.rng, 24)}",
                token=token,
            ),
            enduser=customer.email if customer is self.mia else customer.user_id,
            extra={
                "http.request.body": urlencode(form, quote_via=quote_plus),
                "app.order": {
                    "id": order_id,
                    "currency": "EUR",
                    "total": 129.95 if not declined else 214.5,
                    "items": [
                        {"sku": "LD-1042-SND-38", "qty": 1, "price": 89.95},
                        {"sku": "BT-0311-OLV-M", "qty": 1, "price": 40.0},
                    ],
                    "shipping": {"name": customer.name, **address},
                },
            },
        )
        fetch = self.fetch(context, customer, http, start=at + 1 * MS, end=at + 912 * MS)
        server, server_context = self.server(fetch, http, start=at + 15 * MS, end=at + 897 * MS)
        charge_id = "ch_" + _hex(shop.rng, 12)
        self.charge(customer, server_context, charge_id, at + 120 * MS, declined=declined)
        if declined:
            server.set_status(Status(StatusCode.ERROR, "payment declined"))
            message = (
                f"card {customer.card} declined for {customer.email}: insufficient_funds "
                f"(charge {charge_id})"
            )
            server.add_event(
                "exception",
                {
                    "exception.type": "checkout.errors.PaymentDeclinedError",
                    "exception.message": message,
                    "exception.stacktrace": _stacktrace(message),
                },
                timestamp=at + 880 * MS,
            )
            shop.log(
                "checkout-api",
                SeverityNumber.ERROR,
                {
                    "event": "checkout.failed",
                    "order_id": order_id,
                    "reason": "payment_declined",
                    "customer": {
                        "id": customer.user_id,
                        "name": customer.name,
                        "email": customer.email,
                        "phone": customer.phone,
                    },
                    "payment": {
                        "card_number": customer.card,
                        "expiry": customer.card_expiry,
                        "cvc": customer.card_cvc,
                    },
                    "credentials": {"email": customer.email, "password": customer.password},
                    "shipping_address": {
                        "street": customer.street,
                        "zip": customer.zip,
                        "city": customer.city,
                        "country": customer.country,
                    },
                    "request": {"client_ip": customer.ip, "user_agent": customer.user_agent},
                },
                at=at + 885 * MS,
                context=server_context,
                attributes={"exception.type": "checkout.errors.PaymentDeclinedError"},
            )
        else:
            shop.log(
                "checkout-api",
                SeverityNumber.INFO,
                f"order {order_id} placed by {customer.email}",
                at=at + 890 * MS,
                context=server_context,
                attributes={"app.order.id": order_id, "enduser.id": customer.email},
            )
        server.end(end_time=at + 897 * MS)
        shop.orders.add(
            1,
            {"payment.outcome": "declined" if declined else "authorized", "currency": "EUR"},
            context=server_context,
        )

    def charge(
        self, customer: Customer, parent: Context, charge_id: str, at: int, *, declined: bool
    ) -> None:
        """checkout-api calls payment-service, which reads and writes its database and calls
        the card gateway."""
        shop = self.shop
        status = 402 if declined else 201
        amount_cents = 21450 if declined else 12995
        with shop.span(
            "checkout-client",
            "POST",
            parent=parent,
            kind=SpanKind.CLIENT,
            start=at,
            end=at + 742 * MS,
            attributes={
                "http.request.method": "POST",
                "url.full": PAYMENT_API + "/v1/charges",
                "server.address": "payment-service.shop.svc.cluster.local",
                "server.port": 8080,
                "http.response.status_code": status,
                "http.request.header.authorization": [
                    "Basic " + base64.b64encode(b"checkout-api:s3rvice-pass-example").decode()
                ],
            },
        ) as client:
            if declined:
                client.set_status(Status(StatusCode.ERROR))
            http = Http(
                "POST",
                "/v1/charges",
                "/v1/charges",
                status,
                client_address="10.42.3.17",
                user_agent="python-httpx/0.27.0",
                extra={"app.charge.id": charge_id},
            )
            server = shop.tracers["payment-http"].start_span(
                "POST /v1/charges",
                context=_over_the_wire(trace.set_span_in_context(client)),
                kind=SpanKind.SERVER,
                attributes=http.server_attributes(PAYMENT_API),
                start_time=at + 6 * MS,
            )
            server_context = trace.set_span_in_context(server)
            shop.payment_request_duration.record(
                0.724,
                {
                    "http.request.method": "POST",
                    "http.route": "/v1/charges",
                    "http.response.status_code": status,
                },
                context=server_context,
            )
            self.query(
                server_context,
                "SELECT",
                "customers",
                "SELECT id, gateway_customer_id, default_card_last4 FROM customers "
                f"WHERE email = '{customer.email}' LIMIT 1",
                start=at + 9 * MS,
                millis=4,
            )
            card_digits = customer.card.replace(" ", "").replace("-", "")
            with shop.span(
                "payment-client",
                "POST",
                parent=server_context,
                kind=SpanKind.CLIENT,
                start=at + 16 * MS,
                end=at + 702 * MS,
                attributes={
                    "http.request.method": "POST",
                    "url.full": GATEWAY
                    + "/v1/authorize?merchant=fashion-shop-eu&api_key=demo-7f3a9c2e41b8d6a0",
                    "server.address": "api.gateway.example.net",
                    "server.port": 443,
                    "http.response.status_code": 402 if declined else 200,
                },
            ) as gateway:
                if declined:
                    gateway.set_status(Status(StatusCode.ERROR))
            self.query(
                server_context,
                "INSERT",
                "charges",
                "INSERT INTO charges (id, customer_email, card_number, card_expiry, "
                "amount_cents, currency, status) VALUES "
                f"('{charge_id}', '{customer.email}', '{card_digits}', "
                f"'{customer.card_expiry}', {amount_cents}, 'EUR', "
                f"'{'declined' if declined else 'authorized'}')",
                start=at + 706 * MS,
                millis=7,
            )
            brand = "visa" if card_digits.startswith("4") else "mastercard"
            shop.charges.add(
                1, {"payment.card.brand": brand, "outcome": "declined" if declined else "ok"}
            )
            if declined:
                server.set_status(Status(StatusCode.ERROR, "card declined"))
                shop.log(
                    "payment-service",
                    SeverityNumber.WARN,
                    f"gateway declined card {card_digits} for {customer.email}: insufficient_funds",
                    at=at + 703 * MS,
                    context=server_context,
                    attributes={"app.charge.id": charge_id, "gateway.code": "51"},
                )
            else:
                shop.log(
                    "payment-service",
                    SeverityNumber.INFO,
                    f"charge {charge_id} authorized: {amount_cents / 100:.2f} EUR, "
                    f"card ending {card_digits[-4:]}",
                    at=at + 703 * MS,
                    context=server_context,
                    attributes={"app.charge.id": charge_id},
                )
            server.end(end_time=at + 730 * MS)

    def query(
        self,
        parent: Context,
        operation: str,
        table: str,
        statement: str,
        *,
        start: int,
        millis: int,
    ) -> None:
        with self.shop.span(
            "payment-db",
            f"{operation} payments.{table}",
            parent=parent,
            kind=SpanKind.CLIENT,
            start=start,
            end=start + millis * MS,
            attributes={
                "db.system": "postgresql",
                "db.name": "payments",
                "db.user": "payment_svc",
                "db.operation": operation,
                "db.sql.table": table,
                "db.statement": statement,
                "server.address": "payments-db.shop.svc.cluster.local",
                "server.port": 5432,
            },
        ) as span:
            self.shop.db_duration.record(
                millis / 1000,
                {"db.system": "postgresql", "db.operation": operation},
                context=trace.set_span_in_context(span),
            )

    def password_reset(self, at: int) -> None:
        jonas = self.jonas
        token = _b64url(self.shop.rng.getrandbits(256).to_bytes(32, "big"))
        page = SHOP + "/account/reset-password#token=" + token
        self.document_load(jonas, page, start=at)
        context = self.click(
            jonas,
            "/account/reset-password",
            "BUTTON",
            '//*[@id="save-password"]',
            start=at + 21_000 * MS,
        )
        body = {"token": token, "new_password": "Berg-Portland-97201"}
        http = Http(
            "POST",
            "/api/auth/reset-password",
            "/api/auth/reset-password",
            204,
            client=jonas,
            headers=self.browser_headers(
                jonas, referer=SHOP + "/account/reset-password", cookies=f"sid={jonas.session_id}"
            ),
            extra={"http.request.body": json.dumps(body, separators=(",", ":"))},
        )
        start = at + 21_001 * MS
        fetch = self.fetch(context, jonas, http, start=start, end=start + 188 * MS)
        span, _ = self.server(fetch, http, start=start + 11 * MS, end=start + 176 * MS)
        span.end(end_time=start + 176 * MS)

    def health_checks(self, at: int) -> None:
        """Kubernetes probes: spans with nothing personal in them."""
        for offset, (scope, base) in enumerate(
            [("checkout-http", "http://10.42.3.17:8000"), ("payment-http", "http://10.42.5.9:8080")]
        ):
            start = at + offset * 250 * MS
            http = Http(
                "GET",
                "/healthz",
                "/healthz",
                200,
                client_address="10.42.0.1",
                user_agent="kube-probe/1.30",
            )
            attributes = http.server_attributes(base)
            attributes["network.peer.address"] = "10.42.0.1"
            with self.shop.span(
                scope,
                "GET /healthz",
                parent=None,
                kind=SpanKind.SERVER,
                start=start,
                end=start + 2 * MS,
                attributes=attributes,
            ):
                pass
        self.shop.log(
            "checkout-api",
            SeverityNumber.INFO,
            "GET /healthz 200 (2 ms)",
            at=at + 3 * MS,
            attributes={"http.route": "/healthz"},
        )


def _stacktrace(message: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/srv/checkout/app/routes/checkout.py", line 88, in place_order\n'
        "    charge = await payments.charge(order=order, card=form.card)\n"
        '  File "/srv/checkout/app/clients/payments.py", line 41, in charge\n'
        '    raise PaymentDeclinedError(f"card {card.number} declined for {order.email}: '
        '{reply.code}")\n'
        f"checkout.errors.PaymentDeclinedError: {message}\n"
    )


def generate(out_dir: Path) -> dict[str, Path]:
    """Write the three sample files into ``out_dir``; returns their paths by signal name."""
    rng = random.Random(SEED)
    # The SDK's default exemplar reservoir for counters samples with the global generator.
    random.seed(SEED)
    shop = Shop(rng)
    mia, jonas = _customers(rng)
    journeys = Journeys(shop, mia, jonas)
    minute = 60 * 1_000_000_000
    traces: list[Message] = []
    logs: list[Message] = []
    metrics: list[Message] = []

    journeys.browse(START_NS + 1 * minute)
    traces.append(shop.drain_spans())
    journeys.search(START_NS + 3 * minute)
    traces.append(shop.drain_spans())
    journeys.add_to_cart(START_NS + 4 * minute)
    traces.append(shop.drain_spans())
    metrics.append(shop.collect_metrics(START_NS + 5 * minute))
    journeys.credential_stuffing(START_NS + 6 * minute)
    journeys.login(START_NS + 7 * minute)
    traces.append(shop.drain_spans())
    logs.append(shop.drain_logs())
    journeys.checkout(mia, "ORD-5521", START_NS + 9 * minute, declined=False)
    traces.append(shop.drain_spans())
    logs.append(shop.drain_logs())
    journeys.checkout(jonas, "ORD-5522", START_NS + 12 * minute, declined=True)
    traces.append(shop.drain_spans())
    logs.append(shop.drain_logs())
    metrics.append(shop.collect_metrics(START_NS + 13 * minute))
    journeys.password_reset(START_NS + 15 * minute)
    traces.append(shop.drain_spans())
    journeys.health_checks(START_NS + 16 * minute)
    traces.append(shop.drain_spans())
    logs.append(shop.drain_logs())
    metrics.append(shop.collect_metrics(START_NS + 17 * minute))

    paths = {}
    for signal, messages in [
        (Signal.TRACES, traces),
        (Signal.LOGS, logs),
        (Signal.METRICS, metrics),
    ]:
        path = out_dir / f"shop-{signal.value}.jsonl"
        text = "".join(dump_json_line(signal, message) + "\n" for message in messages)
        path.write_text(text, encoding="utf-8")
        paths[signal.value] = path
    return paths


def main() -> None:
    for name in [name for name in os.environ if name.startswith("OTEL_")]:
        del os.environ[name]
    for path in generate(Path(__file__).resolve().parent).values():
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
