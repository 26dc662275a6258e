"""``requests-futures fetch``: many URLs at once, one JSON line each, and a summary.

::

    status = run(build_parser().parse_args(["fetch", "-w", "16", "http://127.0.0.1:8000/"]))
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from contextlib import ExitStack
from itertools import chain
from typing import IO, Any

import requests
import urllib3

from .._pools import connections_opened
from ..sessions import FuturesSession
from .ctrl_c import CtrlC, DaemonExecutor, sigint_blocked
from .parser import FAILED, INTERRUPTED, OK
from .report import BarProgress, NoProgress, PlainProgress, Progress, Stats, requests_text
from .saving import Saved, Saver

#: How many URLs per worker ``map()`` takes in at a time with --per-host or --rate.
_POLITE_WINDOW = 8

#: Seconds the main thread sleeps at most while it waits for results.
_TICK = 0.2

# --- fetch ---------------------------------------------------------------------------------


def _urls(lines: Iterable[str]) -> Iterator[str]:
    """The URLs among ``lines``: stripped, blank lines and ``#`` comments skipped."""
    for line in lines:
        url = line.strip()
        if url and not url.startswith("#"):
            yield url


def _progress(wanted: bool | None, total: int | None, saving: bool) -> Progress:
    """The progress display: tqdm bars if tqdm is installed, else plain lines."""
    stream = sys.stderr
    if wanted is None:
        wanted = stream.isatty()
    if not wanted:
        return NoProgress()
    try:
        with sigint_blocked():  # tqdm may start its monitor thread
            return BarProgress(stream, total, saving)
    except ImportError:
        return PlainProgress(stream, total)


def _record(url: str, future: Future[Any], elapsed: float, saving: bool) -> dict[str, Any]:
    """The JSON line of one finished request (with ``path`` when ``saving``)."""
    record: dict[str, Any] = {
        "url": url,
        "status": None,
        "elapsed_ms": round(elapsed * 1000, 1),
        "bytes": None,
        "final_url": None,
        "error": None,
        "message": None,
        # Sent more than once when retried; requests_futures' futures say.
        "attempts": getattr(future, "attempts", 1),
    }
    if saving:
        record.update(path=None, skipped=False)
    error = future.exception(timeout=0)
    if error is None:
        result = future.result(timeout=0)
        if isinstance(result, Saved):
            record.update(status=result.status, bytes=result.bytes, final_url=result.url)
            record["path"] = result.path
        else:
            record.update(status=result.status_code, bytes=len(result.content))
            record["final_url"] = result.url
    else:
        record.update(error=type(error).__name__, message=str(error))
    return record


def _skipped(url: str, path: str) -> dict[str, Any]:
    """The JSON line of a URL whose file is already there."""
    return {
        "url": url,
        "status": None,
        "elapsed_ms": 0.0,
        "bytes": os.path.getsize(path),
        "final_url": None,
        "error": None,
        "message": None,
        "attempts": 0,
        "path": path,
        "skipped": True,
    }


