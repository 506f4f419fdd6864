"""The API of notes on the timeline (``core.annotations``): every role reads the notes its
data scope allows; analysts and admins write them; the writer (or an admin who can see it)
changes or deletes one, and to anyone else it is a 404, as if it did not exist. The
request and answer models live here, beside the endpoints that use them."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core import annotations
from webapp.api.payloads import Day, Deleted, Strict
from webapp.api.routing import ApiError, endpoint
from webapp.security import current_db_user, current_scope, db_session

_START = Field(description="The note's day, or the first day of its range (YYYY-MM-DD).")
_END = Field(None, description="The last day of a range; null (or the start) for one day.")
_TEXT = Field(description="What happened, at most 500 characters.")
Text = Annotated[str, Field(min_length=1, max_length=annotations.MAX_TEXT)]


class AnnotationQuery(Strict):
    start: Day | None = Field(None, description="Notes that reach this day or later.")
    end: Day | None = Field(None, description="Notes that begin on this day or earlier.")


class AnnotationRequest(Strict):
    start: Day = _START
    end: Day | None = _END
    text: Text = _TEXT


class AnnotationPatch(Strict):
    """The fields to change (``end``: null makes it a single day)."""
    start: Day | None = None
    end: Day | None = None
    text: Text | None = None


class AnnotationPath(Strict):
    annotation_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class AnnotationResponse(BaseModel):
    id: int
    start: str
    end: str | None
    text: str
    countries: list[str] | None = Field(description="The data scope it was written under "
                                                    "(null: all data).")
    owner: str | None
    created_at: str


class AnnotationListResponse(BaseModel):
    annotations: list[AnnotationResponse]


def _user():
    user = current_db_user()
    if user is None:
        raise ApiError(401, "Sign in first.")
    return user


def _mine(annotation_id: int):
    try:
        return annotations.get(db_session(), _user(), annotation_id, scope=current_scope())
    except annotations.AnnotationNotFound:
        raise ApiError(404, f"There is no note {annotation_id}.") from None


def _saved(row) -> dict:
    session = db_session()
    session.commit()
    session.refresh(row)
    return annotations.to_dict(row)


@endpoint("GET", "/annotations", role="viewer", query=AnnotationQuery,
          response=AnnotationListResponse, errors=(400, 401),
          summary="Notes on the timeline that touch start…end, within your data scope.")
def get_annotations(query: AnnotationQuery):
    if query.start and query.end and query.start > query.end:
        raise ApiError(400, f"start ({query.start}) is after end ({query.end}).")
    rows = annotations.listed(db_session(), current_scope(), query.start, query.end)
    return {"annotations": [annotations.to_dict(row) for row in rows]}


@endpoint("POST", "/annotations", role="analyst", body=AnnotationRequest,
          response=AnnotationResponse, success=201, errors=(400, 401, 403),
          summary="Add a note on a day or a range (shown to users whose scope holds yours).")
def post_annotation(body: AnnotationRequest):
    row = annotations.create(db_session(), _user(), body.start, body.end, body.text)
    return _saved(row)


@endpoint("PATCH", "/annotations/{annotation_id}", role="analyst", path_params=AnnotationPath,
          body=AnnotationPatch, response=AnnotationResponse, errors=(400, 401, 403, 404),
          summary="Change your note (an admin: any note they can see).")
def patch_annotation(path: AnnotationPath, body: AnnotationPatch):
    _mine(path.annotation_id)
    row = annotations.update(db_session(), _user(), path.annotation_id,
                             body.model_dump(exclude_unset=True), scope=current_scope())
    return _saved(row)


@endpoint("DELETE", "/annotations/{annotation_id}", role="analyst", path_params=AnnotationPath,
          response=Deleted, errors=(401, 403, 404),
          summary="Delete your note (an admin: any note they can see).")
def delete_annotation(path: AnnotationPath):
    _mine(path.annotation_id)
    session = db_session()
    annotations.delete(session, _user(), path.annotation_id, scope=current_scope())
    session.commit()
    return {"deleted": path.annotation_id}
