"""The add-ons people pair with requests, used for real through futures.

OpenTelemetry, structlog, a ``logging.Filter`` reading a ContextVar,
requests-cache, requests-mock, responses and requests-toolbelt: each works
with requests running in worker threads (the test extra installs them all).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import requests_mock
import responses
import structlog
from opentelemetry import trace
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from requests_cache import CachedSession
from requests_toolbelt import MultipartEncoder
from requests_toolbelt.sessions import BaseUrlSession

from requests_futures import FuturesSession

from .conftest import LONG
from .server import LoopbackServer

TENANT: contextvars.ContextVar[str] = contextvars.ContextVar("TENANT", default="-")


@pytest.fixture(autouse=True)
def _tenant() -> Iterator[None]:
    """What a test sets in the main thread's context is undone after it."""
    token = TENANT.set("-")
    yield
    TENANT.reset(token)


# -- OpenTelemetry ----------------------------------------------------------------


@pytest.fixture
def spans() -> Iterator[tuple[trace.Tracer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = RequestsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield provider.get_tracer("tests"), exporter
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def test_opentelemetry_client_spans_are_children_of_the_callers_span(
    spans: tuple[trace.Tracer, InMemorySpanExporter], server: LoopbackServer
) -> None:
    tracer, exporter = spans
    with FuturesSession(max_workers=4, timeout=LONG) as session:
        with tracer.start_as_current_span("caller") as caller:
            futures = [session.get(server.url + f"/echo?n={n}") for n in range(6)]
        sent = [f.result(timeout=LONG).json()["headers"]["traceparent"] for f in futures]
    context = caller.get_span_context()
    clients = [s for s in exporter.get_finished_spans() if s.kind is trace.SpanKind.CLIENT]
    assert len(clients) == 6
    assert all(s.parent is not None and s.parent.span_id == context.span_id for s in clients)
    assert {s.context.trace_id for s in clients} == {context.trace_id}
    trace_id = format(context.trace_id, "032x")
    assert all(header.split("-")[1] == trace_id for header in sent)


# -- structlog and logging ------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[structlog.testing.LogCapture]:
    capture = structlog.testing.LogCapture()
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, capture])
    try:
        yield capture
    finally:
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()


def test_structlog_bound_contextvars_reach_hooks_and_callbacks(
    captured: structlog.testing.LogCapture, server: LoopbackServer
) -> None:
    log = structlog.get_logger()

    def hook(response: requests.Response, **kwargs: Any) -> None:
        log.info("answered", status=response.status_code)

    def callback(session: FuturesSession, response: requests.Response) -> None:
        log.info("done")

    with FuturesSession(max_workers=2, timeout=LONG) as session:
        session.hooks["response"].append(hook)
        structlog.contextvars.bind_contextvars(request_id="req-7")
        future = session.get(server.url + "/echo", background_callback=callback)
        structlog.contextvars.unbind_contextvars("request_id")
        future.result(timeout=LONG)
    assert [(e["event"], e.get("request_id")) for e in captured.entries] == [
        ("answered", "req-7"),
        ("done", "req-7"),
    ]


