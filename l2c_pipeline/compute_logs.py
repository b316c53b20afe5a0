"""Dagster's local compute-log capture, with its helper processes deaf to Ctrl-C.

To mirror a run's output to the terminal while it also goes to a file, Dagster starts a `tail`
process and a small Python watcher per stream. They are in the terminal's process group, so
Ctrl-C reached them too, and each watcher printed a KeyboardInterrupt traceback above the run's
own one-line message. This manager starts them with SIGINT ignored (a process started with a
signal ignored keeps it ignored): the run alone handles the interrupt, and stops them as it
always does, with SIGTERM, when the capture ends. Everything else is Dagster's
LocalComputeLogManager, with the same files.

It is configured as any Dagster compute log manager (dagster.yaml):

    compute_logs:
      module: l2c_pipeline.compute_logs
      class: QuietLocalComputeLogManager
      config:
        base_dir: .l2c/dagster/logs
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import ExitStack, contextmanager

from dagster._core.storage.compute_log_manager import CapturedLogContext
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in this block, for the processes it starts to inherit; the handler before
    it is put back after. Only the main thread may set handlers, and a handler not set from
    Python cannot be put back: there, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:
        yield
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class QuietLocalComputeLogManager(LocalComputeLogManager):
    """LocalComputeLogManager whose mirroring processes ignore Ctrl-C."""

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> QuietLocalComputeLogManager:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def capture_logs(self, log_key: Sequence[str]) -> Generator[CapturedLogContext, None, None]:
        with ExitStack() as stack:
            with sigint_ignored():  # the processes start when the capture does
                context = stack.enter_context(super().capture_logs(log_key))
            yield context
