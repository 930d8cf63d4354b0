"""The webhook signature contract of DESIGN §1.3, one behaviour per test."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from payflow.signing import (
    DEFAULT_TOLERANCE_SECONDS,
    SIGNATURE_HEADERS,
    Scheme,
    SignatureError,
    detect_scheme,
    generate_secret,
    secret_key,
    sign,
    verify,
)

NOW = 1_700_000_000
BODY = b'{"type":"payment.succeeded","data":{"orderNumber":"ORD-1","amount":149.99}}'
MESSAGE_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
SECRET = {
    Scheme.PAYFLOW: "whsec_payflow_test_secret",
    Scheme.STRIPE: "whsec_stripe_test_secret",
    Scheme.STANDARD: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}
OTHER_SECRET = {
    Scheme.PAYFLOW: "whsec_another_secret",
    Scheme.STRIPE: "whsec_another_secret",
    Scheme.STANDARD: "whsec_" + base64.b64encode(b"another secret key").decode(),
}

all_schemes = pytest.mark.parametrize("scheme", list(Scheme))
schemes = st.sampled_from(list(Scheme))
timestamps = st.integers(min_value=0, max_value=2**40)
message_ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)


def secrets_for(scheme: Scheme) -> st.SearchStrategy[str]:
    plain = st.text(min_size=1)
    if scheme is not Scheme.STANDARD:
        return plain
    encoded = st.binary(min_size=1, max_size=64).map(
        lambda raw: "whsec_" + base64.b64encode(raw).decode()
    )
    return encoded | plain.filter(lambda s: not s.startswith("whsec_"))


def signed(
    scheme: Scheme, body: bytes = BODY, secret: str | None = None, timestamp: int = NOW
) -> dict[str, str]:
    return sign(scheme, body, [secret or SECRET[scheme]], timestamp, MESSAGE_ID)


def reason(scheme: Scheme, headers: dict[str, str], body: bytes = BODY) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(scheme, body, headers, [SECRET[scheme]], NOW)
    return caught.value.reason


def with_signature_header(scheme: Scheme, value: str) -> dict[str, str]:
    """A validly signed request whose signature header is replaced by `value`."""
    return signed(scheme) | {SIGNATURE_HEADERS[scheme]: value}


# Round trip and rotation


@given(
    data=st.data(),
    scheme=schemes,
    body=st.binary(),
    timestamp=timestamps,
    message_id=message_ids,
)
def test_signed_request_verifies_and_returns_its_timestamp(
    data: st.DataObject, scheme: Scheme, body: bytes, timestamp: int, message_id: str
) -> None:
    secrets = data.draw(st.lists(secrets_for(scheme), min_size=1, max_size=3))
    headers = sign(scheme, body, secrets, timestamp, message_id)
    assert verify(scheme, body, headers, secrets, now=timestamp) == timestamp


@given(data=st.data(), scheme=schemes, body=st.binary())
def test_any_signing_secret_matching_any_active_secret_verifies(
    data: st.DataObject, scheme: Scheme, body: bytes
) -> None:
    signing = data.draw(st.lists(secrets_for(scheme), min_size=1, max_size=3, unique=True))
    shared = data.draw(st.sampled_from(signing))
    active = data.draw(st.lists(secrets_for(scheme), max_size=2).map(lambda s: [*s, shared]))
    headers = sign(scheme, body, signing, NOW, MESSAGE_ID)
    assert verify(scheme, body, headers, active, NOW) == NOW


def test_signature_headers_have_the_documented_shape() -> None:
    payflow = sign(Scheme.PAYFLOW, BODY, ["a", "b"], NOW)
    assert list(payflow) == ["X-Signature"]
    t, v1a, v1b = payflow["X-Signature"].split(",")
    assert t == f"t={NOW}"
    assert v1a.startswith("v1=")
    assert v1b.startswith("v1=")
    assert v1a != v1b

    stripe = sign(Scheme.STRIPE, BODY, ["a"], NOW)
    assert list(stripe) == ["Stripe-Signature"]
    assert stripe["Stripe-Signature"].startswith(f"t={NOW},v1=")

    standard = sign(Scheme.STANDARD, BODY, [SECRET[Scheme.STANDARD], "x"], NOW, MESSAGE_ID)
    assert standard["webhook-id"] == MESSAGE_ID
    assert standard["webhook-timestamp"] == str(NOW)
    assert [entry[:3] for entry in standard["webhook-signature"].split(" ")] == ["v1,", "v1,"]


def test_standard_signature_matches_the_reference_library_vector() -> None:
    # Test vector from the Standard Webhooks reference libraries.
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    body = b'{"test": 2432232314}'
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert verify(Scheme.STANDARD, body, headers, [secret], now=1614265330) == 1614265330


def test_header_lookup_ignores_case() -> None:
    for scheme in Scheme:
        headers = {name.upper(): value for name, value in signed(scheme).items()}
        assert verify(scheme, BODY, headers, [SECRET[scheme]], NOW) == NOW


# Tampering


@given(scheme=schemes, body=st.binary(min_size=1), data=st.data())
def test_single_byte_change_to_body_fails_verification(
    scheme: Scheme, body: bytes, data: st.DataObject
) -> None:
    headers = signed(scheme, body)
    index = data.draw(st.integers(0, len(body) - 1))
    new_byte = data.draw(st.integers(0, 255).filter(lambda b: b != body[index]))
    tampered = body[:index] + bytes([new_byte]) + body[index + 1 :]
    with pytest.raises(SignatureError):
        verify(scheme, tampered, headers, [SECRET[scheme]], NOW)


@given(scheme=schemes, timestamp=timestamps, data=st.data())
def test_single_byte_change_to_timestamp_fails_verification(
    scheme: Scheme, timestamp: int, data: st.DataObject
) -> None:
    headers = signed(scheme, timestamp=timestamp)
    text = str(timestamp)
    index = data.draw(st.integers(0, len(text) - 1))
    new_char = data.draw(st.characters(codec="ascii").filter(lambda c: c != text[index]))
    changed = text[:index] + new_char + text[index + 1 :]
    if scheme is Scheme.STANDARD:
        headers["webhook-timestamp"] = changed
    else:
        name = SIGNATURE_HEADERS[scheme]
        headers[name] = headers[name].replace(f"t={text},", f"t={changed},", 1)
    with pytest.raises(SignatureError):
        verify(scheme, BODY, headers, [SECRET[scheme]], now=timestamp, tolerance=2**41)


@given(scheme=schemes, data=st.data())
def test_single_byte_change_to_signature_fails_verification(
    scheme: Scheme, data: st.DataObject
) -> None:
    headers = signed(scheme)
    name = SIGNATURE_HEADERS[scheme]
    value = headers[name]
    start = value.index("v1") + 3  # after "v1=" or "v1,"
    index = data.draw(st.integers(start, len(value) - 1))
    new_char = data.draw(st.characters(codec="ascii").filter(lambda c: c != value[index]))
    headers[name] = value[:index] + new_char + value[index + 1 :]
    with pytest.raises(SignatureError):
        verify(scheme, BODY, headers, [SECRET[scheme]], NOW)


# Tolerance


@all_schemes
@pytest.mark.parametrize("offset", [-DEFAULT_TOLERANCE_SECONDS, 0, DEFAULT_TOLERANCE_SECONDS])
def test_timestamp_within_300_seconds_either_way_is_accepted(scheme: Scheme, offset: int) -> None:
    headers = signed(scheme, timestamp=NOW + offset)
    assert verify(scheme, BODY, headers, [SECRET[scheme]], NOW) == NOW + offset


@all_schemes
@pytest.mark.parametrize("offset", [-301, 301, -600, 600])
def test_timestamp_beyond_300_seconds_either_way_is_rejected(scheme: Scheme, offset: int) -> None:
    assert reason(scheme, signed(scheme, timestamp=NOW + offset)) == "timestamp-out-of-tolerance"


def test_tolerance_is_configurable() -> None:
    headers = signed(Scheme.PAYFLOW, timestamp=NOW - 10)
    with pytest.raises(SignatureError, match="at most 5 s"):
        verify(Scheme.PAYFLOW, BODY, headers, [SECRET[Scheme.PAYFLOW]], NOW, tolerance=5)


# Rejections and their reasons


@all_schemes
def test_missing_signature_header_is_missing_signature(scheme: Scheme) -> None:
    headers = signed(scheme)
    del headers[SIGNATURE_HEADERS[scheme]]
    assert reason(scheme, headers) == "missing-signature"
    assert reason(scheme, {}) == "missing-signature"


@all_schemes
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("garbage", id="garbage"),
        pytest.param("t=abc,v1=" + "0" * 64, id="t=abc"),
        pytest.param("v1,AAAA v1=0 t=", id="mixed-up"),
        pytest.param("t=1700000000,v1=xyz", id="non-hex-v1"),
        pytest.param("τ=1700000000,v1=ünïcødé ☃ \u202e", id="unicode-junk"),
        pytest.param("\x00\udcff\n", id="control-and-surrogate"),
        pytest.param("t=" + "9" * 5000 + ",v1=" + "0" * 64, id="huge-timestamp"),
        pytest.param("t=1700000000,v1=" + "0" * 100 * 1024, id="100-KiB"),
    ],
)
def test_malformed_signature_header_is_malformed_signature(scheme: Scheme, value: str) -> None:
    assert reason(scheme, with_signature_header(scheme, value)) == "malformed-signature"


@all_schemes
@pytest.mark.parametrize("text", ["abc", "", "-5", "+1700000000", " 1700000000", "01700000000"])
def test_timestamp_that_is_not_a_plain_decimal_is_malformed(scheme: Scheme, text: str) -> None:
    headers = signed(scheme)
    if scheme is Scheme.STANDARD:
        headers["webhook-timestamp"] = text
    else:
        name = SIGNATURE_HEADERS[scheme]
        headers[name] = headers[name].replace(f"t={NOW}", f"t={text}")
    assert reason(scheme, headers) == "malformed-signature"


@pytest.mark.parametrize("scheme", [Scheme.PAYFLOW, Scheme.STRIPE])
def test_header_with_only_v0_signatures_is_malformed(scheme: Scheme) -> None:
    v1_header = signed(scheme)[SIGNATURE_HEADERS[scheme]]
    only_v0 = v1_header.replace("v1=", "v0=")
    assert reason(scheme, with_signature_header(scheme, only_v0)) == "malformed-signature"


def test_standard_header_with_only_unknown_versions_is_malformed() -> None:
    only_v1a = signed(Scheme.STANDARD)["webhook-signature"].replace("v1,", "v1a,")
    headers = with_signature_header(Scheme.STANDARD, only_v1a)
    assert reason(Scheme.STANDARD, headers) == "malformed-signature"


@pytest.mark.parametrize("scheme", [Scheme.PAYFLOW, Scheme.STRIPE])
def test_unknown_signature_versions_are_ignored(scheme: Scheme) -> None:
    name = SIGNATURE_HEADERS[scheme]
    headers = signed(scheme)
    headers[name] = headers[name] + ",v0=" + "f" * 64 + ",x=whatever"
    assert verify(scheme, BODY, headers, [SECRET[scheme]], NOW) == NOW


def outcome(scheme: Scheme, headers: dict[str, str]) -> int | str:
    """What `verify` decides: the timestamp it returns, or the reason it gives."""
    try:
        return verify(scheme, BODY, headers, [SECRET[scheme]], NOW)
    except SignatureError as exc:
        return exc.reason


@given(
    scheme=st.sampled_from([Scheme.PAYFLOW, Scheme.STRIPE]),
    timestamp=st.one_of(
        st.integers(min_value=NOW - 400, max_value=NOW + 400).map(str),
        st.from_regex(r"0|[1-9][0-9]{0,14}|0[0-9]{1,3}|[0-9]{16}", fullmatch=True),
    ),
    genuine=st.booleans(),
    forged=st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
)
def test_the_order_of_t_and_v1_never_changes_the_outcome(
    scheme: Scheme, timestamp: str, genuine: bool, forged: str
) -> None:
    # `t=…,v1=…`, as payflow signs with one secret, is decided by a shortcut; any other
    # order by the general parser: both must decide alike.
    prefix = f"t={timestamp}." if scheme is Scheme.PAYFLOW else f"{timestamp}."
    secret = SECRET[scheme].encode()
    real = hmac.new(secret, prefix.encode() + BODY, hashlib.sha256).hexdigest()
    signature = real if genuine else forged
    usual = with_signature_header(scheme, f"t={timestamp},v1={signature}")
    reordered = with_signature_header(scheme, f"v1={signature},t={timestamp}")
    assert outcome(scheme, usual) == outcome(scheme, reordered)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp"])
def test_standard_request_without_id_or_timestamp_is_malformed(missing: str) -> None:
    headers = signed(Scheme.STANDARD)
    del headers[missing]
    assert reason(Scheme.STANDARD, headers) == "malformed-signature"


@all_schemes
def test_header_given_twice_in_different_case_is_malformed(scheme: Scheme) -> None:
    name = SIGNATURE_HEADERS[scheme]
    headers = signed(scheme)
    headers[name.swapcase()] = headers[name]
    assert reason(scheme, headers) == "malformed-signature"


@all_schemes
def test_valid_signature_over_a_different_body_does_not_match(scheme: Scheme) -> None:
    headers = signed(scheme, body=b'{"amount":0.01}')
    assert reason(scheme, headers) == "no-matching-signature"


@all_schemes
def test_signature_under_another_secret_does_not_match(scheme: Scheme) -> None:
    headers = signed(scheme, secret=OTHER_SECRET[scheme])
    assert reason(scheme, headers) == "no-matching-signature"


def test_standard_signature_under_another_message_id_does_not_match() -> None:
    headers = signed(Scheme.STANDARD) | {"webhook-id": "msg_other"}
    assert reason(Scheme.STANDARD, headers) == "no-matching-signature"


def test_stripe_and_payflow_signatures_are_not_interchangeable() -> None:
    stripe_value = signed(Scheme.STRIPE, secret="shared")["Stripe-Signature"]
    with pytest.raises(SignatureError) as caught:
        verify(Scheme.PAYFLOW, BODY, {"X-Signature": stripe_value}, ["shared"], NOW)
    assert caught.value.reason == "no-matching-signature"


@all_schemes
def test_error_message_reveals_neither_expected_signature_nor_secret(scheme: Scheme) -> None:
    expected = signed(scheme)[SIGNATURE_HEADERS[scheme]]
    headers = signed(scheme, secret=OTHER_SECRET[scheme])
    with pytest.raises(SignatureError) as caught:
        verify(scheme, BODY, headers, [SECRET[scheme]], NOW)
    message = str(caught.value)
    assert SECRET[scheme] not in message
    assert expected.rsplit("v1", 1)[1][1:] not in message


header_names = st.sampled_from(
    [
        "X-Signature",
        "x-signature",
        "Stripe-Signature",
        "STRIPE-SIGNATURE",
        "webhook-signature",
        "Webhook-Id",
        "webhook-id",
        "webhook-timestamp",
        "Other",
    ]
)


@given(scheme=schemes, value=st.text(), body=st.binary())
def test_arbitrary_signature_header_text_only_ever_raises_signature_error(
    scheme: Scheme, value: str, body: bytes
) -> None:
    with pytest.raises(SignatureError):
        verify(scheme, body, with_signature_header(scheme, value), [SECRET[scheme]], NOW)


@given(scheme=schemes, headers=st.dictionaries(header_names, st.text()), body=st.binary())
def test_arbitrary_headers_only_ever_raise_signature_error(
    scheme: Scheme, headers: dict[str, str], body: bytes
) -> None:
    with pytest.raises(SignatureError):
        verify(scheme, body, headers, [SECRET[scheme]], NOW)


@given(id_=st.text(), timestamp=st.text())
def test_arbitrary_standard_id_and_timestamp_only_ever_raise_signature_error(
    id_: str, timestamp: str
) -> None:
    headers = signed(Scheme.STANDARD) | {"webhook-id": id_, "webhook-timestamp": timestamp}
    assume(headers != signed(Scheme.STANDARD))
    with pytest.raises(SignatureError):
        verify(Scheme.STANDARD, BODY, headers, [SECRET[Scheme.STANDARD]], NOW)


# Scheme detection, keys and secrets


@pytest.mark.parametrize(
    ("header", "scheme"),
    [
        ("X-Signature", Scheme.PAYFLOW),
        ("x-SIGNATURE", Scheme.PAYFLOW),
        ("Stripe-Signature", Scheme.STRIPE),
        ("stripe-signature", Scheme.STRIPE),
        ("webhook-signature", Scheme.STANDARD),
        ("Webhook-Signature", Scheme.STANDARD),
    ],
)
def test_scheme_is_detected_from_its_signature_header(header: str, scheme: Scheme) -> None:
    assert detect_scheme({header: "x", "Content-Type": "application/json"}) is scheme


def test_no_signature_header_detects_no_scheme() -> None:
    assert detect_scheme({"Content-Type": "application/json"}) is None
    assert detect_scheme({}) is None


def test_standard_secret_key_is_the_base64_after_whsec() -> None:
    assert secret_key(Scheme.STANDARD, "whsec_" + base64.b64encode(b"key").decode()) == b"key"


def test_standard_secret_without_prefix_is_used_as_utf8() -> None:
    assert secret_key(Scheme.STANDARD, "plain-secret") == b"plain-secret"


@pytest.mark.parametrize("scheme", [Scheme.PAYFLOW, Scheme.STRIPE])
def test_payflow_and_stripe_secret_key_is_the_whole_secret_as_utf8(scheme: Scheme) -> None:
    assert secret_key(scheme, "whsec_abc") == b"whsec_abc"


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_not base64!"])
def test_unusable_standard_secret_is_a_value_error(secret: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        secret_key(Scheme.STANDARD, secret)


@all_schemes
def test_generated_secrets_are_fresh_and_usable(scheme: Scheme) -> None:
    first, second = generate_secret(scheme), generate_secret(scheme)
    assert first != second
    assert first.startswith("whsec_")
    assert len(secret_key(scheme, first)) >= 24
    headers = sign(scheme, BODY, [first], NOW, MESSAGE_ID)
    assert verify(scheme, BODY, headers, [first], NOW) == NOW


def test_standard_signing_without_message_id_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="message_id"):
        sign(Scheme.STANDARD, BODY, [SECRET[Scheme.STANDARD]], NOW)


@all_schemes
def test_signing_or_verifying_without_secrets_is_a_value_error(scheme: Scheme) -> None:
    with pytest.raises(ValueError, match="secret"):
        sign(scheme, BODY, [], NOW, MESSAGE_ID)
    with pytest.raises(ValueError, match="secret"):
        verify(scheme, BODY, signed(scheme), [], NOW)


def test_signing_a_negative_timestamp_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="timestamp"):
        sign(Scheme.PAYFLOW, BODY, ["s"], -1)
