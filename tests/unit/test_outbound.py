"""The outbound policy and its session (lti_tool.delivery.outbound), against real sockets: loopback
servers of these tests on free ports, a real TLS server with a certificate made here, and
the policy's resolver replaced where a test needs a name to resolve to a chosen address
(a host name pointing at loopback, DNS rebinding)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from outbound_support import BigBody, FakeLms, TcpRecorder, Trickler
from support import make_settings

from lti_tool.delivery.destinations import lrs_session
from lti_tool.delivery.outbound import (
    HostUnresolvable,
    OutboundPolicy,
    OutboundRefused,
    ResponseTooLarge,
    parse_networks,
)
from xapi.lrs import LrsClient, LrsEndpoint

LOOPBACK = parse_networks("127.0.0.0/8")


def _resolver(*answers: str):
    """A resolver that answers each call with the next address (the last one repeats)."""
    calls: list[str] = []

    def resolve(host, port, type=0):  # noqa: A002 - socket.getaddrinfo's name
        calls.append(host)
        address = answers[min(len(calls), len(answers)) - 1]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


# -- the URL's own rules -------------------------------------------------------------------

@pytest.mark.parametrize(("url", "rule"), [
    ("https://127.0.0.1:8443\\@1.1.1.1/", "backslash"),
    ("https://lms.example\\.evil.example/", "backslash"),
    ("https://user:pw@lms.example/", "user info"),
    ("https://1.1.1.1@127.0.0.1/", "user info"),
    ("https://lms.example/a b", "spaces or control characters"),
    ("https://lms.example/\x00", "spaces or control characters"),
    ("https://lms.exa\tmple/", "spaces or control characters"),
    ("http://lms.example/jwks", "must use https"),
    ("ftp://lms.example/", "not an http(s) URL"),
    ("javascript:alert(1)", "not an http(s) URL"),
    ("https:///path-only", "names no host"),
    ("https://lms.example:99999/", "invalid host or port"),
    ("https://[::1/", "invalid host or port"),  # urlsplit raises: was a 500 at /lti/register
    ("https://" + "a" * 3000 + ".example/", "longer than"),
    ("", "not a URL"),
    (None, "not a URL"),
])
def test_urls_that_parsers_read_differently_are_refused(url, rule):
    with pytest.raises(OutboundRefused, match=re.escape(rule)):
        OutboundPolicy().check_url(url)


def test_http_is_allowed_only_outside_production(database_url):
    assert OutboundPolicy.from_settings(make_settings(database_url)).allow_http
    production = OutboundPolicy(allow_http=False)
    with pytest.raises(OutboundRefused, match="https"):
        production.check_url("http://lms.example/")


# -- the addresses -------------------------------------------------------------------------

@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.1.2.3", "a private address"),
    ("172.16.0.1", "a private address"),
    ("192.168.1.1", "a private address"),
    ("fd00::1", "a private address"),
    ("169.254.169.254", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("224.0.0.1", "a multicast address"),
    ("0.0.0.0", "an unspecified address"),
    ("100.64.0.1", "a non-public address"),
    ("240.0.0.1", "a reserved address"),
    ("::ffff:127.0.0.1", "an IPv6 form of a loopback address"),
    ("64:ff9b::a00:1", "an IPv6 form of a private address"),
    ("2002:7f00:1::1", "an IPv6 form of a loopback address"),
])
def test_non_public_addresses_are_refused_naming_what_they_are(address, kind):
    with pytest.raises(OutboundRefused) as refused:
        OutboundPolicy().resolve(OutboundPolicy(allow_http=True).check_url(
            f"http://[{address}]/" if ":" in address else f"http://{address}/"))
    assert str(refused.value) == (f"its host resolves to {kind}, which "
                                  "outbound_allow_networks does not allow")


def test_public_addresses_and_allowed_networks_pass():
    policy = OutboundPolicy(allow_networks=parse_networks("10.20.0.0/16, ::1/128"))
    for url in ("https://93.184.216.34/", "https://10.20.3.4/", "https://[::1]/",
                "https://[::ffff:10.20.0.9]/"):
        policy.check(url)
    with pytest.raises(OutboundRefused, match="private address"):
        policy.check("https://10.21.0.1/")


def test_a_name_with_one_internal_address_is_refused():
    """A name answering a public and a private address could be connected to either."""
    policy = OutboundPolicy(resolve_host=lambda host, port, type=0: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))])
    with pytest.raises(OutboundRefused, match="private address"):
        policy.check("https://lms.example/")


def test_an_unresolvable_name_is_named_as_such():
    def fail(*args, **kwargs):
        raise socket.gaierror("no such name")

    with pytest.raises(HostUnresolvable, match="does not resolve"):
        OutboundPolicy(resolve_host=fail).check("https://nowhere.example/")


def test_allow_networks_setting_is_checked(database_url):
    from lti_tool.settings import SettingsError

    with pytest.raises(SettingsError, match="'10.0.0.0/33' is not an IP network"):
        make_settings(database_url, outbound_allow_networks="127.0.0.0/8 10.0.0.0/33")
    assert parse_networks(["127.0.0.0/8", "::1"]) == (
        ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


# -- the session: pinned addresses ---------------------------------------------------------

def test_a_name_connects_to_the_checked_address_and_keeps_its_host_header():
    with FakeLms() as lms:
        lms.json("GET", "/jwks", {"keys": []})
        resolve = _resolver("127.0.0.1")
        session = OutboundPolicy(allow_http=True, allow_networks=LOOPBACK,
                                 resolve_host=resolve).session()
        answer = session.get(f"http://lms.example:{lms.port}/jwks")
        assert answer.json() == {"keys": []}
        assert lms.requests[0]["headers"]["Host"] == f"lms.example:{lms.port}"
        assert resolve.calls == ["lms.example"]  # type: ignore[attr-defined]


def test_dns_rebinding_cannot_move_the_connection():
    """The name answers a public address to the early check and loopback to the next
    lookup: the transport checks the address it connects to, so the call is refused and
    the loopback server sees nothing."""
    with TcpRecorder() as internal:
        policy = OutboundPolicy(allow_http=True,
                                resolve_host=_resolver("93.184.216.34", "127.0.0.1"))
        policy.check(f"http://rebind.example:{internal.port}/")  # looks public
        with pytest.raises(OutboundRefused, match="loopback"):
            policy.session().get(f"http://rebind.example:{internal.port}/")
        assert internal.connections == 0


def test_the_same_loopback_url_is_refused_without_the_allow_list():
    with FakeLms() as lms:
        lms.json("GET", "/x", {})
        url = f"{lms.origin}/x"
        assert OutboundPolicy(allow_http=True, allow_networks=LOOPBACK).session().get(
            url).status_code == 200
        with pytest.raises(OutboundRefused, match="loopback address, which "
                                                  "outbound_allow_networks does not allow"):
            OutboundPolicy(allow_http=True).session().get(url)
        assert len(lms.requests) == 1


def test_redirects_are_not_followed():
    with FakeLms() as lms:
        lms.routes[("GET", "/moved")] = lambda _r: (302, {"Location": "/elsewhere"}, b"")
        answer = OutboundPolicy(allow_http=True, allow_networks=LOOPBACK).session().get(
            f"{lms.origin}/moved")
        assert answer.status_code == 302
        assert [r["path"] for r in lms.requests] == ["/moved"]


# -- the session: deadline and size ----------------------------------------------------------

def _loopback(deadline: float = 1.0, cap: int = 1024 * 1024) -> requests.Session:
    return OutboundPolicy(allow_http=True, allow_networks=LOOPBACK,
                          deadline_seconds=deadline, max_response_bytes=cap).session()


def test_a_trickling_answer_is_cut_at_the_deadline():
    with Trickler(interval=0.2) as slow:
        began = time.monotonic()
        with pytest.raises(requests.RequestException):
            _loopback(deadline=1.0).get(f"{slow.origin}/jwks")
        assert time.monotonic() - began < 1.8


def test_an_answer_past_the_cap_is_refused():
    with BigBody(limit=8 * 1024 * 1024) as big:
        with pytest.raises(ResponseTooLarge, match="larger than the 100000 bytes"):
            _loopback(cap=100_000).get(f"{big.origin}/x")
    with BigBody(limit=8 * 1024 * 1024, declare=True) as declared:
        with pytest.raises(ResponseTooLarge):
            _loopback(cap=100_000).get(f"{declared.origin}/x")
        assert declared.sent < 8 * 1024 * 1024


class _Silent:
    """Accepts connections and never says anything (a TLS handshake that never ends)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


