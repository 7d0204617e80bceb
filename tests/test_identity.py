"""The identity server: a real in-process gRPC server, real clients, the audit log read back."""

from __future__ import annotations

import asyncio
import filecmp
import hashlib
import json
import logging
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import grpc
import pytest
from click.testing import CliRunner

from otelpriv import ConfigError, engine_from_files, generate_key_file, load_key_file
from otelpriv._gen.otelpriv.v1 import identity_pb2, identity_pb2_grpc
from otelpriv._identity import start_identity_server
from otelpriv._identity_cli import identity_server, token_hash
from otelpriv._identity_config import IdentityConfig, load_identity_config
from otelpriv._pseudonym import encrypt_for, pseudonym_for

ROOT = Path(__file__).resolve().parent.parent
EMAIL = "Freya.Lind@Example.com"
NORMALIZED = "freya.lind@example.com"
HELPDESK = "helpdesk-token-4f9a2c7e1b"
PRIVILEGED = "privileged-token-8d3e6b0a5c"
READER = "reader-token-2b7d9f1e3a"
CALLERS = [
    ("helpdesk-portal", HELPDESK, ["helpdesk"]),
    ("privacy-officer", PRIVILEGED, ["helpdesk", "privileged"]),
    ("reveal-only", READER, ["privileged"]),
]


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _bearer(token: str | None) -> list[tuple[str, str]]:
    return [] if token is None else [("authorization", f"Bearer {token}")]


@dataclass
class Running:
    """A started identity server, a client stub on it, and the files it uses."""

    stub: identity_pb2_grpc.IdentityServiceStub
    key_file: Path
    policy: Path
    audit: Path
    port: int

    def pseudonymize(self, token: str | None, *identities: str) -> Any:
        request = identity_pb2.PseudonymizeRequest(identities=identities)
        return self.stub.Pseudonymize(request, metadata=_bearer(token), timeout=5)

    def reveal(self, token: str | None, value: str) -> Any:
        request = identity_pb2.RevealRequest(token=value)
        return self.stub.Reveal(request, metadata=_bearer(token), timeout=5)

    def audit_lines(self) -> list[dict[str, Any]]:
        text = self.audit.read_text(encoding="utf-8") if self.audit.exists() else ""
        return [json.loads(line) for line in text.splitlines()]

    def engine_value(self) -> str:
        engine = engine_from_files(str(self.policy), str(self.key_file))
        return engine.for_service(None).value("enduser.id", EMAIL, [])


def _config(tmp_path: Path, action: str, **fields: Any) -> IdentityConfig:
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"user_ids:\n  action: {action}\n", encoding="utf-8")
    key_file = tmp_path / "otelpriv.key"
    if not key_file.exists():
        generate_key_file(key_file)
    document = {
        "listen": "127.0.0.1:0",
        "key_file": str(key_file),
        "policy": str(policy),
        "audit_log": str(tmp_path / "audit.jsonl"),
        "callers": [
            {"name": name, "token_sha256": _sha256(token), "roles": roles}
            for name, token, roles in CALLERS
        ],
    }
    document.update(fields)
    return IdentityConfig.model_validate(document)


