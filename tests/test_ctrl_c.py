"""Ctrl-C for the command: a handler that can hold it back, SIGINT masks, daemon workers."""

from __future__ import annotations

import signal
import threading
from concurrent.futures import CancelledError

import pytest

from requests_futures._cli.ctrl_c import CtrlC, DaemonExecutor, sigint_blocked

from .conftest import LONG


def test_ctrl_c_is_held_back_while_a_line_is_written() -> None:
    ctrl_c = CtrlC()
    ctrl_c.hold = True
    ctrl_c._handle(signal.SIGINT, None)
    assert ctrl_c.pending
    with pytest.raises(KeyboardInterrupt):
        ctrl_c.release()
    with pytest.raises(KeyboardInterrupt):
        ctrl_c._handle(signal.SIGINT, None)


def test_ctrl_c_handler_installed_only_over_pythons_own() -> None:
    before = signal.getsignal(signal.SIGINT)
    with CtrlC() as ctrl_c:
        installed = signal.getsignal(signal.SIGINT) != before
        assert installed is (before is signal.default_int_handler)
        assert (ctrl_c.previous is not None) is installed
    assert signal.getsignal(signal.SIGINT) == before

    elsewhere: list[object] = []

    def in_a_thread() -> None:
        with CtrlC() as ctrl_c:
            elsewhere.append(ctrl_c.previous)

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join(LONG)
    assert elsewhere == [None]


def test_sigint_blocked_without_signal_masks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(signal, "pthread_sigmask")
    with sigint_blocked():
        pass


def test_daemon_executor() -> None:
    executor = DaemonExecutor(1)
    running, gate = threading.Event(), threading.Event()

    def block() -> bool:
        running.set()
        return gate.wait(LONG)

    blocked = executor.submit(block)
    assert running.wait(LONG)
    queued = executor.submit(int, "1")
    failing = executor.submit(int, "x")
    executor.shutdown(wait=False, cancel_futures=True)
    executor.shutdown(wait=False, cancel_futures=True)  # again: harmless
    assert queued.cancelled() and failing.cancelled()
    with pytest.raises(RuntimeError, match="shut down"):
        executor.submit(int, "2")
    gate.set()
    assert blocked.result(timeout=LONG) is True
    executor.shutdown()
    with pytest.raises(CancelledError):
        queued.result(timeout=0)

    other = DaemonExecutor(1)
    running.clear()
    gate.clear()
    other.submit(block)
    assert running.wait(LONG)
    skipped = other.submit(int, "0")
    assert skipped.cancel()  # cancelled in the queue: the worker passes it by
    gate.set()
    assert other.submit(int, "x").exception(timeout=LONG).__class__ is ValueError
    assert other.submit(int, "3").result(timeout=LONG) == 3
    other.shutdown()
    assert not any(t.is_alive() for t in other._threads)
