"""Audits: the checks run over facts, scored, with lineage, for one model or a whole snapshot."""