class ServerThread:
    """The server on its own event loop in a background thread, as the relay tests run it."""

    def __init__(self, config: IdentityConfig) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.server, self.port = self.run(start_identity_server(config))

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    def stop(self) -> None:
        self.run(self.server.stop(None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start a server with the policy action ``hash`` or ``encrypt``; stopped after the test."""
    stops: list[Callable[[], None]] = []

    def start(action: str = "hash", **fields: Any) -> Running:
        config = _config(tmp_path, action, **fields)
        thread = ServerThread(config)
        channel = grpc.insecure_channel(f"127.0.0.1:{thread.port}")
        stops.extend([thread.stop, channel.close])
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        paths = (Path(config.key_file), Path(config.policy or ""), Path(config.audit_log))
        return Running(stub, *paths, thread.port)

    yield start
    for stop in reversed(stops):
        stop()


def _refused(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def test_pseudonymize_gives_what_the_engine_writes(serve: Callable[..., Running]) -> None:
    running = serve("hash")
    ring = load_key_file(running.key_file)
    response = running.pseudonymize(HELPDESK, EMAIL)
    expected = pseudonym_for(ring.active, NORMALIZED)
    assert [list(result.values) for result in response.results] == [
        [identity_pb2.SearchValue(value=expected, key_id=ring.active.id, active=True)]
    ]
    assert expected == running.engine_value()
    (line,) = running.audit_lines()
    assert line.keys() == {"time", "caller", "method", "outcome", "subjects"}
    assert datetime.fromisoformat(line["time"]).utcoffset() == timezone.utc.utcoffset(None)
    assert line | {"time": ""} == {
        "time": "",
        "caller": "helpdesk-portal",
        "method": "Pseudonymize",
        "outcome": "OK",
        "subjects": [expected],
    }
    assert NORMALIZED not in running.audit.read_text().lower()
    assert running.audit.stat().st_mode & 0o777 == 0o600


def test_encrypt_policy_tokens_are_revealed_to_the_privileged(
    serve: Callable[..., Running],
) -> None:
    running = serve("encrypt")
    ring = load_key_file(running.key_file)
    (result,) = running.pseudonymize(HELPDESK, EMAIL, "  other@example.com ").results[:1]
    token = result.values[0].value
    assert token == encrypt_for(ring.active, NORMALIZED) == running.engine_value()
    revealed = running.reveal(PRIVILEGED, token)
    assert (revealed.identity, revealed.key_id) == (NORMALIZED, ring.active.id)
    pseudonymize, reveal = running.audit_lines()
    assert pseudonymize["subjects"] == [token, encrypt_for(ring.active, "other@example.com")]
    assert (reveal["caller"], reveal["method"], reveal["outcome"]) == (
        "privacy-officer",
        "Reveal",
        "OK",
    )
    assert reveal["subjects"] == [token]
    audit = running.audit.read_text().lower()
    assert NORMALIZED not in audit and "other@example.com" not in audit


def _tampered(token: str) -> str:
    return token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]


@pytest.mark.parametrize(
    ("caller", "value", "code", "who", "message"),
    [
        (None, "good", grpc.StatusCode.UNAUTHENTICATED, "unknown", "bearer token"),
        ("not-a-token-we-know", "good", grpc.StatusCode.UNAUTHENTICATED, "unknown", "bearer"),
        (HELPDESK, "good", grpc.StatusCode.PERMISSION_DENIED, "helpdesk-portal", "privileged"),
        (PRIVILEGED, "tampered", grpc.StatusCode.INVALID_ARGUMENT, "privacy-officer", "altered"),
        (PRIVILEGED, "pseudonym", grpc.StatusCode.FAILED_PRECONDITION, "privacy-officer", "only"),
        (PRIVILEGED, EMAIL, grpc.StatusCode.INVALID_ARGUMENT, "privacy-officer", "not an"),
        (PRIVILEGED, "retired", grpc.StatusCode.NOT_FOUND, "privacy-officer", "no key"),
    ],
    ids=[
        "no-token",
        "unknown-token",
        "helpdesk-role",
        "tampered",
        "pseudonym",
        "e-mail",
        "retired",
    ],
)
def test_reveal_refusals(
    serve: Callable[..., Running],
    tmp_path: Path,
    caller: str | None,
    value: str,
    code: grpc.StatusCode,
    who: str,
    message: str,
) -> None:
    running = serve("encrypt")
    active = load_key_file(running.key_file).active
    retired = tmp_path / "retired.key"
    generate_key_file(retired)
    tokens = {
        "good": encrypt_for(active, EMAIL),
        "tampered": _tampered(encrypt_for(active, EMAIL)),
        "pseudonym": pseudonym_for(active, EMAIL),
        "retired": encrypt_for(load_key_file(retired).active, EMAIL),
    }
    sent = tokens.get(value, value)
    error = _refused(lambda: running.reveal(caller, sent))
    assert error.code() is code
    assert message in error.details()
    if value == "pseudonym":
        assert error.details() == "pseudonyms cannot be revealed; only enc: tokens"
    (line,) = running.audit_lines()
    assert (line["caller"], line["method"], line["outcome"]) == (who, "Reveal", code.name)
    assert line["subjects"] == ([] if value == EMAIL else [sent])
    assert NORMALIZED not in running.audit.read_text().lower()


@pytest.mark.parametrize(
    ("caller", "identities", "code", "subjects"),
    [
        (None, [EMAIL], grpc.StatusCode.UNAUTHENTICATED, 1),
        (READER, [EMAIL], grpc.StatusCode.PERMISSION_DENIED, 1),
        (HELPDESK, [], grpc.StatusCode.INVALID_ARGUMENT, 0),
        (HELPDESK, [EMAIL, " "], grpc.StatusCode.INVALID_ARGUMENT, 0),
        (HELPDESK, ["x" * 1025], grpc.StatusCode.INVALID_ARGUMENT, 0),
        (HELPDESK, ["a@example.com"] * 4, grpc.StatusCode.INVALID_ARGUMENT, 0),
        (HELPDESK, ["psn:0a1b2c3d:" + "a" * 26], grpc.StatusCode.INVALID_ARGUMENT, 0),
    ],
    ids=["no-token", "reveal-only-role", "none", "blank", "too-long", "too-many", "pseudonym"],
)
def test_pseudonymize_refusals(
    serve: Callable[..., Running],
    caller: str | None,
    identities: list[str],
    code: grpc.StatusCode,
    subjects: int,
) -> None:
    running = serve("hash", limits={"max_identities": 3})
    error = _refused(lambda: running.pseudonymize(caller, *identities))
    assert error.code() is code
    (line,) = running.audit_lines()
    assert (line["method"], line["outcome"], len(line["subjects"])) == (
        "Pseudonymize",
        code.name,
        subjects,
    )
    assert NORMALIZED not in running.audit.read_text().lower()


def test_rotation_keeps_old_data_found_and_revealed(serve: Callable[..., Running]) -> None:
    running = serve("encrypt")
    old = load_key_file(running.key_file).active
    written_before = running.engine_value()
    generate_key_file(running.key_file, add=True)
    new = load_key_file(running.key_file).active
    (result,) = running.pseudonymize(HELPDESK, EMAIL).results
    assert [(v.value, v.key_id, v.active) for v in result.values] == [
        (encrypt_for(new, EMAIL), new.id, True),
        (written_before, old.id, False),
    ]
    assert running.reveal(PRIVILEGED, written_before).identity == NORMALIZED
    assert running.audit_lines()[0]["subjects"] == [encrypt_for(new, EMAIL)]


def test_rate_limit_per_caller(serve: Callable[..., Running]) -> None:
    running = serve("hash", limits={"requests_per_minute": 3})
    for _ in range(3):
        running.pseudonymize(HELPDESK, EMAIL)
    error = _refused(lambda: running.pseudonymize(HELPDESK, EMAIL))
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert running.pseudonymize(PRIVILEGED, EMAIL).results
    outcomes = [(line["caller"], line["outcome"]) for line in running.audit_lines()]
    assert outcomes == [("helpdesk-portal", "OK")] * 3 + [
        ("helpdesk-portal", "RESOURCE_EXHAUSTED"),
        ("privacy-officer", "OK"),
    ]


def test_unknown_callers_are_rate_limited_too(serve: Callable[..., Running]) -> None:
    running = serve("hash", limits={"requests_per_minute": 3})
    codes = [_refused(lambda: running.pseudonymize("wrong", EMAIL)).code() for _ in range(4)]
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 3 + [grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert running.pseudonymize(HELPDESK, EMAIL).results


def test_nothing_is_answered_when_the_audit_log_cannot_be_written(
    serve: Callable[..., Running],
) -> None:
    running = serve("encrypt")
    token = running.pseudonymize(HELPDESK, EMAIL).results[0].values[0].value
    running.audit.unlink()
    running.audit.mkdir()
    error = _refused(lambda: running.reveal(PRIVILEGED, token))
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert NORMALIZED not in error.details()


def test_logs_name_no_identity_token_or_key(
    serve: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    running = serve("encrypt")
    token = running.pseudonymize(HELPDESK, EMAIL).results[0].values[0].value
    running.reveal(PRIVILEGED, token)
    _refused(lambda: running.reveal(HELPDESK, token))
    generate_key_file(running.key_file, add=True)
    running.pseudonymize(HELPDESK, EMAIL)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Reveal by privacy-officer: OK" in logged
    assert "key file reloaded: 2 key(s)" in logged
    secrets = [key.secret.hex() for key in load_key_file(running.key_file).keys]
    for leak in [NORMALIZED, token, HELPDESK, PRIVILEGED, *secrets]:
        assert leak not in logged.lower()


def test_tls(serve: Callable[..., Running], tmp_path: Path) -> None:
    from test_relay_tls import _certificate

    cert_file, key_file = _certificate(tmp_path)
    running = serve("hash", tls={"cert_file": str(cert_file), "key_file": str(key_file)})
    credentials = grpc.ssl_channel_credentials(cert_file.read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{running.port}", credentials) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        request = identity_pb2.PseudonymizeRequest(identities=[EMAIL])
        response = stub.Pseudonymize(request, metadata=_bearer(HELPDESK), timeout=5)
    assert response.results[0].values[0].value == running.engine_value()


def test_policy_without_pseudonyms_refuses_to_start(tmp_path: Path) -> None:
    config = _config(tmp_path, "redact")
    with pytest.raises(ConfigError, match="user_ids action is redact"):
        asyncio.run(start_identity_server(config))


def test_example_configuration_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_TOKEN_SHA256", _sha256(HELPDESK))
    monkeypatch.setenv("PRIVACY_OFFICER_TOKEN_SHA256", _sha256(PRIVILEGED).upper())
    config = load_identity_config(ROOT / "examples" / "identity.yaml")
    assert [caller.roles for caller in config.callers] == [
        ["helpdesk"],
        ["helpdesk", "privileged"],
    ]
    assert config.callers[1].token_sha256 == _sha256(PRIVILEGED)
    assert _sha256(PRIVILEGED) not in repr(config)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"token_sha256": PRIVILEGED}, "callers.0.token_sha256: .*otelpriv token-hash"),
        ({"roles": ["admin"]}, "callers.0.roles.0: Input should be 'helpdesk' or 'privileged'"),
        ({"roles": []}, "callers.0.roles: List should have at least 1 item"),
        ({"name": "two words"}, "callers.0.name: String should match pattern"),
        ({"token_sha256": _sha256(READER)}, "callers: .*share one token"),
        ({"colour": "red"}, "callers.0.colour: unknown field"),
    ],
    ids=["raw-token", "unknown-role", "no-role", "bad-name", "shared-token", "unknown-field"],
)
def test_configuration_errors_name_the_field(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    caller = {"name": "agent", "token_sha256": _sha256(HELPDESK), "roles": ["helpdesk"]}
    other = {"name": "reader", "token_sha256": _sha256(READER), "roles": ["privileged"]}
    path = tmp_path / "identity.yaml"
    document = {"key_file": "k", "audit_log": "a", "callers": [caller | change, other]}
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        load_identity_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert PRIVILEGED not in str(caught.value)


def test_token_hash_reads_stdin() -> None:
    result = CliRunner().invoke(token_hash, input=f"{HELPDESK}\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == _sha256(HELPDESK) + "\n"
    short = CliRunner().invoke(token_hash, input="abc\n")
    assert "guessable" in short.stderr
    assert CliRunner().invoke(token_hash, input="\n").exit_code == 2


def test_identity_server_command_serves_until_sigterm(tmp_path: Path) -> None:
    config = _config(tmp_path, "hash", listen="127.0.0.1:1")
    path = tmp_path / "identity.yaml"
    path.write_text(json.dumps(config.model_dump(exclude_none=True)), encoding="utf-8")
    assert "Pseudonymize (role helpdesk)" in CliRunner().invoke(identity_server, ["--help"]).output
    code = "from otelpriv._identity_cli import identity_server; identity_server()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "--config", str(path), "--listen", "127.0.0.1:0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        ready = process.stderr.readline()
        found = re.search(r"ready on 127\.0\.0\.1:(\d+)", ready)
        assert found is not None, ready
        port = int(found.group(1))
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = identity_pb2_grpc.IdentityServiceStub(channel)
            request = identity_pb2.PseudonymizeRequest(identities=[EMAIL])
            stub.Pseudonymize(request, metadata=_bearer(HELPDESK), timeout=5)
        process.send_signal(signal.SIGTERM)
        logged = ready + process.communicate(timeout=10)[1]
        assert process.returncode == 0, logged
    finally:
        if process.poll() is None:
            process.kill()
    assert "identity server stopped" in logged
    assert NORMALIZED not in logged.lower() and HELPDESK not in logged


def test_generated_code_is_current(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools is needed to regenerate the code")
    script = ROOT / "scripts" / "generate_proto.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True)
    committed = ROOT / "otelpriv" / "_gen"
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    kept = sorted(
        p.relative_to(committed)
        for p in committed.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert fresh == kept, "run: python scripts/generate_proto.py"
    stale = [str(p) for p in fresh if not filecmp.cmp(tmp_path / p, committed / p, shallow=False)]
    assert not stale, f"stale generated code {stale}; run: python scripts/generate_proto.py"


def test_identity_server_command_reports_a_bad_config_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(identity_server, ["--config", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert result.output.strip().endswith("missing.yaml cannot be read: No such file or directory")
