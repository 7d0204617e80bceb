"""The identity server: the help desk's way from an e-mail to the values in the backend.

A help desk agent should find one customer's sessions without holding the pseudonym key, and
only a few people should ever turn an ``enc:`` token back into an identity. This gRPC service
keeps the key in one process and answers two questions: Pseudonymize (what the relay and the
SDK write for an identity, under every key of the key file) for the role ``helpdesk``, and
Reveal (the identity behind an ``enc:`` token) for the role ``privileged``.

Every call, allowed or refused, appends one JSON line to the audit log before anything is
answered; if the line cannot be written the call fails (UNAVAILABLE) and discloses nothing.
The line names the caller, the method, the outcome and the pseudonyms or tokens concerned,
never an identity. Logs name callers, methods and status codes only.

The key file is re-read when it changes, so a rotation (``otelpriv keygen --add``) is seen
without a restart and data written under the older keys is still found.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import signal
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

import grpc

from otelpriv._actions import Action
from otelpriv._environment import engine_from_files
from otelpriv._errors import ConfigError, KeyFileError
from otelpriv._gen.otelpriv.v1 import identity_pb2, identity_pb2_grpc
from otelpriv._identity_config import Caller, IdentityConfig
from otelpriv._pseudonym import (
    ENCRYPTED,
    PSEUDONYM,
    KeyRing,
    encrypt_for,
    load_key_file,
    normalize_identity,
    pseudonym_for,
    reveal,
)
from otelpriv._relay_config import TlsConfig, parse_endpoint

__all__ = ["AuditLog", "serve_identity", "start_identity_server"]

_log = logging.getLogger("otelpriv.identity")
_MAX_IDENTITY_CHARS = 1024
_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
_WINDOW_SECONDS = 60.0
_LOOPBACK = ("127.", "::1", "localhost")


class _Refused(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class AuditLog:
    """Appends one JSON line per call to a file (mode 0600), flushed to disk before answering.

    The file is opened for each line, so an external log rotation needs no signal; its folder
    is created when missing.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(self._open())
        except OSError as error:
            raise ConfigError(
                f"audit log {self.path} cannot be written: {error.strerror}"
            ) from None

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, caller: str, method: str, outcome: str, subjects: Sequence[str]) -> None:
        """Append one line; raises OSError when it could not be written."""
        entry = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "caller": caller,
            "method": method,
            "outcome": outcome,
            "subjects": list(subjects),
        }
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8")
        descriptor = self._open()
        try:
            os.write(descriptor, line)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


class _Keys:
    """The key ring, re-read when the key file is replaced or changed."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._stamp = self._stat()
        self._ring = load_key_file(path)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            status = os.stat(self._path)
        except OSError:
            return None
        return status.st_ino, status.st_mtime_ns, status.st_size

    def ring(self) -> KeyRing:
        stamp = self._stat()
        if stamp is None or stamp == self._stamp:
            return self._ring
        self._stamp = stamp
        try:
            self._ring = load_key_file(self._path)
        except KeyFileError as error:
            _log.warning("key file changed but cannot be used, keeping the old keys: %s", error)
        else:
            _log.info(
                "key file reloaded: %d key(s), active key %s",
                len(self._ring.keys),
                self._ring.active.id,
            )
        return self._ring


class _RateLimit:
    """At most ``per_minute`` admitted calls per caller in any 60 s; refused calls don't count."""

    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._calls: dict[str, deque[float]] = {}

    def admit(self, caller: str) -> bool:
        now = time.monotonic()
        window = self._calls.setdefault(caller, deque())
        while window and now - window[0] >= _WINDOW_SECONDS:
            window.popleft()
        if len(window) >= self._per_minute:
            return False
        window.append(now)
        return True


