"""Pseudonyms and reversible tokens: stable, keyed, rotatable, and the CLI prints the same."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest
from click.testing import CliRunner

from otelpriv import Engine, KeyFileError, generate_key_file, load_key_file, parse_policy
from otelpriv._cli import main
from otelpriv._pseudonym import ENCRYPTED, Key, encrypt_for, pseudonym_for, reveal

EMAIL = "Freya.Lind@Example.com "


def test_same_identity_same_pseudonym_under_every_user_key(key_file: Path) -> None:
    engine = Engine(keys=load_key_file(key_file))
    sanitizer = engine.for_service(None)
    values = {sanitizer.value(key, EMAIL, []) for key in ("enduser.id", "user.email", "userId")}
    assert values == {pseudonym_for(load_key_file(key_file).active, "freya.lind@example.com")}


@pytest.mark.parametrize(
    "encoded",
    [
        "freya.lind%40example.com",
        "freya.lind\uff20example.com",
        "freya.lind&#x40;example.com",
        "freya.lind&commat;example.com",
    ],
)
def test_encoded_at_is_the_same_person(key_file: Path, encoded: str) -> None:
    key = load_key_file(key_file).active
    assert pseudonym_for(key, encoded) == pseudonym_for(key, "freya.lind@example.com")


def test_encrypt_action_is_stable_and_revealable(key_file: Path) -> None:
    ring = load_key_file(key_file)
    engine = Engine(parse_policy({"user_ids": {"action": "encrypt"}}), ring)
    token = engine.for_service(None).value("enduser.id", EMAIL, [])
    assert ENCRYPTED.fullmatch(token)
    assert engine.for_service(None).value("enduser.id", token, []) == token
    assert token == encrypt_for(ring.active, "freya.lind@example.com")
    assert reveal(ring, token) == "freya.lind@example.com"


def test_tampered_token_is_refused(key_file: Path) -> None:
    ring = load_key_file(key_file)
    token = encrypt_for(ring.active, "freya.lind@example.com")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(ValueError, match="altered"):
        reveal(ring, flipped)
    with pytest.raises(ValueError, match="not an otelpriv"):
        reveal(ring, "psn:00000000:" + "a" * 26)


def test_rotation_keeps_old_data_findable_and_revealable(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    generate_key_file(path)
    old_ring = load_key_file(path)
    old_pseudonym = pseudonym_for(old_ring.active, EMAIL)
    old_token = encrypt_for(old_ring.active, EMAIL)
    generate_key_file(path, add=True)
    ring = load_key_file(path)
    assert reveal(ring, old_token) == "freya.lind@example.com"
    result = CliRunner().invoke(main, ["pseudonym", "--key-file", str(path), EMAIL])
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert lines == [
        [pseudonym_for(ring.active, EMAIL), ring.active.id, "active"],
        [old_pseudonym, old_ring.active.id, "older key"],
    ]
    with pytest.raises(KeyFileError, match="no key with id"):
        reveal(old_ring, encrypt_for(ring.active, EMAIL))


def test_pseudonym_cli_reads_stdin_and_follows_encrypt_policy(
    tmp_path: Path, key_file: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("user_ids:\n  action: encrypt\n", encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["pseudonym", "--key-file", str(key_file), "--policy", str(policy)],
        input="freya.lind@example.com\n\n",
    )
    assert result.exit_code == 0, result.output
    token = result.output.split("\t")[0]
    assert token == encrypt_for(load_key_file(key_file).active, "freya.lind@example.com")


def test_pseudonyms_never_change_between_versions() -> None:
    """A help desk searches stored telemetry with today's pseudonyms: the format is frozen.

    The value is HMAC-SHA256 over the normalized identity, its first 16 bytes in RFC 4648
    base32, lower-cased and unpadded, after the key id.
    """
    key = Key.from_secret(bytes(range(32)))
    assert pseudonym_for(key, "Freya.Lind@Example.com ") == (
        "psn:75e8c39e:nqnptms3ctjciunrmbwnemdnri"
    )
    for identity in ("a", "customer42@example.com", "ünïcode@bêta.example", "x" * 300):
        digest = hmac.new(key.secret, identity.encode(), hashlib.sha256).digest()[:16]
        code = base64.b32encode(digest).decode("ascii").rstrip("=").lower()
        assert pseudonym_for(key, identity) == f"psn:{key.id}:{code}"
