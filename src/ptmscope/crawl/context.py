"""What the stages of one crawl run share."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ptmscope.crawl.options import CrawlOptions, CrawlReport
    from ptmscope.crawl.state import CrawlState
    from ptmscope.hub.client import HubClient
    from ptmscope.progress import ProgressFn


@dataclass
class RunContext:
    """One run of a crawl: the endpoint, the options, the state in the store, the client and the report."""

    endpoint: str
    options: CrawlOptions
    state: CrawlState
    client: HubClient
    report: CrawlReport
    progress: ProgressFn
    """Called as ``progress(stage, done, total)``; total is None while unknown."""
    stop: threading.Event = field(default_factory=threading.Event)
    """Set when a stage failed or the run is interrupted: the stages still running stop at their next chunk."""

    def count_failures(self, stage: str, count: int) -> None:
        """Count failures this run stored (a stage is in ``report.failures`` once it has one)."""
        if count:
            self.report.failures[stage] += count
