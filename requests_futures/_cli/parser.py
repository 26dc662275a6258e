"""The parser of the ``requests-futures`` command line: its commands, options and help.

::

    args = build_parser().parse_args(["fetch", "-w", "16", "https://example.com/"])
    args.command, args.workers  # ('fetch', 16)

Bad values fail here, with a one-line usage error and exit status
:data:`USAGE`; the commands themselves live in :mod:`requests_futures._cli`.
The documentation's CLI reference is written from :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import NoReturn
from urllib.parse import urlsplit

from .. import __version__

#: Exit statuses.
OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130

# What urllib3 can reach a proxy with (socks* needs the PySocks package).
_PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")

# An HTTP token (RFC 9110): what a method or a header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


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


def build_parser() -> argparse.ArgumentParser:
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
    fetch.set_defaults(parser=fetch)
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
    fetch.add_argument(
        "--deadline",
        type=_seconds,
        metavar="SECONDS",
        help="give up on a request SECONDS after it was started, whatever it is doing "
        "(waiting for its host's turn, connecting, reading a slow body): it fails with "
        "DeadlineExceeded and its connection is closed",
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
    demo.set_defaults(parser=demo)
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
