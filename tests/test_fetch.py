"""fetch_url against a real local HTTP server: redirects, limits, refusals."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from retrieval.documents import load_bytes
from retrieval.errors import FetchError
from retrieval.fetch import fetch_url

PAGE = (
    b"<!doctype html><html><head><title>Test Policy</title></head><body><main>"
    + b"<h1>Test Policy</h1><p>"
    + b"The institute shall publish guidance on frontier model evaluations. " * 5
    + b"</p></main></body></html>"
)
LIMIT = 10_000


class Handler(BaseHTTPRequestHandler):
    """Routes by path; ``/chain/N`` redirects N more times before serving the page."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path
        if path in ("/", "/page.html", "/docs/ai-act"):
            self.reply(200, "text/html; charset=utf-8", PAGE)
        elif path == "/notes":
            self.reply(200, "text/markdown", b"# Notes\n\nSome notes.\n")
        elif path == "/host":
            self.reply(200, "text/plain", self.headers["Host"].encode())
        elif path.startswith("/chain/"):
            left = int(path.rsplit("/", 1)[1])
            self.redirect(f"/chain/{left - 1}" if left else "/page.html")
        elif path == "/to-ftp":
            self.redirect("ftp://127.0.0.1/file.pdf")
        elif path == "/no-location":
            self.reply(302, "text/plain", b"")
        elif path == "/to-escape":
            self.redirect("/\x1b]0;owned\x07")  # a terminal title escape, from the server
        elif path == "/escape-type":
            self.reply(200, "text/\x1b[2Jevil", b"x")
        elif path == "/image.png":
            self.reply(200, "image/png", b"\x89PNG\r\n\x1a\n")
        elif path == "/big-declared":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(LIMIT + 1))
            self.end_headers()  # the body never comes: the declared size must be enough
        elif path == "/big-streamed":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for _ in range(20):
                self.wfile.write(b"x" * 1_000)
        elif path == "/slow-start":
            time.sleep(1.5)
            self.reply(200, "text/plain", b"late")
        elif path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for _ in range(30):  # each byte arrives well within a per-read timeout
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
        elif path == "/drip-headers":
            self.wfile.write(b"HTTP/1.0 200 OK\r\n")
            for i in range(30):
                self.wfile.write(b"X-Pad-%d: x\r\n" % i)
                time.sleep(0.05)
        else:
            self.reply(404, "text/plain", b"not found")

    def reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up early (size and time limits) are expected here


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """An HTTPS server with a self-signed certificate for "localhost": (base URL, cert file)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost"],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"https://localhost:{httpd.server_address[1]}", str(cert)
    httpd.shutdown()
    httpd.server_close()


def fetch(url: str, **kwargs: object) -> object:
    options = {"max_bytes": LIMIT, "timeout_s": 2.0, "allow_private": True} | kwargs
    return fetch_url(url, **options)


def refusal(url: str, **kwargs: object) -> str:
    with pytest.raises(FetchError) as caught:
        fetch(url, **kwargs)
    return str(caught.value)


def test_html_page_is_fetched(server: str) -> None:
    fetched = fetch(f"{server}/page.html")
    assert fetched.data == PAGE
    assert fetched.filename == "page.html"
    assert fetched.url == f"{server}/page.html"
    assert fetched.content_type == "text/html"
    doc = load_bytes(fetched.data, fetched.filename)
    assert doc.kind == "html" and doc.meta["title"] == "Test Policy"
    assert "frontier model evaluations" in doc.text


def test_file_name_comes_from_path_and_content_type(server: str) -> None:
    assert fetch(f"{server}/docs/ai-act").filename == "ai-act.html"
    assert fetch(f"{server}/notes").filename == "notes.md"
    assert fetch(f"{server}/").filename == "page.html"


def test_redirect_chain_is_followed(server: str) -> None:
    fetched = fetch(f"{server}/chain/4")  # five redirects in all: the limit
    assert fetched.url == f"{server}/page.html"
    assert fetched.data == PAGE


def test_too_many_redirects_are_refused(server: str) -> None:
    assert "redirected more than 5 times" in refusal(f"{server}/chain/5")


def test_redirect_to_another_scheme_is_refused(server: str) -> None:
    assert "only http(s) URLs are accepted" in refusal(f"{server}/to-ftp")


def test_redirect_without_location_is_refused(server: str) -> None:
    assert "redirected without saying where" in refusal(f"{server}/no-location")


def test_http_error_is_reported(server: str) -> None:
    assert refusal(f"{server}/missing") == f"{server}/missing returned HTTP 404"


def test_declared_oversized_body_is_refused(server: str) -> None:
    assert "larger than the limit of 10,000 bytes" in refusal(f"{server}/big-declared")


def test_streamed_oversized_body_is_refused(server: str) -> None:
    assert "larger than the limit of 10,000 bytes" in refusal(f"{server}/big-streamed")


def test_disallowed_content_type_is_refused(server: str) -> None:
    message = refusal(f"{server}/image.png")
    assert "image/png" in message and "accepted: HTML, plain text, Markdown, PDF" in message


def test_slow_server_hits_the_time_limit(server: str) -> None:
    started = time.monotonic()
    assert "did not download within 0.5 s" in refusal(f"{server}/slow-start", timeout_s=0.5)
    assert time.monotonic() - started < 1.0


def test_dripping_server_hits_the_total_time_limit(server: str) -> None:
    started = time.monotonic()
    assert "did not download within 0.5 s" in refusal(f"{server}/drip", timeout_s=0.5)
    assert time.monotonic() - started < 1.0


def test_dripping_headers_hit_the_total_time_limit(server: str) -> None:
    started = time.monotonic()
    assert "did not download within 0.5 s" in refusal(f"{server}/drip-headers", timeout_s=0.5)
    assert time.monotonic() - started < 1.0


def test_loopback_is_refused_without_allow_private(server: str) -> None:
    message = refusal(f"{server}/page.html", allow_private=False)
    assert "127.0.0.1, a private or local address; refused" in message


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://100.64.0.1/",
    ],
)
def test_non_public_addresses_are_refused(url: str) -> None:
    assert "private or local address; refused" in refusal(url, allow_private=False)


@pytest.mark.parametrize(
    ("url", "carried"),
    [
        ("http://[64:ff9b::7f00:1]/", "127.0.0.1"),  # NAT64
        ("http://[64:ff9b::a00:1]/", "10.0.0.1"),
        ("http://[::7f00:1]/", "127.0.0.1"),  # IPv4-compatible
        ("http://[2002:a9fe:a9fe::1]/", "169.254.169.254"),  # 6to4 to the metadata service
        ("http://[::ffff:7f00:1]/", "127.0.0.1"),  # IPv4-mapped, hex form
        ("http://[2001:0:a9fe:a9fe::5555:5555]/", "169.254.169.254, 170.170.170.170"),  # Teredo
        ("http://[64:ff9b:1::808:808]/", ""),  # local-use NAT64: the IPv4's place is local
    ],
)
def test_ipv6_forms_of_ipv4_addresses_are_judged_by_that_address(url: str, carried: str) -> None:
    message = refusal(url, allow_private=False)
    assert message.endswith("a private or local address; refused")
    assert f"(carrying IPv4 {carried})" in message if carried else "carrying" not in message


def test_ipv6_forms_of_public_ipv4_addresses_are_not_refused_as_private() -> None:
    for url in ("http://[64:ff9b::808:808]/", "http://[2002:808:808::1]/"):
        message = refusal(url, allow_private=False, timeout_s=0.3)
        assert "private or local" not in message  # it tries to connect, and fails offline


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            f"http://{'a' * 64}.example/",
            f"the host name '{'a' * 64}.example' has a label of 64 characters; DNS allows 1 to 63",
        ),
        ("http://a..example/", "the host name 'a..example' has a label of 0 characters"),
        (f"http://{'a' * 60}.{'ü' * 60}.example/", "has a label DNS cannot carry"),
        (f"http://{('a' * 60 + '.') * 5}example/", "is 312 characters long; DNS allows 253"),
        ("http://[::1/", "'http://[::1/' is not a valid URL: Invalid IPv6 URL"),
    ],
)
def test_host_names_dns_cannot_carry_are_refused_clearly(url: str, message: str) -> None:
    assert message in refusal(url, allow_private=False)


def test_echoed_urls_carry_no_control_characters(server: str) -> None:
    messages = [
        refusal(f"{server}/to-escape"),
        refusal(f"{server}/escape-type"),
        refusal("ftp://example.com/\x1b[2J\x9b31m"),
        refusal(f"http://a\x1bc{'b' * 70}.example/"),
    ]
    assert all(message.isprintable() for message in messages), messages
    assert messages[0] == f"{server}/\\x1b]0;owned\\x07 returned HTTP 404"
    assert "text/\\x1b[2jevil" in messages[1]  # the server's type, lowercased and escaped


def test_connection_goes_to_the_checked_address(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One lookup per hop, and the request goes to its answer: no second, rebound lookup."""
    port = int(server.rsplit(":", 1)[1])
    real_getaddrinfo = socket.getaddrinfo
    lookups = []

    def fake_getaddrinfo(host: str, *args: object, **kwargs: object) -> list:
        lookups.append(host)
        return real_getaddrinfo("127.0.0.1" if host == "policy.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    fetched = fetch(f"http://policy.test:{port}/host")
    assert fetched.data == f"policy.test:{port}".encode()  # the Host header names the site
    assert lookups[0] == "policy.test"
    assert lookups[1:] == ["127.0.0.1"]  # connecting to the checked address, not the name


@pytest.mark.parametrize("url", ["ftp://example.com/file.pdf", "file:///etc/passwd", "example.com"])
def test_non_http_urls_are_refused(url: str) -> None:
    assert "only http(s) URLs are accepted" in refusal(url)


def test_https_checks_the_certificate(tls_server: tuple[str, str]) -> None:
    base, _ = tls_server
    assert "certificate verify failed" in refusal(f"{base}/page.html")


def test_https_on_the_checked_address_verifies_the_host_name(
    tls_server: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, cert = tls_server
    default_context = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda: default_context(cafile=cert))
    fetched = fetch(f"{base}/page.html")
    assert fetched.data == PAGE and fetched.url == f"{base}/page.html"