def test_a_stalled_tls_handshake_is_cut_at_the_deadline():
    silent = _Silent()
    try:
        began = time.monotonic()
        with pytest.raises(requests.RequestException):
            _loopback(deadline=1.0).get(f"https://127.0.0.1:{silent.port}/")
        assert time.monotonic() - began < 1.8
    finally:
        silent.close()


# -- TLS: pinned address, the name's certificate and SNI --------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A certificate for lms.test signed by a CA made here (the client trusts the CA)."""
    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lms.test")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("lms.test")]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, chain = folder / "ca.pem", folder / "server.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return ca_file, chain


@pytest.fixture
def tls_server(certificate) -> Iterator[tuple[int, dict]]:
    seen: dict = {"sni": [], "host": [], "trickle": False}
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate[1])
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            seen["host"].append(self.headers.get("Host"))
            if seen["trickle"]:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for n in range(50):
                    time.sleep(0.2)
                    try:
                        self.wfile.write(f"X-{n}: .\r\n".encode())
                        self.wfile.flush()
                    except OSError:
                        return
            body = b'{"keys": []}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server.server_port, seen
    server.shutdown()
    server.server_close()


def test_tls_to_a_pinned_address_checks_the_names_certificate(tls_server, certificate):
    port, seen = tls_server
    policy = OutboundPolicy(allow_networks=LOOPBACK, resolve_host=_resolver("127.0.0.1"))
    answer = policy.session().get(f"https://lms.test:{port}/jwks", verify=str(certificate[0]))
    assert answer.json() == {"keys": []}
    assert seen["sni"] == ["lms.test"] and seen["host"] == [f"lms.test:{port}"]
    # Another name pinned to the same address does not match the certificate.
    other = OutboundPolicy(allow_networks=LOOPBACK, resolve_host=_resolver("127.0.0.1"))
    with pytest.raises(requests.exceptions.SSLError):
        other.session().get(f"https://other.test:{port}/jwks", verify=str(certificate[0]))


