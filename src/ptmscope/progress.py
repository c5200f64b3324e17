"""How long-running work reports progress: one callback shape for import, crawl and clone."""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[str, int, int | None], None]
"""Called as ``progress(stage, done, total)``: what is being worked on (a file, a stage of a crawl
or a clone), how many units are done so far, and how many there are in all (None when not known,
as for the records of a file being read)."""
