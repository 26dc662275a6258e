"""The ``requests-futures`` command: ``fetch`` many URLs at once, or run the ``demo``.

::

    requests-futures fetch -i urls.txt -w 16 -o results.jsonl
    python -m requests_futures demo

:func:`main` takes the arguments as a list, so it can be called in-process.
Nothing here is imported by ``import requests_futures``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from contextlib import ExitStack, contextmanager
from itertools import chain
from typing import IO, Any, NoReturn, ParamSpec, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3

from . import __version__
from ._report import BarProgress, NoProgress, PlainProgress, Progress, Stats, requests_text
from ._save import Saved, Saver
from .sessions import FuturesSession

_P = ParamSpec("_P")
_T = TypeVar("_T")
_Task = tuple["Future[Any]", Callable[..., Any], tuple[Any, ...], dict[str, Any]]

#: Exit statuses.
OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130

#: How many URLs per worker ``map()`` takes in at a time with --per-host or --rate.
_POLITE_WINDOW = 8

#: Seconds the main thread sleeps at most while it waits for results.
_TICK = 0.2

# What urllib3 can reach a proxy with (socks* needs the PySocks package).
_PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")

# An HTTP token (RFC 9110): what a method or a header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread for a while, and in the threads it starts meanwhile.

    Threads inherit the signal mask.  The kernel hands SIGINT to any thread that
    does not block it; one that lands on a worker leaves the main thread asleep
    in its wait for results, and Ctrl-C would do nothing.
    """
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks, no problem
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _DaemonExecutor(Executor):
    """A fixed pool of daemon worker threads.

    ``ThreadPoolExecutor`` joins its workers when the interpreter exits, so a
    request stuck on a slow server would hold up Ctrl-C until its timeout.
    These threads are daemons: once the command has written what finished and
    its summary, the process exits without waiting for requests in flight.
    """

    def __init__(self, workers: int) -> None:
        self._max_workers = workers
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._shutdown = False
        self._threads = [
            threading.Thread(target=self._work, name=f"rf-cli-worker-{n}", daemon=True)
            for n in range(workers)
        ]
        with _sigint_blocked():
            for thread in self._threads:
                thread.start()

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            future, fn, args, kwargs = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - the future carries every error
                future.set_exception(exc)
            else:
                future.set_result(result)

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        future: Future[_T] = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit to an executor that was shut down")
            self._tasks.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if cancel_futures:
                while True:
                    try:
                        task = self._tasks.get_nowait()
                    except queue.Empty:
                        break
                    if task is not None:
                        task[0].cancel()
            # (Again) one stop sign per thread, behind any task left.
            self._shutdown = True
            for _ in self._threads:
                self._tasks.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line on stderr, with where to find help, and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# --- argument types ------------------------------------------------------------------------


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}


def _rate(text: str) -> float:
    """``R``, ``R/s``, ``R/m`` or ``R/h``: requests per second."""
    number, slash, unit = text.partition("/")
    try:
        value = float(number) / _PER[unit.strip().lower() if slash else "s"]
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(
            f"expected requests per second, as R, R/s, R/m or R/h, got {text!r}"
        ) from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive rate, got {text!r}")
    return value


def _method(text: str) -> str:
    if not _TOKEN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not an HTTP method: {text!r}")
    return text.upper()


def _header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not _TOKEN.fullmatch(name) or "\r" in value or "\n" in value:
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name, value


def _user(text: str) -> tuple[str, str]:
    user, colon, password = text.partition(":")
    if not colon:
        raise argparse.ArgumentTypeError(f"expected USER:PASSWORD, got {text!r}")
    return user, password


def _proxy(text: str) -> str:
    split = urlsplit(text)
    if split.scheme.lower() not in _PROXY_SCHEMES or not split.hostname:
        raise argparse.ArgumentTypeError(
            f"expected a proxy URL such as http://HOST:PORT, got {text!r}"
        )
    return text


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
        with _sigint_blocked():  # tqdm may start its monitor thread
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


