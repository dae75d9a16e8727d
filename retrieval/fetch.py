"""Fetch a document by URL within bounds: public addresses only, few redirects, size and time."""

from __future__ import annotations

import contextlib
import encodings.idna
import http.client
import ipaddress
import logging
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote, unquote, urljoin, urlsplit

from retrieval.errors import FetchError, printable
from retrieval.files import SUPPORTED_SUFFIXES

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_MAX_HOST_CHARS = 253  # DNS: a name of at most 253 characters in labels of at most 63
_MAX_LABEL_CHARS = 63
# IPv6 forms that deliver to the IPv4 address in their low 32 bits (RFC 6052 NAT64 and the
# deprecated IPv4-compatible ::a.b.c.d); 6to4, Teredo and IPv4-mapped have ipaddress properties.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: the operator's own network
_CHUNK_BYTES = 64 * 1024
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SUFFIX_BY_TYPE = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "application/pdf": ".pdf",
}
_HEADERS = {"User-Agent": "PolicyBot/1.0 (document fetcher)", "Accept": ", ".join(_SUFFIX_BY_TYPE)}
# getaddrinfo has no timeout of its own; waiting on a worker bounds the lookup.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="policybot-dns")


@dataclass(frozen=True)
class Fetched:
    """A fetched body, with a file name that `documents.load_bytes` can detect the kind from."""

    data: bytes
    filename: str
    url: str  # after redirects
    content_type: str


