"""`pulse worker`: run the Faust app until SIGTERM/SIGINT."""

from __future__ import annotations

import faust

from metrics_core.settings import Settings
from streams.app import create_app


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    """Blocks; Faust's worker installs the signal handlers and shuts down cleanly."""
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.spinner = None  # its animation floods logs that are not a terminal
    worker.execute_from_commandline()
