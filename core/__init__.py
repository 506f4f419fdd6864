"""Application state shared by the web process and the workers (see ARCHITECTURE.md)."""
