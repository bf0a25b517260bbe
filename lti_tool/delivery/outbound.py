"""The one policy for every outbound call to a platform or an LRS, and the session that
enforces it (issue 15, points 3 and 4).

Every URL the tool fetches or posts to (an LMS's OpenID configuration and registration
endpoint, its JWKS and token URLs, the AGS and NRPS URLs a launch names, an LRS) comes
from outside: from an anonymous registration page, a signed launch, an operator's
configuration. So each one goes through the same rules, in the transport itself:

- **Parsed as the HTTP client parses it.** The check runs on the request requests has
  prepared, reading its host with the same function requests' adapter uses to pick the
  connection; and before that, URLs on which parsers disagree are refused outright:
  user info (``user@host``), backslashes (``https://127.0.0.1:8443\\@1.1.1.1/`` is
  1.1.1.1 to ``urlsplit`` and 127.0.0.1 to requests), whitespace and control characters.
- **https only** outside development and test.
- **Resolved once, connected to what was checked.** The host name is resolved here, every
  address it resolves to is checked, and the connection is made to those addresses only
  (the TLS name, SNI, certificate check and Host header stay the name's): a name that
  answers differently a moment later (DNS rebinding) cannot move the connection.
- **Private, loopback, link-local, multicast and reserved addresses are refused** unless
  the operator allows a named range with ``outbound_allow_networks`` (a college whose LMS
  or LRS lives on its own network; the tests and ``make run``, whose sandbox LMS and
  Ralph LRS listen on 127.0.0.1).
- **A wall-clock deadline** for the whole call - connect, TLS handshake, request, headers
  and body - not a timeout per socket read: every socket operation gets the time left, so
  a server that trickles one header line every few seconds is cut off at the deadline.
- **A response-size cap**: the body is streamed and the call fails past the cap.
- **No redirects, no proxies from the environment, no .netrc credentials.**

Refusals are ``OutboundError`` subclasses whose messages are ours and name the rule, so
callers may show them; nothing the far end said is ever part of them.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, LocationParseError, NewConnectionError
from urllib3.util import parse_url
from urllib3.util.ssl_ import create_urllib3_context

if TYPE_CHECKING:
    from lti_tool.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
CHUNK_BYTES = 64 * 1024
ALLOW_SETTING = "outbound_allow_networks"
# RFC 6052 well-known NAT64 prefix: its addresses carry an IPv4 address in the last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundError(requests.RequestException):
    """A call the policy stopped. The message is the tool's own and names the rule, so it
    may be shown to whoever asked; it never repeats what the far end answered.
    ``public_message`` says so to code that cannot import this module (xapi.lrs)."""

    public_message = True


class OutboundRefused(OutboundError):
    """The URL, or an address its host resolves to, breaks the outbound policy."""


class HostUnresolvable(OutboundError):
    """The host name does not resolve (nothing was sent)."""


class ResponseTooLarge(OutboundError):
    """The answer is larger than the cap; the rest of it was not read."""


def parse_networks(text: str | Sequence[str]) -> tuple[Network, ...]:
    """``outbound_allow_networks``: CIDRs (or single addresses) separated by spaces or
    commas. Raises ValueError naming the first entry that is not one."""
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{ALLOW_SETTING}: {item!r} is not an IP network such as "
                             "127.0.0.0/8 or 10.20.0.0/16") from exc
    return tuple(networks)


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any: the
    connection may well reach it."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_kind(address: Address) -> str | None:
    """None for an address on the public internet, else what it is, as a phrase."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        kind = address_kind(embedded)
        return f"an IPv6 form of {kind}" if kind else None
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a non-public address"
    return None


@dataclass(frozen=True)
class Target:
    """Where a checked URL connects: scheme, host as requests reads it, and port."""

    scheme: str
    host: str
    port: int


