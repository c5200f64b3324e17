"""Data files shipped with ptmscope (the bundled sample snapshot)."""
