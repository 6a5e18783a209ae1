"""PII and secret detection: each kind found and redacted, look-alike numbers left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_operators.core.models import Ticket
from llm_operators.core.pii import PiiKind, find_pii, iban_ok, luhn_ok, pii_kinds, redact

SAMPLE_ROOT = Path(__file__).resolve().parents[2] / "include" / "sample_data" / "tickets"


def found(text: str) -> list[tuple[str, str]]:
    return [(m.kind.value, text[m.start : m.end]) for m in find_pii(text)]


@pytest.mark.parametrize(
    ("text", "kind", "match"),
    [
        ("write to jane.doe+billing@example.co.uk please", "email", "jane.doe+billing@example.co.uk"),
        ("call +44 20 7946 0958 today", "phone", "+44 20 7946 0958"),
        ("call +1 415-555-0134 today", "phone", "+1 415-555-0134"),
        ("call (415) 555-0134 today", "phone", "(415) 555-0134"),
        ("call +61 2 5550 9966 today", "phone", "+61 2 5550 9966"),
        ("call 415.555.0134 today", "phone", "415.555.0134"),
        ("call 020 7946 0958.", "phone", "020 7946 0958"),
        ("card 4111 1111 1111 1111 expired", "card", "4111 1111 1111 1111"),
        ("card 4111-1111-1111-1111 expired", "card", "4111-1111-1111-1111"),
        ("card 5500005555555559 expired", "card", "5500005555555559"),
        ("iban GB82 WEST 1234 5698 7654 32 ok", "iban", "GB82 WEST 1234 5698 7654 32"),
        ("iban DE89370400440532013000 ok", "iban", "DE89370400440532013000"),
        ("my SSN is 123-45-6789", "ssn", "123-45-6789"),
        # digits in another script are digits too (the digit count that gates the number patterns)
        ("my SSN is \u0661\u0662\u0663-\u0664\u0665-\u0666\u0667\u0668\u0669", "ssn",
         "\u0661\u0662\u0663-\u0664\u0665-\u0666\u0667\u0668\u0669"),
        ("from 192.168.1.20 only", "ip", "192.168.1.20"),
        (
            "from 2001:0db8:85a3:0000:0000:8a2e:0370:7334 only",
            "ip",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        ),
        ("from 2001:db8::1 only", "ip", "2001:db8::1"),
        ("key sk-proj-abcdefghijklmnop1234 leaked", "secret", "sk-proj-abcdefghijklmnop1234"),
        ("token xoxb-123456789012-abcdefghij leaked", "secret", "xoxb-123456789012-abcdefghij"),
        ("aws AKIAIOSFODNN7EXAMPLE leaked", "secret", "AKIAIOSFODNN7EXAMPLE"),
        ("gh ghp_abcdefghijklmnopqrstuvwxyz123456 leaked", "secret", "ghp_abcdefghijklmnopqrstuvwxyz123456"),
        ("my password: hunter22", "secret", "password: hunter22"),
        ("Password is hunter22!", "secret", "Password is hunter22!"),
    ],
)
def test_each_kind_is_detected_and_redacted(text, kind, match):
    assert found(text) == [(kind, match)]
    redacted = redact(text)
    assert match not in redacted
    assert f"[{kind.upper()}]" in redacted
    assert redacted == text.replace(match, f"[{kind.upper()}]")


def test_luhn_invalid_sixteen_digits_are_not_a_card():
    assert not luhn_ok("4111111111111112")
    assert found("ref 4111 1111 1111 1112 here") == []
    assert found("ref 4111111111111112 here") == []


def test_invalid_iban_checksum_is_not_an_iban():
    assert iban_ok("GB82 WEST 1234 5698 7654 32")
    assert not iban_ok("GB82 WEST 1234 5698 7654 33")
    assert found("iban GB82 WEST 1234 5698 7654 33") == []


@pytest.mark.parametrize(
    "text",
    [
        "It started on 2025-10-01 at 14:30:00.",
        "between 2024-01-01 and 2024-12-31",
        "Order #A-10023 never arrived",
        "Invoice INV-2025-10023 and INV-2025-100234",
        "I paid $54.50 and €1,170.00",
        "The API returns 500 then 503 and 429",
        "Upgraded to v2.14.3 yesterday",
        "Order ORD-920895 and ORD-123456",
        "tracking 1Z999AA10123456784",
        "open from 12:30 - 13:45",
        "std::vector and aa:bb:cc:dd:ee:ff",
        "we have 3,000 products and 12 seats",
        "I forgot my password and need a reset",
    ],
)
def test_no_false_positives_on_look_alikes(text):
    assert found(text) == []
    assert redact(text) == text


def test_overlapping_kinds_are_reported_once():
    text = "card 4111 1111 1111 1111, mail a@b.io, tel +1 415-555-0134"
    assert [k for k, _ in found(text)] == ["card", "email", "phone"]
    assert redact(text) == "card [CARD], mail [EMAIL], tel [PHONE]"
    assert pii_kinds(text) == {PiiKind.CARD, PiiKind.EMAIL, PiiKind.PHONE}


def test_redact_without_pii_is_identity():
    assert redact("") == ""
    assert redact("nothing to see") == "nothing to see"


def _sample_tickets() -> list[Ticket]:
    tickets = []
    for path in sorted(SAMPLE_ROOT.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                tickets.append(Ticket.model_validate_json(line))
    return tickets


def test_detector_agrees_with_sample_labels():
    tickets = _sample_tickets()
    assert len(tickets) == 850
    clean = [t for t in tickets if not t.labels.pii]
    dirty = [t for t in tickets if t.labels.pii]
    false_pos = [(t.id, found(f"{t.subject}\n{t.body}")) for t in clean if find_pii(f"{t.subject}\n{t.body}")]
    misses = [(t.id, t.body[:200]) for t in dirty if not find_pii(f"{t.subject}\n{t.body}")]
    assert len(false_pos) <= 0.02 * len(clean), f"false positives on pii=false tickets: {false_pos}"
    assert len(misses) <= 0.05 * len(dirty), f"missed PII on pii=true tickets: {misses}"
