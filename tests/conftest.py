"""Shared fixtures: a fresh key file per test session, and the engine built on it."""

from __future__ import annotations

import pytest

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