def _bearer(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and value[:7].lower() == "bearer ":
            return value[7:].strip()
    return None


class _IdentityService(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, config: IdentityConfig, action: Action, audit: AuditLog) -> None:
        self._config = config
        self._write = encrypt_for if action is Action.ENCRYPT else pseudonym_for
        self._keys = _Keys(config.key_file)
        self._audit = audit
        self._limit = _RateLimit(config.limits.requests_per_minute)
        self._callers = [(bytes.fromhex(c.token_sha256), c) for c in config.callers]

    def _caller(self, context: grpc.aio.ServicerContext) -> Caller | None:
        token = _bearer(context)
        if token is None:
            return None
        offered = hashlib.sha256(token.encode("utf-8")).digest()
        found = None
        for digest, caller in self._callers:
            if hmac.compare_digest(offered, digest):
                found = caller
        return found

    def _refusal(self, caller: Caller | None, method: str, role: str, peer: str) -> _Refused | None:
        limited = caller.name if caller is not None else f"unknown caller at {peer}"
        if not self._limit.admit(limited):
            per_minute = self._config.limits.requests_per_minute
            return _Refused(
                grpc.StatusCode.RESOURCE_EXHAUSTED, f"over {per_minute} requests a minute"
            )
        if caller is None:
            return _Refused(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer token is needed")
        if role not in caller.roles:
            return _Refused(grpc.StatusCode.PERMISSION_DENIED, f"{method} needs role {role}")
        return None

    @contextlib.asynccontextmanager
    async def _audited(
        self, context: grpc.aio.ServicerContext, method: str, role: str, subjects: list[str]
    ) -> AsyncIterator[None]:
        """Admit the caller, run the body, audit the outcome, and only then let it answer."""
        caller = self._caller(context)
        name = caller.name if caller is not None else "unknown"
        peer = context.peer().rsplit(":", 1)[0]
        refusal = self._refusal(caller, method, role, peer)
        if refusal is None:
            try:
                yield
            except _Refused as refused:
                refusal = refused
            except Exception as error:
                _log.error("%s failed: %s", method, type(error).__name__)
                refusal = _Refused(grpc.StatusCode.INTERNAL, "the identity server failed")
        code = grpc.StatusCode.OK if refusal is None else refusal.code
        _log.debug("%s by %s: %s", method, name, code.name)
        try:
            await asyncio.to_thread(self._audit.write, name, method, code.name, subjects)
        except OSError as error:
            _log.error("audit log %s cannot be written: %s", self._audit.path, error.strerror)
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the audit log cannot be written")
        if refusal is not None:
            await context.abort(refusal.code, refusal.message)

    def _identities(self, identities: Sequence[str]) -> list[str]:
        limit = self._config.limits.max_identities
        if not identities:
            raise _Refused(grpc.StatusCode.INVALID_ARGUMENT, "no identities given")
        if len(identities) > limit:
            raise _Refused(grpc.StatusCode.INVALID_ARGUMENT, f"more than {limit} identities")
        normalized = [normalize_identity(identity) for identity in identities]
        for number, identity in enumerate(normalized):
            if not identity or len(identity) > _MAX_IDENTITY_CHARS:
                raise _Refused(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"identity {number} is empty or longer than {_MAX_IDENTITY_CHARS} characters",
                )
            if PSEUDONYM.fullmatch(identity) or ENCRYPTED.fullmatch(identity):
                raise _Refused(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"identity {number} is already an otelpriv value: search for it as it is",
                )
        return normalized

    async def Pseudonymize(
        self, request: identity_pb2.PseudonymizeRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.PseudonymizeResponse:
        ring = self._keys.ring()
        try:
            identities, problem = self._identities(request.identities), None
        except _Refused as refused:
            identities, problem = [], refused
        results = [
            identity_pb2.IdentityValues(
                values=[
                    identity_pb2.SearchValue(
                        value=self._write(key, identity), key_id=key.id, active=key is ring.active
                    )
                    for key in reversed(ring.keys)
                ]
            )
            for identity in identities
        ]
        subjects = [result.values[0].value for result in results]
        async with self._audited(context, "Pseudonymize", "helpdesk", subjects):
            if problem is not None:
                raise problem
            return identity_pb2.PseudonymizeResponse(results=results)

    async def Reveal(
        self, request: identity_pb2.RevealRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.RevealResponse:
        token = request.token.strip()
        is_token = bool(PSEUDONYM.fullmatch(token) or ENCRYPTED.fullmatch(token))
        async with self._audited(context, "Reveal", "privileged", [token] if is_token else []):
            if PSEUDONYM.fullmatch(token):
                raise _Refused(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    "pseudonyms cannot be revealed; only enc: tokens",
                )
            try:
                identity = reveal(self._keys.ring(), token)
            except KeyFileError:
                raise _Refused(
                    grpc.StatusCode.NOT_FOUND, "no key in the key file wrote this token"
                ) from None
            except ValueError as error:
                raise _Refused(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None
            return identity_pb2.RevealResponse(identity=identity, key_id=token.split(":")[1])


def _credentials(tls: TlsConfig) -> grpc.ServerCredentials:
    if tls.cert_file is None or tls.key_file is None:
        raise ConfigError("tls needs cert_file and key_file")
    try:
        key, cert = Path(tls.key_file).read_bytes(), Path(tls.cert_file).read_bytes()
        ca = Path(tls.ca_file).read_bytes() if tls.ca_file else None
    except OSError as error:
        raise ConfigError(f"tls: {error.filename} cannot be read: {error.strerror}") from None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=ca is not None
    )


async def start_identity_server(config: IdentityConfig) -> tuple[grpc.aio.Server, int]:
    """Load the keys and policy, open the audit log, bind and start; returns the bound port.

    Refuses (``ConfigError``, ``KeyFileError``) a policy whose user ids are neither hashed
    nor encrypted, a key file that cannot be used, and an audit log that cannot be written.
    """
    engine = engine_from_files(config.policy, config.key_file)
    action = engine.for_service(config.service).policy.user_ids.action
    if action not in (Action.HASH, Action.ENCRYPT):
        raise ConfigError(
            f"the policy's user_ids action is {action.value}: there is nothing to search for"
        )
    service = _IdentityService(config, action, AuditLog(config.audit_log))
    server = grpc.aio.server(
        options=[("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES), ("grpc.so_reuseport", 0)]
    )
    identity_pb2_grpc.add_IdentityServiceServicer_to_server(service, server)
    host, port = parse_endpoint(config.listen)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        if config.tls is not None:
            bound = server.add_secure_port(address, _credentials(config.tls))
        else:
            bound = server.add_insecure_port(address)
    except RuntimeError:
        raise ConfigError(
            f"cannot listen on {config.listen}: address in use or unavailable"
        ) from None
    if config.tls is None and not host.startswith(_LOOPBACK):
        _log.warning(
            "listening on %s without TLS: tokens and identities cross the network in clear",
            config.listen,
        )
    await server.start()
    return server, bound


async def serve_identity(config: IdentityConfig, grace: float = 5.0) -> None:
    """Run until SIGTERM or SIGINT, then let calls in flight finish within ``grace``."""
    server, port = await start_identity_server(config)
    host = config.listen.rsplit(":", 1)[0]
    _log.info(
        "otelpriv identity server ready on %s:%d, %d caller(s), audit log %s",
        host,
        port,
        len(config.callers),
        config.audit_log,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopping.set)
    await stopping.wait()
    _log.info("otelpriv identity server stopping")
    await server.stop(grace)
    _log.info("otelpriv identity server stopped")
