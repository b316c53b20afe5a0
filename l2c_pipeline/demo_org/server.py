"""`l2c demo-org serve`: the demo org over HTTPS on 127.0.0.1, speaking the Salesforce REST API.

simple-salesforce only speaks https, so the server makes a certificate authority and a
certificate for 127.0.0.1/localhost at start-up (trustme), writes the CA to a PEM file, and
the client trusts exactly that CA. Verification is never switched off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme

from .api import Credentials, DemoOrgApi, Response
from .store import OrgStore

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "l2c-demo-org"
    sys_version = ""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        response: Response = self.server.api.handle(self.command, path, query, headers, body)
        if response.delay and self.server.stopping.wait(response.delay):
            self.close_connection = True  # the server stops: a slow answer is not waited for
            return
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if response.drop_midway:
                self.wfile.write(response.body[: max(1, len(response.body) // 2)])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True  # the client gave up (e.g. timed out): nothing to do

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's signature
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    # Request threads are joined on close (not left as daemons): a daemon thread still inside
    # the store's DuckDB when the interpreter exits aborts the process.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._open_connections: set = set()
        self._open_lock = threading.Lock()
        self.stopping = threading.Event()

    def process_request(self, request, client_address) -> None:
        with self._open_lock:
            self._open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._open_lock:
            self._open_connections.discard(request)
        super().shutdown_request(request)

    def end_open_connections(self) -> None:
        """End the clients' kept-alive connections, so their threads see the end and finish."""
        with self._open_lock:
            connections = list(self._open_connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def get_request(self):
        connection, address = super().get_request()
        # The TLS handshake happens in the request's own thread, so a slow client blocks nobody.
        return self.tls.wrap_socket(
            connection, server_side=True, do_handshake_on_connect=False
        ), address

    def handle_error(self, request, client_address) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


def _make_jwt_key(path: Path) -> str:
    """An RSA key for the JWT bearer flow: private half to a 0600 file, public half returned."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


class DemoOrgServer:
    """The demo org, served over HTTPS on 127.0.0.1. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        snapshot: Path,
        *,
        port: int = 0,
        faults: str = "",
        daily_api_budget: int = 100_000,
        credentials: Credentials | None = None,
        work_dir: Path | None = None,
        store: OrgStore | None = None,
    ) -> None:
        self._owns_store = store is None
        self.store = store or OrgStore(Path(snapshot))
        try:
            self._set_up(port, faults, daily_api_budget, credentials, work_dir)
        except BaseException:  # e.g. the port is taken: the store's connection and spill folder go
            if self._owns_store:
                self.store.close()
            if getattr(self, "_owns_work_dir", False) and hasattr(self, "_work_dir"):
                shutil.rmtree(self._work_dir, ignore_errors=True)
            raise

    def _set_up(
        self,
        port: int,
        faults: str,
        daily_api_budget: int,
        credentials: Credentials | None,
        work_dir: Path | None,
    ) -> None:
        self.api = DemoOrgApi(
            self.store, credentials=credentials, daily_api_budget=daily_api_budget, faults=faults
        )
        # A folder made here holds the CA and the JWT signing key: it goes when the server stops.
        self._owns_work_dir = work_dir is None
        self._work_dir = (
            Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="l2c-demo-org-"))
        )
        self._work_dir.mkdir(parents=True, exist_ok=True)
        authority = trustme.CA(organization_name="l2c demo org (made at start-up)")
        certificate = authority.issue_cert("127.0.0.1", "localhost")
        self.ca_bundle = self._work_dir / "demo-org-ca.pem"
        authority.cert_pem.write_to_path(str(self.ca_bundle))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.tls = context
        self._httpd.api = self.api
        self.port = self._httpd.server_address[1]
        self.instance_url = f"https://127.0.0.1:{self.port}"
        self.api.instance_url = self.instance_url
        self.access_token = self.api.issue_token()
        self.jwt_private_key_file = self._work_dir / "demo-org-jwt-key.pem"
        self.api.jwt_public_key = _make_jwt_key(self.jwt_private_key_file)
        self._thread: threading.Thread | None = None

    @property
    def credentials(self) -> Credentials:
        return self.api.credentials

    def environment(self) -> dict[str, str]:
        """The settings a client needs: what `--env-file` holds."""
        creds = self.credentials
        return {
            "SF_INSTANCE_URL": self.instance_url,
            "SF_ACCESS_TOKEN": self.access_token,
            "SF_CA_BUNDLE": str(self.ca_bundle),
            "SF_DOMAIN": self.instance_url,
            "SF_CLIENT_ID": creds.client_id,
            "SF_CLIENT_SECRET": creds.client_secret,
            "SF_USERNAME": creds.username,
            "SF_PASSWORD": creds.password,
            "SF_SECURITY_TOKEN": creds.security_token,
        }

    def write_env_file(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds secrets
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(
                "# Demo org connection, written by `l2c demo-org serve`. Holds secrets: keep private.\n"
            )
            for key, value in self.environment().items():
                handle.write(f"{key}={value}\n")

    def start(self) -> DemoOrgServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="demo-org", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.stopping.set()
        self._httpd.shutdown()
        self._httpd.end_open_connections()
        self._httpd.server_close()  # joins the request threads
        if self._thread:
            self._thread.join(timeout=5)
        self.api.close()
        if self._owns_store:
            self.store.close()
        if self._owns_work_dir:
            shutil.rmtree(self._work_dir, ignore_errors=True)

    def __enter__(self) -> DemoOrgServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
