"""Ecosystem-wide measurements of a registry snapshot (the paper's figures and tables, and more)."""
