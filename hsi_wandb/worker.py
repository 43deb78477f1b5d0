"""The one background worker: a daemon thread that handles submitted items in order, so that slow work (handing rows
to W&B, logging checkpoints, encoding videos) never holds the training thread."""
import queue
import threading
from typing import Any, Callable, Optional

_STOP = object()


class Worker:
    """Handles each item given to :meth:`submit` with ``handle``, in order, on a thread started at the first item.

    ``maxsize`` bounds the items waiting (0: unbounded), so memory stays flat when the work is slower than the
    producer; :meth:`close` waits for the rest, and a later :meth:`submit` starts a new thread.
    """

    def __init__(self, name: str, handle: Callable[[Any], None], maxsize: int = 0):
        self._name = name
        self._handle = handle
        self._queue: "queue.Queue[Any]" = queue.Queue(maxsize)
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    def submit(self, item: Any, timeout: Optional[float] = None) -> None:
        """Queue ``item``; queue.Full when ``maxsize`` items still wait after ``timeout`` seconds."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._thread.start()
        self._queue.put(item, timeout=timeout)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            self._handle(item)

    def close(self, timeout: Optional[float] = None) -> bool:
        """Wait, at most ``timeout`` seconds, until every queued item is handled; False when some are not (the thread,
        a daemon, is left to finish them or die with the process)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return True
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return False
        thread.join(timeout)
        if thread.is_alive():
            return False
        return True