def test_a_trickling_tls_answer_is_cut_at_the_deadline(tls_server, certificate):
    port, seen = tls_server
    seen["trickle"] = True
    policy = OutboundPolicy(allow_networks=LOOPBACK, resolve_host=_resolver("127.0.0.1"),
                            deadline_seconds=1.0)
    began = time.monotonic()
    with pytest.raises(requests.RequestException):
        policy.session().get(f"https://lms.test:{port}/jwks", verify=str(certificate[0]))
    assert time.monotonic() - began < 1.8


# -- the LRS transport ----------------------------------------------------------------------

def test_an_lrs_call_has_a_deadline_and_names_a_refusal(database_url):
    """ATTACK (issue 15.4): the LRS client's timeout was per read as well; a trickling
    LRS held the worker. With the tool's session each POST ends at the deadline, and a
    refused address is reported by its rule (never the URL or the password)."""
    settings = make_settings(database_url, xapi_timeout_seconds=1.0)
    with Trickler(interval=0.2) as slow:
        client = LrsClient(LrsEndpoint("college", f"{slow.origin}/xAPI/", "key", "pw"),
                           session=lrs_session(settings))
        began = time.monotonic()
        outcome = client.post_batch([{"id": "x"}]).outcome
        assert outcome.kind == "retry" and time.monotonic() - began < 1.8
    strict = make_settings(database_url, outbound_allow_networks="")
    client = LrsClient(LrsEndpoint("college", "http://127.0.0.1:9/xAPI/", "key", "pw"),
                       session=lrs_session(strict))
    outcome = client.post_batch([{"id": "x"}]).outcome
    assert outcome.kind == "retry"
    assert "loopback address, which outbound_allow_networks does not allow" in \
        outcome.message
    assert "pw" not in outcome.message