@dataclass(frozen=True)
class _Limits:
    max_bytes: int
    timeout_s: float
    deadline: float
    allow_private: bool

    def left(self) -> float:
        """Seconds left for the whole fetch; raises once they are spent."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.expired()
        return left

    def expired(self) -> FetchError:
        return FetchError(f"the URL did not download within {self.timeout_s:g} s")


def fetch_url(
    url: str, *, max_bytes: int, timeout_s: float, allow_private: bool = False
) -> Fetched:
    """GET a document: http(s) only, public addresses only, every redirect re-checked, at most
    ``max_bytes`` and ``timeout_s`` for the whole fetch."""
    limits = _Limits(max_bytes, timeout_s, time.monotonic() + timeout_s, allow_private)
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        result = _fetch_once(current, limits)
        if isinstance(result, Fetched):
            shown = printable(result.url)
            log.info("fetched %s: %s, %d bytes", shown, result.content_type, len(result.data))
            return result
        current = result
    raise FetchError(f"{printable(url)} redirected more than {MAX_REDIRECTS} times; refused")


def _fetch_once(url: str, limits: _Limits) -> Fetched | str:
    """One request: the document, or the absolute URL that a redirect points to."""
    shown = printable(url)
    try:
        parts = urlsplit(url)
    except ValueError as err:  # an unbalanced "[" or "]" in the host
        raise FetchError(f"'{shown}' is not a valid URL: {err}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"only http(s) URLs are accepted, not '{shown}'")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError(f"'{shown}' has an invalid port") from None
    _check_host_name(parts.hostname)
    addresses = _resolve(parts.hostname, port, limits)
    connection_class = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    conn = connection_class(parts.hostname, port, addresses, limits.left())
    watchdog = threading.Timer(limits.left(), _abort, (conn,))
    watchdog.start()
    try:
        target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
        if parts.query:
            target += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
        conn.request("GET", target, headers=_HEADERS)
        response = conn.getresponse()
        limits.left()  # headers cut short by the watchdog must not pass for a reply
        if response.status in _REDIRECT_STATUSES:
            location = response.getheader("Location")
            if not location:
                raise FetchError(f"{shown} redirected without saying where to")
            return urljoin(url, location.strip())
        if not 200 <= response.status < 300:
            raise FetchError(f"{shown} returned HTTP {response.status}")
        content_type = _content_type(response, url)
        data = _read_body(response, url, limits)
        limits.left()  # nor a body cut short by it
        return Fetched(data, _filename(url, content_type), url, content_type)
    except (OSError, http.client.HTTPException) as err:
        if time.monotonic() >= limits.deadline:
            raise limits.expired() from err
        raise FetchError(f"could not fetch {shown}: {printable(str(err))}") from err
    finally:
        watchdog.cancel()
        conn.close()


def _check_host_name(host: str) -> None:
    """Refuse a name DNS cannot carry with a clear message; the resolver's IDNA codec would
    raise a bare UnicodeError ("label empty or too long") instead."""
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return  # an address, not a name
    shown = printable(host)
    labels = (host[:-1] if host.endswith(".") else host).split(".")  # a final dot is the root
    size = len(labels) - 1  # the dots
    for label in labels:
        try:
            encoded = label if label.isascii() else encodings.idna.ToASCII(label).decode()
        except UnicodeError as err:  # over 63 once encoded, or characters IDNA does not allow
            raise FetchError(
                f"the host name '{shown}' has a label DNS cannot carry: {err}"
            ) from None
        if not 0 < len(encoded) <= _MAX_LABEL_CHARS:
            raise FetchError(
                f"the host name '{shown}' has a label of {len(encoded)} characters; "
                f"DNS allows 1 to {_MAX_LABEL_CHARS}"
            )
        size += len(encoded)
    if size > _MAX_HOST_CHARS:
        raise FetchError(
            f"the host name '{shown}' is {size:,} characters long; DNS allows {_MAX_HOST_CHARS}"
        )


def _resolve(host: str, port: int, limits: _Limits) -> list[str]:
    """Every address the name resolves to, each of them public unless private ones are allowed."""
    lookup = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout=limits.left())
    except TimeoutError:  # the lookup is still running; leave it behind
        raise limits.expired() from None
    except OSError as err:
        raise FetchError(f"cannot resolve {printable(host)}: {err.strerror or err}") from err
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        if not limits.allow_private and not _is_public(address):
            carried = ", ".join(map(str, _carried_ipv4(_ip(address))))
            via = f" (carrying IPv4 {carried})" if carried else ""
            raise FetchError(
                f"{printable(host)} resolves to {address}{via}, a private or local address; refused"
            )
    return addresses


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(address.split("%", 1)[0])  # "%" starts an IPv6 zone id


def _is_public(address: str) -> bool:
    """False for private, loopback, link-local, reserved, unspecified and multicast addresses,
    and for IPv6 forms that carry such an IPv4 address (a translator or relay delivers to it)."""
    ip = _ip(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif ip in _NAT64_LOCAL or not all(map(_is_public_ip, _carried_ipv4(ip))):
            return False
    return _is_public_ip(ip)


def _is_public_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # is_global is False for every non-public range except multicast, checked separately.
    return ip.is_global and not ip.is_multicast


def _carried_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address embeds: mapped, NAT64, IPv4-compatible, 6to4, Teredo
    (its server and its client, both reachable through it)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    if ip.ipv4_mapped:
        return [ip.ipv4_mapped]
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):  # not :: or ::1
        return [ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)]
    if ip.sixtofour:
        return [ip.sixtofour]
    return list(ip.teredo) if ip.teredo else []


def _connect(addresses: list[str], port: int, timeout: float | None) -> socket.socket:
    """Connect to the checked addresses only, so a second DNS answer cannot redirect us."""
    error: OSError = OSError("no address")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as err:
            error = err
    raise error


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._addresses = addresses

    def connect(self) -> None:
        sock = _connect(self._addresses, self.port, self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def _abort(conn: http.client.HTTPConnection) -> None:
    """Wake a blocked read when time is up; per-read timeouts alone let a slow server drip."""
    sock = conn.sock  # read once: the fetching thread may close it meanwhile
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _content_type(response: http.client.HTTPResponse, url: str) -> str:
    content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
    if content_type not in _SUFFIX_BY_TYPE:
        raise FetchError(
            f"{printable(url)} is {printable(content_type) or 'of no stated type'}; "
            "accepted: HTML, plain text, Markdown, PDF"
        )
    return content_type


def _read_body(response: http.client.HTTPResponse, url: str, limits: _Limits) -> bytes:
    too_large = FetchError(
        f"{printable(url)} is larger than the limit of {limits.max_bytes:,} bytes"
    )
    length = response.getheader("Content-Length", "")
    if length.isdigit() and int(length) > limits.max_bytes:
        raise too_large
    chunks, size = [], 0
    while chunk := response.read1(_CHUNK_BYTES):
        size += len(chunk)
        if size > limits.max_bytes:
            raise too_large
        chunks.append(chunk)
        limits.left()
    return b"".join(chunks)


def _filename(url: str, content_type: str) -> str:
    """The last path segment, given a suffix from the content type when it has no usable one."""
    name = unquote(urlsplit(url).path).rstrip("/").rsplit("/", 1)[-1]
    if PurePosixPath(name).suffix.lower() in SUPPORTED_SUFFIXES:
        return name
    return f"{name or 'page'}{_SUFFIX_BY_TYPE[content_type]}"
