"""Callbacks declared where their components are, attached to every Dash app built.

A module is imported once, but tests and workers may build several apps in one process,
so the shell's modules (shell, chips, saved views) do not use ``dash.callback`` (one
global list, consumed by the first app): each keeps a ``Callbacks`` and attaches it in its
``register_callbacks(app)``.
"""
from __future__ import annotations

from collections.abc import Callable

import dash


class Callbacks:
    """``@callbacks.callback(Output(...), Input(...))`` remembers a callback;
    ``callbacks.register(app)`` attaches all of them to ``app``."""

    def __init__(self) -> None:
        self._declared: list[tuple[tuple, dict, Callable]] = []

    def callback(self, *args, **kwargs) -> Callable[[Callable], Callable]:
        def remember(function: Callable) -> Callable:
            self._declared.append((args, kwargs, function))
            return function
        return remember

    def register(self, app: dash.Dash) -> None:
        for args, kwargs, function in self._declared:
            app.callback(*args, **kwargs)(function)
