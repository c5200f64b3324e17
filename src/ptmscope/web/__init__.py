"""``ptmscope serve``: a local web app to explore a snapshot (search, report cards, lineage, the study, select).

``ptmscope.web.app.create_app`` builds the Starlette application; docs/serve.md documents the pages and the JSON API.
"""
