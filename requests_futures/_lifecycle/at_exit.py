"""Ending cleanly: cancelling queued requests on close and at interpreter exit.

At interpreter exit, ``concurrent.futures`` lets every ``ThreadPoolExecutor``
worker drain its whole queue before joining it.  For requests against a server
that does not answer, that is ``queued * timeout / workers`` seconds (or for
ever, without a timeout) in which a finished script, or one interrupted with
Ctrl-C, does not exit.  A session that owns its executor therefore registers
here, and its queued requests are cancelled before those threads are joined,
just as :meth:`FuturesSession.close` would cancel them.  Running requests
still finish or time out.  Not while another non-daemon thread of the program
is still running, though: the program is not over, and that thread may be
waiting for those requests (see :func:`_others_still_running`).
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import weakref
from concurrent.futures import Executor, Future

# Imported before the registration below, so that its own exit hook, the one
# that joins the worker threads, is registered before ours.
from concurrent.futures import thread as _thread
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .._state import DeferringSession

__all__ = ["cancel_queued", "track", "untrack"]

logger = logging.getLogger(__name__)

# Sessions that own their executor and are not closed yet.  Weak, so that
# tracking keeps nothing alive: a session with queued work is kept alive by
# the work items themselves, which hold it.
_sessions: weakref.WeakSet[DeferringSession] = weakref.WeakSet()


def track(session: DeferringSession) -> None:
    _sessions.add(session)


def untrack(session: DeferringSession) -> None:
    _sessions.discard(session)


def cancel_queued(executor: Executor) -> int:
    """Take the queued requests out of ``executor``'s queue and cancel them.

    Return how many there were.  ``shutdown(cancel_futures=True)`` cancels
    them too, but leaves them in the state that ``concurrent.futures.wait``
    and ``as_completed`` count as done only once a worker has reached them
    (``set_running_or_notify_cancel``), which never happens: ``wait()`` on
    them would block for ever.  Taken out of the queue here, no worker can
    reach them any more, so they can be put in their final state at once.
    This reads the queue of the ``ThreadPoolExecutor`` the session created;
    another executor is only shut down.
    """
    work_queue: queue.SimpleQueue[Any] | None = getattr(executor, "_work_queue", None)
    if work_queue is None:
        executor.shutdown(wait=False, cancel_futures=True)
        return 0
    cancelled = 0
    while True:
        try:
            item = work_queue.get_nowait()
        except queue.Empty:
            return cancelled
        future: Future[Any] | None = getattr(item, "future", None)
        if future is not None and future.cancel():
            future.set_running_or_notify_cancel()
            cancelled += 1


def _others_still_running() -> bool:
    """Whether the program goes on in another thread after its main thread ended.

    The exit hook runs when the main thread ends, before the interpreter joins
    the other non-daemon threads.  A program whose main thread only started
    the real work (a crawler thread using the session) is not exiting yet:
    like a plain ``ThreadPoolExecutor``, its queued requests must still run.
    It counts as going on while a thread is alive that is not a daemon (those
    the interpreter does not wait for), not the main thread and not a worker
    of a tracked session's executor (those are what is being cancelled).
    Workers of other executors count: they may be using the session.
    """
    ours: set[threading.Thread] = set()
    for session in list(_sessions):
        ours.update(getattr(session.executor, "_threads", ()))
    main = threading.main_thread()
    return any(
        thread.is_alive() and not thread.daemon and thread not in ours
        for thread in threading.enumerate()
        if thread is not main
    )


def _exit_hook() -> None:
    """Cancel the queued requests when the program is really ending."""
    try:
        if _others_still_running():
            return
    except Exception:  # an exit hook must never stop the exit
        logger.debug("could not tell which threads are still running", exc_info=True)
    _at_exit()


def _at_exit() -> None:
    cancelled = 0
    for session in list(_sessions):
        try:
            session._mark_closed()  # also cancels those its scheduler holds
            cancelled += cancel_queued(session.executor)
            if session._scheduler is not None:
                cancelled += session._scheduler.cancelled
            session.executor.shutdown(wait=False)
        except Exception:  # an exit hook must never stop the exit
            logger.debug("could not cancel a session's queued requests", exc_info=True)
    if cancelled:
        logger.warning(
            "requests-futures: %d queued requests cancelled at interpreter exit; "
            "wait for their futures before exiting to have them run",
            cancelled,
        )


# ``threading._register_atexit`` hooks run when the main thread ends, before
# non-daemon threads are joined and in the reverse order of registration.
# ``concurrent.futures.thread`` registers the hook that joins its workers (after
# they drain their queues) when it is imported, which happened above, so ours
# runs first.  ``atexit.register`` would be too late: its handlers run only
# after those threads have been joined.
# (Where it is missing, outside CPython, ``atexit`` is the best there is.)
_thread  # noqa: B018 - the import above is for its side effect
getattr(threading, "_register_atexit", atexit.register)(_exit_hook)
