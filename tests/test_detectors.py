"""Each built-in detector against a table of values it must find and look-alikes it must not.

The negative tables are the false-positive traps of real telemetry: timestamps, order numbers,
UUIDs, hex ids, version strings, prices, SKUs. Text is run through the default policy's
free-text rules, so these tables also pin the placeholders and masks users see.
"""

from __future__ import annotations

import pytest

from otelpriv._engine import Engine

FOUND = {
    "email": [
        ("mail ana.ruiz@example.com now", "mail [EMAIL] now"),
        ("to=jun.park%40example.org", "to=[EMAIL]"),
        ("to=jun.park%2540example.org", "to=[EMAIL]"),
        ("mail anna&#x40;example.com now", "mail [EMAIL] now"),
        ("anna&commat;example.com", "[EMAIL]"),
        ("ana\uff20example.com", "[EMAIL]"),
        ("<li.wei+shop@mail.example.co.uk>", "<[EMAIL]>"),
        ("m\u00fcller@example.de", "[EMAIL]"),
        ("mia@m\u00fcnchen.de", "[EMAIL]"),
        ("\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a", "[EMAIL]"),
        ("mia.hoffmann&#64;example.com", "[EMAIL]"),
        ("mia.hoffmann\\u0040example.com", "[EMAIL]"),
        ("mia.hoffmann%40example%2Ecom", "[EMAIL]"),
        ("mia\ufe6bexample.com", "[EMAIL]"),
        ("_mia@example.com", "[EMAIL]"),
        ("mail o'brien@example.ie", "mail [EMAIL]"),
        ("VALUES ('omar@example.com', 1)", "VALUES ('[EMAIL]', 1)"),
    ],
    "credit_card": [
        ("4111111111111111", "[CREDIT_CARD]"),
        ("card 5185 4714 0748 2040 ok", "card [CREDIT_CARD] ok"),
        ("4539-4158-8359-4709", "[CREDIT_CARD]"),
        ("amex 3782 822463 10005", "amex [CREDIT_CARD]"),
        ("378282246310005", "[CREDIT_CARD]"),
        ("pan=5555555555554444;", "pan=[CREDIT_CARD];"),
        ("pan 4111+1111+1111+1111 end", "pan [CREDIT_CARD] end"),
        ("card=4111%201111%201111%201111", "card=[CREDIT_CARD]"),
        ("4111.1111.1111.1111", "[CREDIT_CARD]"),
        ("4111\u00a01111\u00a01111\u00a01111", "[CREDIT_CARD]"),
        ("4111  1111\t1111_1111", "[CREDIT_CARD]"),
        ("4111\u20131111\u20131111\u20131111", "[CREDIT_CARD]"),
        ("[4111111111111111,5555555555554444]", "[[CREDIT_CARD],[CREDIT_CARD]]"),
    ],
    "ipv4": [
        ("from 203.0.113.54:8443", "from 203.0.113.0:8443"),
        ("198.51.100.23", "198.51.100.0"),
        ("xff 203.0.113.45, 192.0.2.10", "xff 203.0.113.0, 192.0.2.0"),
        ("203.000.113.024", "203.000.113.0"),
    ],
    "ipv4_host": [
        ("cpe-203-0-113-24.res.example.net", "cpe-203-0-113-0.res.example.net"),
        ("ip-10-0-1-23.ec2.internal", "ip-10-0-1-0.ec2.internal"),
        (
            "ec2-203-0-113-24.compute-1.amazonaws.com",
            "ec2-203-0-113-0.compute-1.amazonaws.com",
        ),
        ("host 203-0-113-24.static.example.net", "host 203-0-113-0.static.example.net"),
    ],
    "ipv6": [
        ("2001:db8:1234:5678:9abc:def0:1234:5678", "2001:db8:1234::"),
        ("peer fe80::1ff:fe23:4567:890a joined", "peer fe80:: joined"),
        ("[2001:db8:4a5b:9::17]:8080", "[2001:db8:4a5b::]:8080"),
        ("::ffff:203.0.113.54", "::ffff:203.0.113.0"),
        ("::ffff:cb00:7118", "::ffff:203.0.113.0"),
        ("2002:cb00:7118::1", "2002:cb00:7100::"),
    ],
    "iban": [
        ("IBAN DE89370400440532013000 paid", "IBAN [IBAN] paid"),
        ("GB82 WEST 1234 5698 7654 32", "[IBAN]"),
    ],
    "us_ssn": [("ssn 123-45-6789 on file", "ssn [SSN] on file")],
    "jwt": [
        (
            "t eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZw end",
            "t [REDACTED] end",
        )
    ],
    "bearer": [
        ("sent Bearer abcDEF123456789 upstream", "sent Bearer [REDACTED] upstream"),
        ("Bearer%20eyJhbGciOiJIUzI1NiJ9x", "Bearer%20[REDACTED]"),
        ("basic c3lzb3BzOmx1bWVuLTQ0", "basic [REDACTED]"),
    ],
    "api_key": [
        ("key sk_live_51Hx9TqQe2bVn4R7p", "key [REDACTED]"),
        ("AKIAZQ3EXAMPLE7Q2LMN", "[REDACTED]"),
        ("ghp_" + "a1B2" * 9, "[REDACTED]"),
        ("xoxb-123456789012-abcdefABCDEF", "[REDACTED]"),
        (
            "/services/T0123ABCD9/B0456EFGH8/abcdefghij0123456789xyz",
            "/services/[REDACTED]",
        ),
        ("/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/send", "/[REDACTED]/send"),
    ],
    "private_key": [
        (
            "k=-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- done",
            "k=[REDACTED] done",
        ),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg (truncated", "[REDACTED]"),
        (
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
            "[REDACTED]",
        ),
    ],
    "labelled_secret": [
        ("authorization: 'x9Kp2mQ7vL'", "authorization: '[REDACTED]'"),
        ("{'authorization':'x9Kp2mQ7vL'}", "{'authorization':'[REDACTED]'}"),
        ("{'password': 'hunter2'}", "{'password': '[REDACTED]'}"),
        ("password:Blue-Otter-42 failed", "password:[REDACTED] failed"),
        ('{"password":"Gr33n-Tea!","remember":true}', '{"password":"[REDACTED]","remember":true}'),
        ("db_password = 'x y z'", "db_password = '[REDACTED]'"),
        ("(api_key=sk_x1)", "(api_key=[REDACTED])"),
        ("client_secret: abc", "client_secret: [REDACTED]"),
        ("csrftoken=Qm9n; theme=dark", "csrftoken=[REDACTED]; theme=dark"),
        (
            '{"newPassword":"hunter2","dbPassword":"x1","apiSecret":"abc"}',
            '{"newPassword":"[REDACTED]","dbPassword":"[REDACTED]","apiSecret":"[REDACTED]"}',
        ),
        ('{\\"password\\":\\"hunter2\\"}', '{\\"password\\":\\"[REDACTED]\\"}'),
        ("PGPASSWORD=hunter2 psql", "PGPASSWORD=[REDACTED] psql"),
        ('"password" => "hunter2"', '"password" => "[REDACTED]"'),
        ('{"pin": 1234, "password": null}', '{"pin": "[REDACTED]", "password": null}'),
        ("<password>hunter2</password>", "<password>[REDACTED]</password>"),
        ("Authorization: abcdef1234567890rawtoken", "Authorization: [REDACTED]"),
        ("Authorization: Bearer abcDEF123456789", "Authorization: [REDACTED]"),
        ("AccountName=x;AccountKey=abc123XYZ+/==;", "AccountName=x;AccountKey=[REDACTED];"),
        ("passcode=1234 cvv=123 pin=0000", "passcode=[REDACTED] cvv=[REDACTED] pin=[REDACTED]"),
        ("sent card_holder=Mia+Hoffmann", "sent card_holder=[REDACTED]"),
    ],
    "sql_password": [
        ("ALTER USER app WITH PASSWORD 'hunter2'", "ALTER USER app WITH PASSWORD '[REDACTED]'"),
        (
            "SET PASSWORD FOR 'app'@'localhost' = PASSWORD('hunter2')",
            "SET PASSWORD FOR 'app'@'localhost' = PASSWORD('[REDACTED]')",
        ),
        (
            "CREATE USER 'bob'@'%' IDENTIFIED BY 'hunter2'",
            "CREATE USER 'bob'@'%' IDENTIFIED BY '[REDACTED]'",
        ),
        (
            "SET PASSWORD FOR 'bob'@'localhost' = 'hunter2'",
            "SET PASSWORD FOR 'bob'@'localhost' = '[REDACTED]'",
        ),
    ],
    "cli_secret": [
        ("mysqld --password hunter2 --port 3306", "mysqld --password [REDACTED] --port 3306"),
        ("psql --pass s3cr3t -h db", "psql --pass [REDACTED] -h db"),
    ],
    "redis_auth": [
        ("AUTH s3cr3t-pass", "AUTH [REDACTED]"),
        ("AUTH app-user s3cr3t-pass", "AUTH [REDACTED]"),
        ("CONFIG SET requirepass Tr1cky-Pa55!", "CONFIG SET requirepass [REDACTED]"),
        ("config set masterauth hunter2", "config set masterauth [REDACTED]"),
        ("redis AUTH hunter2", "redis AUTH [REDACTED]"),
        ("HELLO 3 AUTH app hunter2", "HELLO 3 AUTH [REDACTED]"),
        (
            "MIGRATE host 6379 key 0 5000 AUTH hunter2",
            "MIGRATE host 6379 key 0 5000 AUTH [REDACTED]",
        ),
    ],
    "cookie": [
        ("Cookie: sid=abc123; theme=dark", "Cookie: sid=[REDACTED]; theme=[REDACTED]"),
        ('{"Cookie": "sid=abc123"}', '{"Cookie": "sid=[REDACTED]"}'),
        ("set-cookie: sid=f00d; Path=/; HttpOnly", "set-cookie: sid=[REDACTED]; Path=/; HttpOnly"),
    ],
}

KEPT = {
    "timestamps": ["1741806762157", "2026-12-03T16:20:05.123456Z", "ts=1764000000000000000"],
    "order numbers": ["ORD-5521", "order 100045872213 shipped", "invoice 2026-000187"],
    "uuids": ["44533314-7893-4881-a7c1-0e5b9d2f6a18", "550e8400-e29b-41d4-a716-446655440000"],
    "hex ids": ["7d3f0a91c4e25b68a1f9e03c2d4b7a56", "span 00f067aa0ba902b7"],
    "versions": ["v8.5.5.17", "Chrome/126.0.6478.126", "grpc-python/1.85.3"],
    "prices": ["19.99 EUR", "total=1234.56", "0.4716420022329848"],
    "skus": ["SKU-7731-0042", "SKU-1180-0007"],
    "card look-alikes": ["4539-6736-5882-7760", "3017728983724034", "1234567890123"],
    "times and macs": ["10:30:45", "12:30", "00:1a:2b:3c:4d:5e"],
    "placeholders": ["[EMAIL] [CREDIT_CARD] [REDACTED] [IBAN] [SSN]"],
    "plain words": [
        "std::vector",
        "a token of thanks",
        "session expired",
        "code 137",
        "Token validation failed for request",
        "Basic authentication required here",
        "Digest algorithm mismatch detected",
        "negotiate protocol version",
        "password reset requested",
    ],
    "not e-mail": [
        "https://cdn.shop.example.com/img/logo@2x.png",
        "cart@3x.webp",
        "git@github.com:org/repo.git",
        "npm pkg@1.2.3",
    ],
    "counters": ["input_tokens=1532", "retries: 3"],
    "auth-words": ["OAuth token expired", "OAUTH2 flow", "the auth service failed"],
    "dashed-numbers": ["backup 2026-12-03-10-15.tar", "part 1-2-3-456"],
}


def _scrub(engine: Engine, text: str) -> tuple[str, list[str]]:
    hits: list[str] = []
    return engine.for_service(None).text(text, hits), hits


@pytest.mark.parametrize(
    "detector, text, expected",
    [(name, text, expected) for name, rows in FOUND.items() for text, expected in rows],
    ids=[f"{name}-{index}" for name, rows in FOUND.items() for index in range(len(rows))],
)
def test_found(engine: Engine, detector: str, text: str, expected: str) -> None:
    out, hits = _scrub(engine, text)
    assert out == expected
    assert detector in hits


@pytest.mark.parametrize(
    "text",
    [text for rows in KEPT.values() for text in rows],
    ids=[f"{name}-{index}" for name, rows in KEPT.items() for index in range(len(rows))],
)
def test_kept(engine: Engine, text: str) -> None:
    assert _scrub(engine, text) == (text, [])


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://x.example/s?q=password:hunter2", "https://x.example/s?q=password:[REDACTED]"),
        ("https://x.example/s?debug&Token=abc", "https://x.example/s?debug&Token=[REDACTED]"),
        ("https://x.example/s?to=ana%40example.com", "https://x.example/s?to=[EMAIL]"),
        (
            "https://x.example/a;jsessionid=ABC123?x=1",
            "https://x.example/a;jsessionid=[REDACTED]?x=1",
        ),
        ("/search?q=shoes&page=2", "/search?q=shoes&page=2"),
    ],
    ids=["label-in-value", "mixed-case-name", "email-value", "matrix-param", "clean-reference"],
)
def test_url_parts(engine: Engine, url: str, expected: str) -> None:
    assert engine.for_service(None).value("url.full", url, []) == expected


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "https://x.example/a?r=https%253A%252F%252Fy.example%252Fcb%253Ftoken%253Dabc123",
            "https://x.example/a?r=https%253A%252F%252Fy.example%252Fcb%253Ftoken%253D[REDACTED]",
        ),
        ("https://x.example/a?q=password%3Dhunter2", "https://x.example/a?q=password%3D[REDACTED]"),
        (
            "https://x.example/a?data=%7B%22password%22%3A%22hunter2%22%7D",
            "https://x.example/a?data=%7B%22password%22%3A%22[REDACTED]%22%7D",
        ),
        (
            "https://x.example/a?x=Bearer+2YotnFZFEjr1zCsicMWpAA",
            "https://x.example/a?x=Bearer%20[REDACTED]",
        ),
        ("https://x.example/a?x=4111%2D1111%2D1111%2D1111", "https://x.example/a?x=[CREDIT_CARD]"),
        ("https://x.example/a?x=DE89+3704+0044+0532+0130+00", "https://x.example/a?x=[IBAN]"),
        (
            "https://x.example/a?street[]=27+Harbour&token[]=abc&code%5B%5D=x",
            "https://x.example/a?street[]=[REDACTED]&token[]=[REDACTED]&code%5B%5D=[REDACTED]",
        ),
        (
            "https://x.example/a?phone_number=1&msisdn=2&oauth_verifier=3&q=c%2B%2B+book",
            "https://x.example/a?phone_number=[REDACTED]&msisdn=[REDACTED]"
            "&oauth_verifier=[REDACTED]&q=c%2B%2B+book",
        ),
        ("https://x.example/a?r=50%25+off&page=2", "https://x.example/a?r=50%25+off&page=2"),
        ("https://x.example/q?q=0+@0.example", "https://x.example/q?q=[EMAIL]"),
    ],
    ids=[
        "double-encoded-url",
        "encoded-label",
        "encoded-json",
        "form-encoded-bearer",
        "encoded-card",
        "form-encoded-iban",
        "php-array-names",
        "more-param-names",
        "encoded-clean",
        "plus-in-an-address",
    ],
)
def test_encoded_query_values_are_read_decoded(engine: Engine, url: str, expected: str) -> None:
    sanitizer = engine.for_service(None)
    assert sanitizer.value("url.full", url, []) == expected
    assert sanitizer.value("url.full", expected, []) == expected


