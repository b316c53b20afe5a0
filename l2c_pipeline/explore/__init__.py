"""`l2c explore`: an interactive process explorer in the browser, over the published analytics
file (read-only; never the warehouse).

- source.py: the analytics file, attached read-only and prepared (cases, paths and
  attributes keyed by integers) once per published file; a newly published file is picked up
  without a restart.
- filters.py: the filter state read from a URL's parameters and turned into parameterised SQL
  (pure functions: no value ever reaches the SQL text).
- queries.py: the map, statistics, variants, cases, compare and question figures of a filter.
- app.py: the web app (Starlette), its pages and exports, the token and host checks.
"""