def run(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args.parser
    if not args.urls and args.input is None:
        parser.error("give URLs as arguments, or a file of them with -i FILE (-i - for stdin)")
    options = _request_options(args)
    saver = _saver(args)
    with ExitStack() as files:
        source: IO[str] | None = None
        total: int | None = len(args.urls)
        if args.input == "-":
            source, total = sys.stdin, None
        elif args.input is not None:
            try:
                source = files.enter_context(open(args.input, encoding="utf-8", errors="replace"))
            except OSError as exc:
                parser.error(f"cannot read {args.input}: {exc.strerror}")
            if os.path.isfile(args.input):  # count the URLs for the progress bar
                total = len(args.urls) + sum(1 for _ in _urls(source))
                source.seek(0)
            else:
                total = None
        out = sys.stdout
        if args.output not in (None, "-"):
            try:
                out = files.enter_context(open(args.output, "w", encoding="utf-8"))
            except OSError as exc:
                parser.error(f"cannot write {args.output}: {exc.strerror}")
        return _run_fetch(args, source, total, out, options, saver)


def _request_options(args: argparse.Namespace) -> dict[str, Any]:
    """The arguments of every request, from the options; bad ones end the run here."""
    parser: argparse.ArgumentParser = args.parser
    options: dict[str, Any] = {}
    if args.data is not None:
        options["data"] = args.data.encode("utf-8")
        if args.data.startswith("@"):
            name = args.data[1:]
            if name == "-" and args.input == "-":
                parser.error("-d @- and -i - cannot both read stdin")
            try:
                if name == "-":
                    options["data"] = sys.stdin.buffer.read()
                else:
                    with open(name, "rb") as body:
                        options["data"] = body.read()
            except OSError as exc:
                parser.error(f"cannot read the body from {name}: {exc.strerror}")
    options["method"] = args.method or ("POST" if args.data is not None else "GET")
    # Per request, not on the session: requests lets REQUESTS_CA_BUNDLE and
    # the *_proxy variables override the session's verify and proxies.
    if args.insecure:
        options["verify"] = False
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    elif args.cacert is not None:
        if not os.access(args.cacert, os.R_OK):
            parser.error(f"cannot read the CA certificates in {args.cacert}")
        options["verify"] = args.cacert
    if args.proxy is not None:
        options["proxies"] = {"http": args.proxy, "https": args.proxy}
    return options


def _saver(args: argparse.Namespace) -> Saver | None:
    """The saver of ``--save DIR``, its directory ready; bad options end the run here."""
    parser: argparse.ArgumentParser = args.parser
    if args.adaptive and args.per_host is None:
        parser.error("--adaptive needs --per-host N, the most it may grow to")
    if args.save is None:
        for given, flag in [
            (args.save_as, "--save-as"),
            (args.save_errors, "--save-errors"),
            (args.skip_existing, "--skip-existing"),
        ]:
            if given:
                parser.error(f"{flag} needs --save DIR")
        return None
    saver = Saver(args.save, args.save_as or "name", save_errors=args.save_errors)
    try:
        saver.prepare()
    except OSError as exc:
        parser.error(f"--save: {exc}")
    return saver


def _run_fetch(
    args: argparse.Namespace,
    source: IO[str] | None,
    total: int | None,
    out: IO[str],
    options: dict[str, Any],
    saver: Saver | None,
) -> int:
    started: dict[int, float] = {}
    stop = threading.Event()
    records: queue.SimpleQueue[dict[str, Any] | BaseException | None] = queue.SimpleQueue()

    def items() -> Iterator[dict[str, Any]]:
        # map() pulls an item right before submitting it, and with a window of
        # one request per worker it starts at once: the pull time is the start.
        lines: Iterable[str] = args.urls if source is None else chain(args.urls, source)
        for url in _urls(lines):
            if stop.is_set():
                return
            item: dict[str, Any] = {"url": url, **options}
            if saver is not None:
                path = saver.reserve(url)
                if args.skip_existing and os.path.isfile(path):
                    records.put(_skipped(url, path))
                    continue
                item.update(stream=True, background_callback=saver.callback(path))
            started[id(item)] = time.perf_counter()
            yield item

    executor = DaemonExecutor(args.workers)
    session = FuturesSession(
        executor=executor,
        # As many hosts' pools as the open-file budget allows (the default).
        adapter_kwargs={"pool_maxsize": args.workers},
        timeout=args.timeout,
        deadline=args.deadline,
        per_host=args.per_host,
        rate=args.rate,
        retries=args.retries or None,
        adaptive=args.adaptive,
    )
    session.headers.update(dict(args.headers))
    if args.user is not None:
        session.auth = args.user
    # Requests waiting for their host's turn count in map()'s window: a wider
    # one lets the URLs of other hosts in meanwhile.
    polite = args.per_host is not None or args.rate is not None
    window = args.workers * (_POLITE_WINDOW if polite else 1)
    results = session.map(items(), window=window, ordered=False)

    def pump() -> None:
        # map() runs in this thread, so that the main thread only ever sleeps
        # with a timeout: a Ctrl-C that lands just as a thread goes to sleep on
        # a lock without one is only noticed once that lock is released.
        try:
            for item, future in results:
                elapsed = time.perf_counter() - started.pop(id(item))
                records.put(_record(item["url"], future, elapsed, saver is not None))
        except BaseException as exc:  # noqa: BLE001 - raised again in the main thread
            records.put(exc)
        else:
            records.put(None)

    stats = Stats(saver, retrying=args.retries > 0, deadline=args.deadline is not None)
    progress = _progress(args.progress, total, saver is not None)
    pumping = threading.Thread(target=pump, name="rf-cli-map", daemon=True)
    stopped = None
    with CtrlC() as ctrl_c:
        try:
            # Started once Ctrl-C is ours: from the first request on, it abandons the run.
            with sigint_blocked():
                pumping.start()
            while True:
                try:
                    record = records.get(timeout=_TICK)
                except queue.Empty:
                    progress.tick(stats)
                    continue
                if record is None:
                    break
                if isinstance(record, BaseException):
                    raise record
                # Write a line and count it, or neither: Ctrl-C waits for both.
                ctrl_c.hold = True
                out.write(json.dumps(record) + "\n")
                out.flush()
                stats.add(record)
                progress.update(stats)
                ctrl_c.release()
        except KeyboardInterrupt:
            stopped = "interrupted"
        except BrokenPipeError:
            # The reader went away (``| head``): stop, and keep the exit flush quiet.
            stopped = "output closed"
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, out.fileno())
            os.close(devnull)
        except BaseException:
            _abandon(stop, executor, session, saver)
            raise
        ctrl_c.hold = True  # from here on it is quick: finish, whatever comes
        progress.close(stats)
        if stopped is None:
            pumping.join()
            session.close()
            executor.shutdown()
        else:
            _abandon(stop, executor, session, saver)
        stats.connections = connections_opened(session)
        lines = stats.summary()
        if args.adaptive:
            lines += _final_limits(session)
        if stopped is not None:
            lines.insert(0, f"{stopped}: {requests_text(len(started))} in flight abandoned")
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
    if stopped == "interrupted":
        return INTERRUPTED
    return FAILED if stats.failed or stopped else OK


def _final_limits(session: FuturesSession) -> list[str]:
    """The summary's lines for ``--adaptive``: where each host's limit ended."""
    lines = ["  final limits (--adaptive):"]
    for origin, stats in sorted(session.host_stats().items()):
        lines.append(
            f"    {origin}: {stats.limit} of {stats.ceiling}, "
            f"{stats.overload_signals} overload signals"
        )
    return lines


def _abandon(
    stop: threading.Event, executor: Executor, session: FuturesSession, saver: Saver | None
) -> None:
    """Send no more requests, cancel those not started, and do not wait for the rest.

    Downloads under way leave no temporary file behind, and no file under its name.
    """
    stop.set()
    executor.shutdown(wait=False, cancel_futures=True)
    if saver is not None:
        saver.abandon()
    # Not FuturesSession.close(), which waits for requests in flight: this
    # closes the pools now, and each connection in use as its request ends.
    requests.Session.close(session)