@pytest.mark.parametrize(
    "key, text, expected",
    [
        (
            "db.connection_string",
            "postgres://app:s3cr#t@db/shop",
            "postgres://REDACTED:REDACTED@db/shop",
        ),
        ("app.note", "redis://default:p?ss@cache:6379", "redis://REDACTED:REDACTED@cache:6379"),
        ("url.full", "https://app:s3cr#t@x.example/", "https://REDACTED:REDACTED@x.example/"),
        (
            "app.note",
            "connect https://anna:pass word@x.example/a failed",
            "connect https://anna:REDACTED [EMAIL]/a failed",
        ),
        ("url.full", "https://x.example:8080/a?b=c#frag", "https://x.example:8080/a?b=c#frag"),
    ],
    ids=["hash-in-password", "question-mark", "url-key", "space-in-password", "real-port"],
)
def test_passwords_the_url_grammar_cuts_short(
    engine: Engine, key: str, text: str, expected: str
) -> None:
    """A password holding ``#``, ``?`` or a space breaks the URL apart; it still goes."""
    sanitizer = engine.for_service(None)
    assert sanitizer.value(key, text, []) == expected
    assert sanitizer.value(key, expected, []) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            '{"u":"https:\\/\\/x.example\\/cb?code=abc123"}',
            '{"u":"https:\\/\\/x.example\\/cb?code=[REDACTED]"}',
        ),
        (
            '{"url":"https:\\/\\/u:p@x.example\\/a"}',
            '{"url":"https:\\/\\/REDACTED:REDACTED@x.example\\/a"}',
        ),
        (
            '{"u":"https://x.example/cb?state=1\\u0026code=abc123"}',
            '{"u":"https://x.example/cb?state=1\\u0026code=[REDACTED]"}',
        ),
        (
            "redirect to https%3A%2F%2Fx.example%2Fcb%3Fcode%3Dabc123 failed",
            "redirect to https%3A%2F%2Fx.example%2Fcb%3Fcode%3D[REDACTED] failed",
        ),
        (
            '{"u":"https:\\/\\/x.example\\/p\\/item?color=navy"}',
            '{"u":"https:\\/\\/x.example\\/p\\/item?color=navy"}',
        ),
    ],
    ids=["php-escaped", "php-userinfo", "go-ampersand", "percent-encoded", "escaped-clean"],
)
def test_urls_written_escaped_in_text(engine: Engine, text: str, expected: str) -> None:
    assert _scrub(engine, text)[0] == expected
    assert _scrub(engine, expected)[0] == expected
