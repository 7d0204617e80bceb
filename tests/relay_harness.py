"""A relay and a scriptable upstream, both on 127.0.0.1 port 0, for the relay tests.

The relay runs on an asyncio loop in a background thread, so tests can drive it with the
OpenTelemetry SDK's real (blocking) OTLP exporters. The upstream is a real gRPC server that
records what it receives and answers with the status codes a test scripts.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc

from otelpriv._engine import Engine
from otelpriv._relay import Relay, start_relay
from otelpriv._relay_config import RelayConfig
from otelpriv._signals import SIGNALS, SignalInfo


@dataclass
class FakeUpstream:
    """A gRPC OTLP server that records requests and answers per a script of status codes."""

    script: list[grpc.StatusCode] = field(default_factory=list)
    received: dict[str, list[Any]] = field(default_factory=dict)
    calls: int = 0
    partial: int = 0
    block: threading.Event | None = None
    port: int = 0
    _server: grpc.Server | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _handler(self, info: SignalInfo) -> Any:
        def export(request: Any, context: grpc.ServicerContext) -> Any:
            if self.block is not None:
                self.block.wait(10)
            with self._lock:
                self.calls += 1
                code = self.script.pop(0) if self.script else grpc.StatusCode.OK
                if code is grpc.StatusCode.OK:
                    self.received.setdefault(info.signal.value, []).append(request)
            if code is not grpc.StatusCode.OK:
                context.abort(code, "scripted failure")
            response = info.response()
            if self.partial:
                setattr(response.partial_success, info.rejected_field, self.partial)
                response.partial_success.error_message = "upstream rejected some"
            return response

        return grpc.unary_unary_rpc_method_handler(
            export,
            request_deserializer=info.request.FromString,
            response_serializer=lambda message: message.SerializeToString(),
        )

    def start(self) -> FakeUpstream:
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        for info in SIGNALS.values():
            self._server.add_generic_rpc_handlers(
                (
                    grpc.method_handlers_generic_handler(
                        info.service, {"Export": self._handler(info)}
                    ),
                )
            )
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        return self

    def stop(self) -> None:
        if self.block is not None:
            self.block.set()
        if self._server is not None:
            self._server.stop(grace=None)

    def items(self, signal: str) -> list[Any]:
        with self._lock:
            return list(self.received.get(signal, []))


class RelayThread:
    """A relay serving on its own event loop thread until :meth:`stop`."""

    def __init__(self, config: RelayConfig, engine: Engine) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.relay: Relay = self.run(start_relay(config, engine, initial_backoff=0.05, grace=2))

    def run(self, coroutine: Any, timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.relay.grpc_port}"

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.relay.http_port}"

    def stop(self) -> None:
        self.run(self.relay.stop(grace=2))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def relay_config(target: FakeUpstream | str, **sections: Any) -> RelayConfig:
    endpoint = target if isinstance(target, str) else f"grpc://127.0.0.1:{target.port}"
    document: dict[str, Any] = {
        "grpc": {"endpoint": "127.0.0.1:0"},
        "http": {"endpoint": "127.0.0.1:0"},
        "upstream": {"endpoint": endpoint, "max_elapsed_seconds": 5},
    }
    for name, values in sections.items():
        document.setdefault(name, {}).update(values)
    return RelayConfig.model_validate(document)


def running(config: RelayConfig, engine: Engine) -> Iterator[RelayThread]:
    relay = RelayThread(config, engine)
    try:
        yield relay
    finally:
        relay.stop()
