"""How the dashboard shows an error, in one place.

Pages turn the errors they expect into their own empty states (``context.Unavailable``,
``jobs_ui.JobUnavailable``: both ``ShoplensError``s). Any other error that escapes a
callback reaches ``on_callback_error``, Dash's ``on_error`` for every callback of the app:
the callback's outputs stay as they were and the shell's alert (``alert()``, id
``ERROR_ALERT_ID``) says what happened — a ``ShoplensError``'s own message (it is written
for the user), or, for anything else, ``INTERNAL_ERROR`` while the exception is logged
(its text may name paths, SQL or other users' data).
"""
from __future__ import annotations

import logging

import dash
import dash_bootstrap_components as dbc

from analytics.errors import ShoplensError

log = logging.getLogger(__name__)

ERROR_ALERT_ID = "shell-error"
INTERNAL_ERROR = "Something went wrong on the server; the error is logged. Try again later."


def user_message(error: BaseException) -> str:
    """What the user reads about ``error``."""
    if isinstance(error, ShoplensError):
        return error.message
    return INTERNAL_ERROR


def on_callback_error(error: Exception) -> None:
    """Dash's ``on_error``: show the error in the shell's alert, log it unless it is a
    ``ShoplensError``; returning None leaves every output of the callback unchanged."""
    if isinstance(error, ShoplensError):
        log.info("dashboard callback refused: %s", error.message)
    else:
        log.error("dashboard callback failed", exc_info=error)
    dash.set_props(ERROR_ALERT_ID, {"children": user_message(error), "is_open": True})


def alert() -> dbc.Alert:
    """The alert ``on_callback_error`` fills; the shell places it once above the page."""
    return dbc.Alert(id=ERROR_ALERT_ID, is_open=False, dismissable=True, color="warning",
                     className="small py-2 mb-2")
