"""Benchmarks (`make bench`): each module exposes ``run() -> list[dict]`` rows."""
