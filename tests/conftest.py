"""Shared fixtures: a fresh key file per test session, the engine built on it, and a relay
in front of an in-test upstream for the relay tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from relay_harness import FakeUpstream, RelayThread, relay_config, running

from otelpriv._engine import Engine
from otelpriv._pseudonym import KeyRing, generate_key_file, load_key_file


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("keys") / "otelpriv.key"
    generate_key_file(path)
    return path


@pytest.fixture(scope="session")
def key_ring(key_file) -> KeyRing:
    return load_key_file(key_file)


@pytest.fixture(scope="session")
def engine(key_ring: KeyRing) -> Engine:
    return Engine(keys=key_ring)


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def relay(upstream: FakeUpstream, engine: Engine) -> Iterator[RelayThread]:
    yield from running(relay_config(upstream), engine)