def _fetch(args: argparse.Namespace) -> int:
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

    executor = _DaemonExecutor(args.workers)
    session = FuturesSession(
        executor=executor,
        adapter_kwargs={"pool_connections": max(args.workers, 10), "pool_maxsize": args.workers},
        timeout=args.timeout,
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

    stats = Stats(saver, retrying=args.retries > 0)
    progress = _progress(args.progress, total, saver is not None)
    pumping = threading.Thread(target=pump, name="rf-cli-map", daemon=True)
    stopped = None
    with _CtrlC() as ctrl_c:
        try:
            # Started once Ctrl-C is ours: from the first request on, it abandons the run.
            with _sigint_blocked():
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


class _CtrlC:
    """Hold Ctrl-C back while ``hold`` is true; raise it at :meth:`release`.

    Only where Python's own handler is in place (the main thread, SIGINT not
    ignored); elsewhere Ctrl-C behaves as it would anyway.
    """

    def __init__(self) -> None:
        self.hold = False
        self.pending = False
        self.previous: Any = None

    def _handle(self, signum: int, frame: object) -> None:
        if self.hold:
            self.pending = True
        else:
            raise KeyboardInterrupt

    def release(self) -> None:
        self.hold = False
        if self.pending:
            raise KeyboardInterrupt

    def __enter__(self) -> _CtrlC:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


# --- the parser ----------------------------------------------------------------------------

_FETCH_EPILOG = """\
examples:
  requests-futures fetch https://example.com/a https://example.com/b
  requests-futures fetch -i urls.txt -w 16 -o results.jsonl
  grep /api/ urls.txt | requests-futures fetch -i - -H 'Accept: application/json'
  requests-futures fetch -i urls.txt -O downloads --per-host 2 --rate 5 --retries 3
  requests-futures fetch -i urls.txt -O downloads --skip-existing   # resume

output: one JSON object per line, in the order the requests finish:
  {"url": "...", "status": 200, "elapsed_ms": 12.3, "bytes": 512,
   "final_url": "...", "error": null, "message": null, "attempts": 1}
A request that failed has "status": null and the exception's type and message
in "error" and "message"; "attempts" says how many times it was sent.  With
--save, each line also has "path" (the file, or null when nothing was saved)
and "skipped" (true for a file already there with --skip-existing).  A summary
(counts per status and per error, retries, files and bytes saved, latency
percentiles, requests/s) goes to stderr at the end.

exit status: 0 every request got a response (whatever its HTTP status),
1 some requests failed, 2 bad usage (reported before any request is sent),
130 interrupted (Ctrl-C).
"""

_DEMO_EPILOG = """\
The server runs inside this process on 127.0.0.1: no network is needed.

example:
  requests-futures demo -n 100 --delay-ms 50 -w 20
"""

_EPILOG = """\
examples:
  requests-futures demo
  requests-futures fetch -i urls.txt -o results.jsonl

Run 'requests-futures COMMAND --help' for the options of a command.
"""


def _demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo(args.n, args.delay_ms, args.workers, sys.stdout)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="requests-futures",
        description="Run HTTP requests concurrently with requests-futures.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", dest="command")

    fetch = commands.add_parser(
        "fetch",
        help="fetch many URLs concurrently; one JSON line per URL",
        description=(
            "Fetch every URL concurrently and write one JSON line per URL.\n"
            "URLs come from the arguments, then from -i FILE, one per line (blank\n"
            "lines and lines starting with # are skipped), read as the requests go."
        ),
        epilog=_FETCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fetch.set_defaults(run=_fetch, parser=fetch)
    fetch.add_argument("urls", nargs="*", metavar="URL", help="URLs to fetch")
    fetch.add_argument(
        "-i", "--input", metavar="FILE", help="read URLs from FILE, one per line ('-': stdin)"
    )
    fetch.add_argument(
        "-o", "--output", metavar="OUT", help="write the JSON lines to OUT (default: stdout)"
    )
    fetch.add_argument(
        "-w",
        "--workers",
        type=_positive_int,
        default=8,
        metavar="N",
        help="requests in flight at once (default: %(default)s)",
    )
    fetch.add_argument(
        "-X",
        "--method",
        type=_method,
        metavar="METHOD",
        help="HTTP method (default: GET, or POST with -d)",
    )
    fetch.add_argument(
        "-H",
        "--header",
        dest="headers",
        type=_header,
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="add a request header; repeat for more",
    )
    fetch.add_argument(
        "-d",
        "--data",
        metavar="DATA",
        help="request body, sent as given; @FILE: the bytes of FILE (@-: stdin), as they are",
    )
    fetch.add_argument(
        "-u", "--user", type=_user, metavar="USER:PASSWORD", help="HTTP basic authentication"
    )
    fetch.add_argument(
        "-k", "--insecure", action="store_true", help="do not verify TLS certificates"
    )
    fetch.add_argument(
        "--cacert", metavar="FILE", help="verify TLS certificates with the CA certificates in FILE"
    )
    fetch.add_argument(
        "--proxy", type=_proxy, metavar="URL", help="send every request through this proxy"
    )
    fetch.add_argument(
        "--timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="connect and read timeout of each request (default: 30)",
    )
    polite = fetch.add_argument_group("being polite (per origin: scheme, host and port)")
    polite.add_argument(
        "--per-host",
        type=_positive_int,
        metavar="N",
        help="at most N requests in flight to one host at once",
    )
    polite.add_argument(
        "--rate",
        type=_rate,
        metavar="R",
        help="at most R request starts per second to one host, evenly spaced; "
        "R/m per minute, R/h per hour",
    )
    polite.add_argument(
        "--adaptive",
        action="store_true",
        help="make --per-host N a ceiling: each host's limit starts at 2 and follows what "
        "it sustains, down on 429/503, refused connections, timeouts and rising latency, "
        "up while it answers well; the summary shows where each ended",
    )
    polite.add_argument(
        "--retries",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="retry a request up to N times on a connection error, a timeout or a "
        "429/500/502/503/504, with backoff, honouring Retry-After (default: 0)",
    )
    saving = fetch.add_argument_group("saving the bodies to files")
    saving.add_argument(
        "-O",
        "--save",
        metavar="DIR",
        help="stream each body to a file under DIR (created if missing), not into memory",
    )
    saving.add_argument(
        "--save-as",
        choices=("name", "path"),
        help="file names: the URL's last path segment (name, the default), "
        "or HOST/PATH mirrored under DIR (path)",
    )
    saving.add_argument(
        "--save-errors", action="store_true", help="save the bodies of non-2xx responses too"
    )
    saving.add_argument(
        "--skip-existing",
        action="store_true",
        help="do not fetch a URL whose file is already there (resume an interrupted run)",
    )
    shown = fetch.add_mutually_exclusive_group()
    shown.add_argument(
        "--progress",
        action="store_true",
        default=None,
        help="show progress on stderr even when it is not a terminal",
    )
    shown.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress display (default: shown when stderr is a terminal)",
    )

    demo = commands.add_parser(
        "demo",
        help="see the speedup against plain requests, on a local server",
        description=(
            "Start a local HTTP server that answers each request after a delay, fetch\n"
            "N URLs from it with a plain requests.Session, then with FuturesSession,\n"
            "and print the times, the requests per second and the speedup."
        ),
        epilog=_DEMO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.set_defaults(run=_demo, parser=demo)
    demo.add_argument(
        "-n",
        type=_positive_int,
        default=32,
        metavar="N",
        help="number of requests (default: %(default)s)",
    )
    demo.add_argument(
        "--delay-ms",
        type=_non_negative_int,
        default=100,
        metavar="MS",
        help="how long the server takes to answer each request (default: %(default)s)",
    )
    demo.add_argument(
        "-w",
        "--workers",
        type=_positive_int,
        default=8,
        metavar="N",
        help="FuturesSession worker threads (default: %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    0: success; 1: some requests failed; 2: bad usage; 130: interrupted.
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return USAGE
        status: int = args.run(args)
    except SystemExit as exc:  # argparse: --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else USAGE
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return INTERRUPTED
    return status
