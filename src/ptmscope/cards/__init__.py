"""Model-card analysis."""
