"""TLS against a local server with a trustme certificate, and credentials."""

from __future__ import annotations

import gc
import logging
import socket
import ssl
import weakref
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import trustme

from requests_futures import FuturesSession

from ..conftest import LONG, eventually
from ..server import LoopbackServer

SECRET = "s3cr3t-d0-not-log"


class TLSServer(LoopbackServer):
    """The loopback test server behind TLS; remembers the client certificates."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__()
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.peer_subjects: list[str] = []

    @property
    def url(self) -> str:
        return super().url.replace("http://", "https://")

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = super().get_request()  # the handshake happens here
        assert isinstance(sock, ssl.SSLSocket)
        peer = sock.getpeercert()
        if peer:
            self.peer_subjects.append(str(peer["subjectAltName"]))
        return sock, address


@pytest.fixture(autouse=True)
def _no_ca_bundle_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets these override ``session.verify`` (this machine sets them)."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_bundle(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def client_cert(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder: Path = tmp_path_factory.mktemp("client")
    cert = ca.issue_cert("client@example.org")
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    return str(folder / "cert.pem"), str(folder / "key.pem")


def _server(ca: trustme.CA, require_client_cert: bool) -> Iterator[TLSServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    if require_client_cert:
        ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    server = TLSServer(context).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def https(ca: trustme.CA) -> Iterator[TLSServer]:
    yield from _server(ca, require_client_cert=False)


@pytest.fixture(scope="module")
def mtls(ca: trustme.CA) -> Iterator[TLSServer]:
    yield from _server(ca, require_client_cert=True)


def test_default_verification_fails_through_the_future(https: TLSServer) -> None:
    with FuturesSession() as session:
        future = session.get(https.url + "/echo")
        assert isinstance(future.exception(timeout=LONG), requests.exceptions.SSLError)


def test_verify_with_the_ca_bundle_succeeds(https: TLSServer, ca_bundle: str) -> None:
    with FuturesSession() as session:
        assert session.get(https.url + "/echo", verify=ca_bundle).result(LONG).status_code == 200
        session.verify = ca_bundle
        assert session.get(https.url + "/echo").result(timeout=LONG).status_code == 200


def test_a_supplied_sessions_verify_and_cert_are_used_in_the_worker(
    mtls: TLSServer, ca_bundle: str, client_cert: tuple[str, str]
) -> None:
    plain = requests.Session()
    plain.verify = ca_bundle
    with FuturesSession(session=plain) as session:
        # Without a client certificate the server refuses us.
        refused = session.get(mtls.url + "/echo").exception(timeout=LONG)
        assert isinstance(refused, requests.ConnectionError)
        plain.cert = client_cert
        assert session.get(mtls.url + "/echo").result(timeout=LONG).status_code == 200
    plain.close()
    assert any("client@example.org" in subject for subject in mtls.peer_subjects)


def test_the_sessions_own_cert_is_used(
    mtls: TLSServer, ca_bundle: str, client_cert: tuple[str, str]
) -> None:
    with FuturesSession() as session:
        session.verify, session.cert = ca_bundle, client_cert
        assert session.get(mtls.url + "/echo").result(timeout=LONG).status_code == 200


def _landing_headers(session: requests.Session, url: str, **kwargs: object) -> dict[str, str]:
    response = session.get(url, timeout=LONG, **kwargs)  # type: ignore[arg-type]
    if not isinstance(response, requests.Response):
        response = response.result(timeout=LONG)
    assert response.status_code == 200 and response.history
    headers: dict[str, str] = response.json()["headers"]
    return headers


@pytest.mark.parametrize(
    "how",
    [{"auth": ("user", SECRET)}, {"headers": {"Authorization": f"Bearer {SECRET}"}}],
    ids=["auth", "header"],
)
def test_authorization_is_dropped_on_a_redirect_to_another_host(
    server: LoopbackServer, how: dict[str, object]
) -> None:
    port = server.server_address[1]
    same = f"{server.url}/redirect-to?url={quote(f'http://127.0.0.1:{port}/echo')}"
    other = f"{server.url}/redirect-to?url={quote(f'http://localhost:{port}/echo')}"
    with FuturesSession() as session, requests.Session() as plain:
        for client in (session, plain):
            assert "Authorization" in _landing_headers(client, same, **how)
            assert "Authorization" not in _landing_headers(client, other, **how)


def test_credentials_are_neither_logged_nor_kept(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    class Auth(requests.auth.HTTPBasicAuth):
        pass

    auth = Auth("user", SECRET)
    gone = weakref.ref(auth)
    user = "user"
    url = f"http://{user}:{SECRET}@127.0.0.1:{server.server_address[1]}/echo"
    with caplog.at_level(logging.DEBUG), FuturesSession() as session:
        futures = [
            session.get(server.url + "/echo", auth=auth, cookies={"token": SECRET}),
            session.get(url, headers={"X-Api-Key": SECRET}),
            session.get(server.url + "/status/500", auth=auth, background_callback=_fail),
        ]
        for future in futures:
            future.exception(timeout=LONG)
        del futures, future, auth
        # Nothing the session keeps holds the credentials (a worker may still be
        # letting go of its last task when the future resolves: looked at again).
        assert eventually(lambda: gc.collect() >= 0 and gone() is None)
        assert SECRET not in repr(vars(session))
    assert caplog.records  # urllib3 did log, at DEBUG
    assert SECRET not in caplog.text


def _fail(session: FuturesSession, response: requests.Response) -> None:
    response.raise_for_status()