def _host_key(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class OutboundPolicy:
    allow_http: bool = False
    allow_networks: tuple[Network, ...] = ()
    deadline_seconds: float = 10.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    resolve_host: Callable[..., list[Any]] = socket.getaddrinfo

    @classmethod
    def from_settings(cls, settings: Settings, *, deadline_seconds: float | None = None,
                      max_response_bytes: int | None = None) -> OutboundPolicy:
        """http only outside production (development and the test suite run http
        servers on loopback); the allow-list only as the operator wrote it."""
        return cls(allow_http=settings.environment != "production",
                   allow_networks=parse_networks(settings.outbound_allow_networks),
                   deadline_seconds=(settings.http_timeout_seconds if deadline_seconds is None
                                     else deadline_seconds),
                   max_response_bytes=(settings.outbound_max_response_bytes
                                       if max_response_bytes is None else max_response_bytes))

    # -- the URL ---------------------------------------------------------------------------
    def check_url(self, url: Any) -> Target:
        """The URL's own rules (no DNS): raises OutboundRefused naming the one broken."""
        if not isinstance(url, str) or not url:
            raise OutboundRefused("it is not a URL")
        if len(url) > MAX_URL_LENGTH:
            raise OutboundRefused(f"it is longer than {MAX_URL_LENGTH} characters")
        if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
            raise OutboundRefused("it contains spaces or control characters")
        if "\\" in url:
            raise OutboundRefused("it contains a backslash, which URL parsers and HTTP "
                                  "clients read differently")
        try:
            parts = urlsplit(url)
        except ValueError as exc:  # e.g. "https://[::1" (an unclosed IPv6 literal)
            raise OutboundRefused("it has an invalid host or port") from exc
        scheme = parts.scheme.lower()
        if scheme not in ("https", "http"):
            raise OutboundRefused("it is not an http(s) URL")
        if scheme == "http" and not self.allow_http:
            raise OutboundRefused("it must use https (http is allowed only in development "
                                  "and test)")
        if "@" in parts.netloc:
            raise OutboundRefused("it carries user info (user@host), which hides the host "
                                  "it connects to")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
            client = parse_url(url)
        except (ValueError, LocationParseError) as exc:
            raise OutboundRefused("it has an invalid host or port") from exc
        host = parts.hostname or ""
        if not host:
            raise OutboundRefused("it names no host")
        # The host and port requests (urllib3) will use must be the ones checked here.
        if _host_key(client.host or "") != _host_key(host) or (client.port or port) != port:
            raise OutboundRefused("URL parsers disagree on its host")
        return Target(scheme, host, port)

    # -- the addresses ---------------------------------------------------------------------
    def allows(self, address: Address) -> bool:
        embedded = _embedded_ipv4(address)
        return any(address in network or (embedded is not None and embedded in network)
                   for network in self.allow_networks)

    def refusal(self, address: Address) -> str | None:
        """Why an address may not be connected to, or None when it may."""
        if self.allows(address):
            return None
        kind = address_kind(address)
        if kind is None:
            return None
        return f"its host resolves to {kind}, which {ALLOW_SETTING} does not allow"

    def resolve(self, target: Target) -> tuple[str, ...]:
        """Every address the host resolves to, each one checked; the connection is then
        made to these and no others. One refused address refuses the host: a name that
        also points into a private network is not a public service."""
        host = target.host.strip("[]")
        try:
            literal = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            literal = None
        if literal is not None:
            found: list[str] = [str(literal)]
        else:
            try:
                infos = self.resolve_host(host, target.port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError) as exc:
                raise HostUnresolvable("its host name does not resolve") from exc
            found = []
            for info in infos:
                address = str(info[4][0]).split("%")[0]
                if address not in found:
                    found.append(address)
            if not found:
                raise HostUnresolvable("its host name does not resolve")
        for address in found:
            reason = self.refusal(ipaddress.ip_address(address))
            if reason:
                raise OutboundRefused(reason)
        return tuple(found)

    def check(self, url: Any) -> tuple[Target, tuple[str, ...]]:
        """Both checks, as a call would make them (for an early, friendly refusal)."""
        target = self.check_url(url)
        return target, self.resolve(target)

    def session(self, user_agent: str = "cpt-lti") -> OutboundSession:
        return OutboundSession(self, user_agent)


# -- the deadline --------------------------------------------------------------------------
# The deadline and the checked addresses of the call in progress on this thread: requests
# calls the adapter and reads the body on the caller's thread, so the sockets below find
# them here without any change to requests' or urllib3's signatures.
_call = threading.local()


@contextmanager
def _scope(deadline: float | None = None,
           pins: dict[tuple[str, int], tuple[str, ...]] | None = None) -> Iterator[None]:
    saved = (getattr(_call, "deadline", None), getattr(_call, "pins", None))
    if deadline is not None:
        _call.deadline = deadline if saved[0] is None else min(saved[0], deadline)
    if pins is not None:
        _call.pins = pins
    try:
        yield
    finally:
        _call.deadline, _call.pins = saved


def _time_left() -> float | None:
    deadline = getattr(_call, "deadline", None)
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the call's deadline passed")
    return left


class _DeadlineSocket(socket.socket):
    """A TCP socket whose every operation may take only the time left to the call."""

    def _arm(self) -> None:
        left = _time_left()
        if left is not None:
            self.settimeout(left)

    def recv(self, *args: Any) -> bytes:
        self._arm()
        return super().recv(*args)

    def recv_into(self, *args: Any) -> int:
        self._arm()
        return super().recv_into(*args)

    def send(self, *args: Any) -> int:
        self._arm()
        return super().send(*args)

    def sendall(self, *args: Any) -> None:  # CPython bounds the whole sendall by it
        self._arm()
        return super().sendall(*args)


class _DeadlineSSLSocket(ssl.SSLSocket):
    """The same for TLS: the handshake (bounded as a whole by CPython) and each read
    and write get the time left. Made by the SSLContext (``sslsocket_class``)."""

    def _arm(self) -> None:
        left = _time_left()
        if left is not None:
            self.settimeout(left)

    def do_handshake(self, *args: Any, **kwargs: Any) -> None:
        self._arm()
        return super().do_handshake(*args, **kwargs)

    def read(self, *args: Any, **kwargs: Any) -> Any:
        self._arm()
        return super().read(*args, **kwargs)

    def recv(self, *args: Any, **kwargs: Any) -> bytes:
        self._arm()
        return super().recv(*args, **kwargs)

    def recv_into(self, *args: Any, **kwargs: Any) -> int:
        self._arm()
        return super().recv_into(*args, **kwargs)

    def send(self, *args: Any, **kwargs: Any) -> int:
        self._arm()
        return super().send(*args, **kwargs)

    def sendall(self, *args: Any, **kwargs: Any) -> None:
        self._arm()
        return super().sendall(*args, **kwargs)


class _PinnedConnectionMixin:
    """urllib3's connection, connecting only to the addresses the policy checked for this
    host (``_new_conn`` is urllib3's hook for how the socket is made, as its SOCKS support
    uses it). Everything else - TLS, SNI, certificate and hostname checks, the Host
    header - is urllib3's, for the name."""

    host: str
    port: int
    timeout: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        pins = getattr(_call, "pins", None) or {}
        addresses = pins.get((_host_key(self.host), int(self.port)))
        if not addresses:  # fail closed: never connect to an address nobody checked
            raise NewConnectionError(self, "no checked address for this host")  # type: ignore[arg-type]
        last: OSError | None = None
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = _DeadlineSocket(family, socket.SOCK_STREAM)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                left = _time_left()
                default = self.timeout if isinstance(self.timeout, int | float) else None
                sock.settimeout(left if left is not None else default)
                sock.connect((address, self.port))
                return sock
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out") from exc
            except OSError as exc:
                sock.close()
                last = exc
        raise NewConnectionError(  # type: ignore[arg-type]
            self, f"Failed to establish a new connection: {last}")


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


def _tls_context() -> ssl.SSLContext:
    context = create_urllib3_context()
    context.sslsocket_class = _DeadlineSSLSocket
    return context


class PinnedAdapter(HTTPAdapter):
    """requests' adapter with the policy's address check before every request and the
    pinned connection classes underneath."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        super().__init__(pool_connections=8, pool_maxsize=4)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        pool_kwargs.setdefault("ssl_context", _tls_context())
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PinnedHTTPPool,
                                                   "https": _PinnedHTTPSPool}

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Any = None) -> requests.Response:
        # The prepared URL, read with the function requests' adapter reads it with.
        target = self.policy.check_url(request.url)
        parsed = urlparse(request.url or "")
        host = _host_key(parsed.hostname or "")
        if host != _host_key(target.host):
            raise OutboundRefused("URL parsers disagree on its host")
        addresses = self.policy.resolve(target)
        with _scope(pins={(host, target.port): addresses}):
            return super().send(request, stream=stream, timeout=timeout, verify=verify,
                                cert=cert, proxies={})


class OutboundSession(requests.Session):
    """A requests session for calls to platforms and LRSs: the policy's checks in its
    transport, the deadline around the whole call, the body read up to the cap."""

    def __init__(self, policy: OutboundPolicy, user_agent: str = "cpt-lti") -> None:
        super().__init__()
        self.policy = policy
        self.trust_env = False  # no proxy or .netrc from the environment
        adapter = PinnedAdapter(policy)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self.headers["User-Agent"] = user_agent
        # A compressed answer could expand far past the cap between two checks.
        self.headers["Accept-Encoding"] = "identity"

    def get_redirect_target(self, resp: requests.Response) -> None:  # type: ignore[override]
        """No redirect is followed, nor even looked at: requests would read a redirect's
        whole body, past the cap, to release its connection."""
        return None

    def request(self, method: str | bytes, url: str | bytes,  # type: ignore[override]
                *args: Any, **kwargs: Any) -> requests.Response:
        # The raw URL first: preparing it would already have turned a backslash into %5C.
        self.policy.check_url(url.decode() if isinstance(url, bytes) else url)
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        kwargs.setdefault("timeout", self.policy.deadline_seconds)
        if kwargs["timeout"] is None:
            kwargs["timeout"] = self.policy.deadline_seconds
        with _scope(deadline=time.monotonic() + self.policy.deadline_seconds):
            response = super().request(method, url, *args, **kwargs)
            read_capped(response, self.policy.max_response_bytes)
        return response


def read_capped(response: requests.Response, cap: int) -> None:
    """Read the body into ``response.content``, failing past ``cap`` bytes (declared or
    received); the connection of a refused answer is closed, not reused."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        response.close()
        raise ResponseTooLarge(f"the answer is larger than the {cap} bytes allowed",
                               response=response)
    body = bytearray()
    try:
        for chunk in response.iter_content(CHUNK_BYTES):
            body += chunk
            if len(body) > cap:
                raise ResponseTooLarge(f"the answer is larger than the {cap} bytes allowed",
                                       response=response)
    except BaseException:
        response.close()
        raise
    response._content = bytes(body)
    response._content_consumed = True


def describe(exc: BaseException) -> str:
    """A failure as an operator may read it: the policy's own words, or the kind of
    network failure - never the exception's text, which can hold the URL or what the far
    end sent."""
    if isinstance(exc, OutboundError):
        return str(exc)
    if isinstance(exc, requests.Timeout) or "timed out" in str(exc).lower():
        return "no complete answer before the deadline"
    return type(exc).__name__
