"""Sources: where records come from (registry dumps, the Hub API, local folders)."""
