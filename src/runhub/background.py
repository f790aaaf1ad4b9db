"""A daemon thread that repeats one piece of background work until it is stopped (the WAL
checkpointer, the batch expansion stage and the health analysis of a server process)."""

from __future__ import annotations

import threading


class BackgroundThread:
    """Subclasses set `thread_name` and implement `_loop`, which runs until `_stop` is set
    (typically `while not self._stop.wait(interval_s): ...`)."""

    thread_name = "background"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        raise NotImplementedError
