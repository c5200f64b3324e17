"""Reports: formatting only. They compute nothing; the study and the audit do."""
