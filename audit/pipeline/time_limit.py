"""A time limit on one image's work, so that a stuck image is its own row, not a stuck batch.

Reading and decoding already have size and pixel limits (:mod:`.decode`), but
a decoder, detector or network file system can still take unboundedly long on
one hostile or unlucky file. :func:`time_limit` raises :class:`ImageTimeout`
inside that image's work once its seconds are up; the embedder turns it into a
``timeout`` row and goes on with the rest of the batch.

How the exception gets in depends on the thread the batch runs on:

- the main thread of a process (local worker processes, and runs in the CLI's
  own process): ``SIGALRM`` from ``setitimer``, which also cuts short a
  blocking system call such as a read or ``sleep``;
- any other thread (a Dask worker's task threads): a timer thread raises the
  exception asynchronously in the worker thread (CPython's
  ``PyThreadState_SetAsyncExc``), which takes effect at the next Python
  bytecode, so not inside one long C call.

Either way, C code that holds the GIL and never returns cannot be interrupted
from inside its own process: its row becomes ``timeout`` when the call returns,
and a call that never returns is left to the executor (a Dask worker that
dies is replaced and its batch retried; see :mod:`.executors`).
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
from collections.abc import Iterator


class ImageTimeout(BaseException):
    """One image's work ran past its time limit.

    A ``BaseException``, like ``KeyboardInterrupt``, so that the ``except
    Exception`` blocks in the decoder, deepface and the embedder's own error
    boundary do not turn it into an ``error`` row or swallow it.
    """


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`ImageTimeout` in the ``with`` block once ``seconds`` have passed.

    ``None`` (or 0) sets no limit. The limit is cancelled when the block ends.
    """
    if not seconds:
        yield
        return
    on_main = threading.current_thread() is threading.main_thread()
    limiter = _alarm if on_main and hasattr(signal, "setitimer") else _watchdog
    with limiter(seconds):
        yield


def _raise_timeout(signum, frame) -> None:
    raise ImageTimeout


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """``SIGALRM`` after ``seconds``; the previous handler and timer are restored after."""
    previous = signal.signal(signal.SIGALRM, _raise_timeout)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    """A timer thread that raises :class:`ImageTimeout` in this thread after ``seconds``.

    The lock makes "the block has ended" and "the timer fires" exclusive, and
    an exception set but not yet delivered when the block ends is withdrawn,
    so it can never surface in later, unrelated code.
    """
    target = ctypes.c_ulong(threading.get_ident())
    lock = threading.Lock()
    state = {"active": True, "fired": False}

    def fire() -> None:
        with lock:
            if state["active"]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, ctypes.py_object(ImageTimeout))
                state["fired"] = True

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            state["active"] = False
            if state["fired"]:  # set but perhaps not delivered: withdraw it
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, None)
