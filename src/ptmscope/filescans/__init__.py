"""Registry-wide file scanning: ``ptmscope scan --snapshot`` (units read HTTP ranges; the driver stores verdicts)."""
