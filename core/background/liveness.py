"""A worker bootstep that proves the worker's event loop turns: Kubernetes' liveness probe.

``CELERY_WORKER_LIVENESS_FILE`` is touched every ``interval`` seconds by a timer of the worker's
own event loop (the one that receives messages and hands them to the pool), not by a thread
of its own: a loop that hangs stops touching it, and the probe (``find FILE -mmin -2``) fails.
Nothing here asks the broker, so a broker outage never restarts healthy workers.

Wired in config/celery.py: ``app.steps["worker"].add("core.background.liveness:LivenessFile")``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from celery import bootsteps


class LivenessFile(bootsteps.StartStopStep):
    requires = ("celery.worker.components:Timer",)
    interval = 10.0

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        value = os.environ.get("CELERY_WORKER_LIVENESS_FILE", "")
        self.path = Path(value) if value else None
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        if self.path is None:
            return
        self.touch()
        self.tref = worker.timer.call_repeatedly(self.interval, self.touch)

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def touch(self) -> None:
        assert self.path is not None
        with contextlib.suppress(OSError):
            self.path.touch()
