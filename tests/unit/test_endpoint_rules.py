"""The pure rules of webhook endpoints: which secrets sign when, which URLs and events are valid."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from payflow.domain.endpoints import (
    RegisteredEndpoint,
    SecretVersion,
    events_problem,
    url_problem,
)
from tests.support import START

GRACE = timedelta(hours=24)


def endpoint(*secrets: SecretVersion) -> RegisteredEndpoint:
    return RegisteredEndpoint(
        id="we_1",
        url="http://127.0.0.1:3000/hooks",
        scheme="payflow",
        events=("*",),
        description=None,
        secrets=secrets or (SecretVersion("first"),),
        created_at=START,
        updated_at=START,
    )


def test_a_new_endpoint_signs_with_its_one_secret() -> None:
    assert endpoint().at(START).secrets == ["first"]


def test_rotation_puts_the_new_secret_first_and_keeps_the_old_for_the_grace_period() -> None:
    rotated = endpoint().rotated("second", START, GRACE)
    assert rotated.active_secrets(START) == ["second", "first"]
    assert rotated.active_secrets(START + GRACE - timedelta(milliseconds=1)) == ["second", "first"]
    assert rotated.active_secrets(START + GRACE) == ["second"]
    assert rotated.previous_secrets_expire_at(START) == START + GRACE
    assert rotated.previous_secrets_expire_at(START + GRACE) is None
    assert rotated.version == 2


def test_rotating_again_never_extends_an_older_secret() -> None:
    once = endpoint().rotated("second", START, GRACE)
    later = START + timedelta(hours=20)
    twice = once.rotated("third", later, GRACE)
    assert twice.active_secrets(later) == ["third", "second", "first"]
    assert twice.active_secrets(START + GRACE) == ["third", "second"]  # first ends on time
    assert twice.active_secrets(later + GRACE) == ["third"]


def test_rotation_drops_secrets_that_have_expired() -> None:
    once = endpoint().rotated("second", START, GRACE)
    twice = once.rotated("third", START + GRACE * 2, GRACE)
    assert [s.secret for s in twice.secrets] == ["third", "second"]


def test_zero_grace_retires_the_old_secret_at_once() -> None:
    assert endpoint().rotated("second", START, timedelta(0)).active_secrets(START) == ["second"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:3000/webhooks",
        "https://shop.example/hooks?source=payflow",
        "http://[::1]:8080/",
        "http://user:pass@localhost/hook",
        "HTTPS://EXAMPLE.COM/",
    ],
)
def test_http_urls_are_accepted(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/", "http:// or https://"),
        ("example.com/hook", "http:// or https://"),
        ("http:///path", "host"),
        ("http://example.com:0/", "port 0"),
        ("http://example.com:65536/", "not a valid URL"),
        ("http://[::1/", "not a valid URL"),
        ("http://example.com/a b", "without spaces"),
        ("http://bücher.example/", "punycode"),
        ("http://example.com/#top", "fragment"),
        ("http://example.com/" + "a" * 2048, "at most 2048"),
    ],
)
def test_other_urls_are_refused_with_a_reason(url: str, reason: str) -> None:
    problem = url_problem(url)
    assert problem is not None
    assert reason in problem


@given(st.text(max_size=300))
def test_url_check_answers_any_text_without_raising(url: str) -> None:
    problem = url_problem(url)
    assert problem is None or problem


visible_ascii = st.characters(min_codepoint=0x21, max_codepoint=0x7E)


@given(scheme=st.sampled_from(["http://", "https://"]), rest=st.text(visible_ascii, max_size=80))
def test_an_accepted_url_is_one_the_sender_can_post_to(scheme: str, rest: str) -> None:
    url = scheme + rest
    if url_problem(url) is None:
        request = httpx.Request("POST", url)
        assert request.url.host


def test_events_must_be_known_or_star() -> None:
    known = ["payment.succeeded", "payment.failed"]
    assert events_problem(["*"], known) is None
    assert events_problem(["payment.failed"], known) is None
    assert events_problem([], known) is not None
    problem = events_problem(["payment.failed", "charge.refunded"], known)
    assert problem is not None
    assert "charge.refunded" in problem
