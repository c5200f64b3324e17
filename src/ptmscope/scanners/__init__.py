"""Static scanners for model files: read bytes, never load, import or execute them.

Library entry points: ``scan_file`` and ``scan_paths`` in ``ptmscope.scanners.api``; the
result types live in ``ptmscope.scanners.interface``.
"""

from __future__ import annotations