class TenantFilter(logging.Filter):
    """Adds the ContextVar's value to every record, as services do."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.tenant = TENANT.get()
        return True


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_logging_filter_reading_a_contextvar_sees_the_callers_value(
    server: LoopbackServer,
) -> None:
    logger = logging.getLogger("tests.addons.tenant")
    handler = Records()
    handler.addFilter(TenantFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with FuturesSession(max_workers=2, timeout=LONG) as session:
            session.hooks["response"].append(lambda r, **kw: logger.info("got %s", r.url))
            futures = []
            for tenant in ("acme", "globex"):
                context = contextvars.copy_context()
                context.run(TENANT.set, tenant)
                futures.append(context.run(session.get, server.url + f"/echo?t={tenant}"))
            for future in futures:
                future.result(timeout=LONG)
    finally:
        logger.removeHandler(handler)
    assert sorted((r.tenant, r.getMessage().endswith(r.tenant)) for r in handler.records) == [  # type: ignore[attr-defined]
        ("acme", True),
        ("globex", True),
    ]


# -- requests-cache --------------------------------------------------------------------


@pytest.mark.parametrize("coalesce", [False, True], ids=["plain", "coalesce"])
def test_requests_cache_sqlite_shared_by_sixteen_workers(
    tmp_path: Path, server: LoopbackServer, coalesce: bool
) -> None:
    urls = [server.url + f"/delay?ms=20&u={n}" for n in range(20)]
    cached = CachedSession(str(tmp_path / "cache"), backend="sqlite")
    with FuturesSession(
        max_workers=16, session=cached, timeout=LONG, coalesce=coalesce
    ) as session:
        futures = [session.get(urls[n % 20]) for n in range(400)]
        assert all(f.result(timeout=LONG).status_code == 200 for f in futures)
        if coalesce:  # each URL sent once: the rest joined it or found it cached
            assert server.counters.requests == 20
        later = [session.get(url).result(timeout=LONG) for url in urls]
    assert all(response.from_cache for response in later)
    cached.close()


# -- requests-mock and responses --------------------------------------------------------


def test_requests_mock_adapter_mounted_on_the_session() -> None:
    adapter = requests_mock.Adapter()
    adapter.register_uri("GET", "mock://api/item", json={"id": 1})
    with FuturesSession(max_workers=2, timeout=LONG) as session:
        session.mount("mock://", adapter)
        assert session.get("mock://api/item").result(timeout=LONG).json() == {"id": 1}
    assert adapter.call_count == 1


def test_requests_mock_mocker_and_its_callbacks_see_the_context() -> None:
    def body(request: Any, context: Any) -> str:
        return TENANT.get()

    with requests_mock.Mocker() as mocker, FuturesSession(max_workers=2, timeout=LONG) as session:
        mocker.get("http://example.com/tenant", text=body)
        TENANT.set("initech")
        assert session.get("http://example.com/tenant").result(timeout=LONG).text == "initech"
    assert mocker.call_count == 1


def test_responses_and_its_callbacks_see_the_context() -> None:
    with responses.RequestsMock() as mocked, FuturesSession(max_workers=2) as session:
        mocked.add_callback(
            responses.GET, "http://example.com/cb", lambda r: (200, {}, TENANT.get())
        )
        mocked.add(responses.GET, "http://example.com/json", json={"ok": True})
        TENANT.set("hooli")
        cb = session.get("http://example.com/cb")
        as_json = session.get("http://example.com/json")
        assert cb.result(timeout=LONG).text == "hooli"
        assert as_json.result(timeout=LONG).json() == {"ok": True}


# -- requests-toolbelt -----------------------------------------------------------------


def test_toolbelt_multipart_encoder_streams_an_open_file(
    tmp_path: Path, server: LoopbackServer
) -> None:
    path = tmp_path / "upload.txt"
    path.write_bytes(b"streamed from the file")
    with path.open("rb") as file, FuturesSession(max_workers=2, timeout=LONG) as session:
        encoder = MultipartEncoder(fields={"f": ("upload.txt", file, "text/plain")})
        future = session.post(
            server.url + "/echo", data=encoder, headers={"Content-Type": encoder.content_type}
        )
        body = future.result(timeout=LONG).json()["body"]
    assert "streamed from the file" in body
    assert 'filename="upload.txt"' in body


def test_toolbelt_base_url_session_as_session(server: LoopbackServer) -> None:
    with FuturesSession(
        session=BaseUrlSession(base_url=server.url + "/api/"), timeout=LONG, coalesce=True
    ) as session:
        response = session.get("items", params={"q": "1"}).result(timeout=LONG)
    assert response.json()["path"] == "/api/items"
