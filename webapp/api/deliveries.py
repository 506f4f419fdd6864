"""The API of the delivery ledger (``core.mail``): the deliveries of reports and alerts, a
rendered e-mail as an .eml file, and a retry of a failed one.

Analyst role. A user sees their own deliveries: those of their jobs, of their schedules'
jobs and of their alert rules' firings; an admin sees all (an alert's test sends, which
belong to no job and no firing, only an admin lists). Another user's delivery is a 404 (the
answer does not tell whether it exists). The .eml is the Reports page's "download the
.eml" link when mail goes to the outbox (no SMTP_HOST).

A retry is sent from this request (``mail.deliver``), so the answer says at once whether
it went; a failure is recorded as any other, and the minute sweep goes on retrying it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
from flask import send_file
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from core import mail
from core.orm import AlertFiring, AlertRule, Delivery, Job, ReportSchedule, User
from webapp import services
from webapp.api.payloads import Strict
from webapp.api.routing import ApiError, endpoint
from webapp.security import current_db_user, db_session

ROLE = "analyst"
LISTED = 200


# ---------------------------------------------------------------------- models
class DeliveryQuery(Strict):
    job_id: Annotated[str, Field(min_length=1, max_length=64,
                                 description="Only the deliveries of this job.")] | None = None
    firing_id: Annotated[int, Field(ge=1, le=2**31 - 1, description=(
        "Only the deliveries of this alert firing."))] | None = None


class DeliveryPath(Strict):
    delivery_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class DeliveryResponse(BaseModel):
    id: int
    job_id: str | None = Field(description="The report job it delivers, if any.")
    firing_id: int | None = Field(description="The alert firing it delivers, if any.")
    channel: str = Field(description="email or webhook.")
    recipient: str = Field(description="The address, or the webhook's URL.")
    status: str = Field(description="queued, rendered (being sent), sent or failed.")
    attempts: int
    last_error: str | None = Field(description="Why the last attempt failed.")
    created_at: str
    sent_at: str | None
    next_attempt_at: str | None = Field(description="When a failed delivery is tried again "
                                                    "(empty: failed for good).")


class DeliveryListResponse(BaseModel):
    deliveries: list[DeliveryResponse] = Field(description=f"Newest first, at most {LISTED}.")


# ---------------------------------------------------------------------- access
def _user() -> User:
    user = current_db_user()
    if user is None:
        raise ApiError(401, "Sign in first.")
    return user


def owned_by(user: User):
    """The condition "this delivery is ``user``'s" (their job, their schedule's job or
    their rule's firing)."""
    own_jobs = sa.select(Job.id).where(sa.or_(
        Job.user_id == user.id,
        Job.schedule_id.in_(sa.select(ReportSchedule.id).where(
            ReportSchedule.owner_id == user.id))))
    own_firings = sa.select(AlertFiring.id).join(
        AlertRule, AlertRule.id == AlertFiring.rule_id).where(AlertRule.owner_id == user.id)
    return sa.or_(Delivery.job_id.in_(own_jobs), Delivery.firing_id.in_(own_firings))


def _owned(session: Session, user: User, delivery_id: int) -> Delivery:
    query = sa.select(Delivery).where(Delivery.id == delivery_id)
    if not user.has_role("admin"):
        query = query.where(owned_by(user))
    delivery = session.scalar(query)
    if delivery is None:
        raise ApiError(404, f"There is no delivery {delivery_id}.")
    return delivery


# ---------------------------------------------------------------------- endpoints
@endpoint("GET", "/deliveries", role=ROLE, query=DeliveryQuery,
          response=DeliveryListResponse, errors=(400, 401, 403),
          summary="Your deliveries of reports and alerts (an admin sees all), newest first, "
                  "with their state, attempts, last error and next attempt.")
def get_deliveries(query: DeliveryQuery):
    session = db_session()
    user = _user()
    select = sa.select(Delivery).order_by(Delivery.id.desc()).limit(LISTED)
    if not user.has_role("admin"):
        select = select.where(owned_by(user))
    if query.job_id is not None:
        select = select.where(Delivery.job_id == query.job_id)
    if query.firing_id is not None:
        select = select.where(Delivery.firing_id == query.firing_id)
    return {"deliveries": [mail.delivery_to_dict(row) for row in session.scalars(select)]}


@endpoint("GET", "/deliveries/{delivery_id}/eml", role=ROLE, path_params=DeliveryPath,
          media_type="message/rfc822", errors=(401, 403, 404),
          summary="Download a delivery's rendered e-mail as an .eml file (owner or admin).")
def get_delivery_eml(path: DeliveryPath):
    delivery = _owned(db_session(), _user(), path.delivery_id)
    file = Path(delivery.message_path) if delivery.message_path else None
    if delivery.channel != "email" or file is None or file.suffix != ".eml" \
            or not file.is_file():
        raise ApiError(404, f"Delivery {delivery.id} has no e-mail file (not rendered yet, "
                            "or a webhook).")
    return send_file(file, mimetype="message/rfc822", as_attachment=True,
                     download_name=f"shoplens-delivery-{delivery.id}.eml")


@endpoint("POST", "/deliveries/{delivery_id}/retry", role=ROLE, path_params=DeliveryPath,
          response=DeliveryResponse, errors=(401, 403, 404, 409),
          summary="Send a failed delivery again now (owner or admin): its attempts start "
                  "over; the answer says whether it went.")
def post_delivery_retry(path: DeliveryPath):
    session = db_session()
    delivery = _owned(session, _user(), path.delivery_id)
    mail.reset_for_retry(delivery)
    session.commit()
    settings = services.settings()
    try:
        mail.deliver(settings, delivery.id)
    except mail.TRANSIENT_ERRORS:
        pass  # recorded in the ledger with its reason: the answer shows it
    session.expire_all()
    return mail.delivery_to_dict(session.get(Delivery, delivery.id))
