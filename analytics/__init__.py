"""The analytical engine: warehouse schema, Filters → SQL, KPIs, breakdowns and models.

Imports no other package of ours (see ARCHITECTURE.md)."""
