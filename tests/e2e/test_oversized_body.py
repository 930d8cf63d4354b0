"""A body over the limit gets its 413 even from a client that writes it all before reading.

The client here is a raw socket that sends the whole request, then reads, and asks the
server to close the connection after the answer (`Connection: close`, as many simple
clients do): the case where an unread body used to turn the 413 into a TCP reset.
"""

from __future__ import annotations

import socket

import pytest

from tests.e2e.conftest import Served

pytestmark = [pytest.mark.e2e, pytest.mark.backends("embedded")]  # the transport, not the database

# Far more than the kernel's socket buffers take on loopback, so the server must read it.
BODY_BYTES = 12 * 1024 * 1024
SOCKET_TIMEOUT = 60.0  # an upper bound for the exchange, not a timing assertion


def write_all_then_read(served: Served, headers: bytes, body: bytes) -> bytes:
    host, port = served.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(headers + body)  # a reset would raise here, or in recv below
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def request_head(length_header: bytes) -> bytes:
    return (
        b"POST /api/orders HTTP/1.1\r\nHost: payflow\r\nIdempotency-Key: big\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n" + length_header + b"\r\n"
    )


def assert_413_problem(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), head[:200]
    assert b"content-type: application/problem+json" in head
    assert b'"type":"/problems/payload-too-large"' in body


def test_a_large_body_written_in_full_before_reading_gets_its_413(served: Served) -> None:
    body = b'{"orderNumber":"' + b"A" * BODY_BYTES + b'","amount":1}'
    answer = write_all_then_read(served, request_head(b"Content-Length: %d\r\n" % len(body)), body)
    assert_413_problem(answer)


def test_a_large_chunked_body_written_in_full_before_reading_gets_its_413(
    served: Served,
) -> None:
    payload = b'{"orderNumber":"' + b"A" * BODY_BYTES + b'","amount":1}'
    chunked = b"%x\r\n" % len(payload) + payload + b"\r\n0\r\n\r\n"
    answer = write_all_then_read(served, request_head(b"Transfer-Encoding: chunked\r\n"), chunked)
    assert_413_problem(answer)
