"""The API of in-app notifications (``core.notifications``): what the navbar bell shows.
Every signed-in user (viewers too) reads and marks only their own; another user's ids are
ignored, never marked."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core import notifications
from webapp.api.payloads import Strict
from webapp.api.routing import ApiError, endpoint
from webapp.security import current_db_user, db_session

ROLE = "viewer"


class NotificationResponse(BaseModel):
    id: int
    kind: str = Field(description="alert, job or delivery")
    title: str
    body: str | None
    link: str | None = Field(description="Where it leads in the app (/alerts?firing=12).")
    ref: str | None
    created_at: str
    read: bool


class NotificationListResponse(BaseModel):
    notifications: list[NotificationResponse] = Field(description="Newest first.")
    unread: int = Field(description="How many of yours are unread (all of them, not only "
                                    "those listed).")


class MarkReadRequest(Strict):
    """The ids to mark read; without ``ids``, all of yours."""
    ids: Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]],
                   Field(max_length=1000)] | None = None


class MarkReadResponse(BaseModel):
    marked: int = Field(description="How many of yours changed to read.")
    unread: int


def _user():
    user = current_db_user()
    if user is None:
        raise ApiError(401, "Sign in first.")
    return user


@endpoint("GET", "/notifications", role=ROLE, response=NotificationListResponse,
          errors=(401,), summary="Your newest notifications (alert firings, finished jobs, "
                                 "failed deliveries), newest first, and how many are unread.")
def get_notifications():
    session, user = db_session(), _user()
    return {"notifications": [notifications.to_dict(note)
                              for note in notifications.recent(session, user)],
            "unread": notifications.unread_count(session, user)}


@endpoint("POST", "/notifications/read", role=ROLE, body=MarkReadRequest,
          response=MarkReadResponse, errors=(400, 401),
          summary="Mark some of your notifications read (ids), or all of them ({}).")
def mark_notifications_read(body: MarkReadRequest):
    session, user = db_session(), _user()
    marked = notifications.mark_read(session, user, body.ids)
    session.commit()
    return {"marked": marked, "unread": notifications.unread_count(session, user)}
