"""What makes Ctrl-C stop the ``requests-futures`` command at once.

Worker threads that are daemons (the process does not wait for a request in
flight as it exits), started with SIGINT blocked (so Ctrl-C reaches the main
thread), and a handler that holds Ctrl-C back while a line is being written::

    with CtrlC() as ctrl_c:
        ctrl_c.hold = True
        ...  # write a line and count it: Ctrl-C waits
        ctrl_c.release()  # raises KeyboardInterrupt if one came meanwhile
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from .. import _abort

_P = ParamSpec("_P")
_T = TypeVar("_T")
_Task = tuple["Future[Any]", Callable[..., Any], tuple[Any, ...], dict[str, Any]]


@contextmanager
def sigint_blocked() -> Iterator[None]:
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


class DaemonExecutor(Executor):
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
        with sigint_blocked():
            for thread in self._threads:
                thread.start()

    def _work(self) -> None:
        # Registered below: a request given up on (deadline, abort) is found here.
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


_abort.runner(DaemonExecutor._work.__code__, "future")


class CtrlC:
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

    def __enter__(self) -> CtrlC:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
