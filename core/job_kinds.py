"""Every kind of background job, declared once.

A ``JobKind`` says who may start the job, where it runs, how long it may take, which
options it accepts and what runs it. Everything else is built from these declarations:
``core.jobs`` (validation, role check, queue and time limits of ``enqueue``), the workers
(``workers.handlers`` resolves ``runner``), the REST API (the ``JobKind`` enum of the OpenAPI
document lists the kinds ``in_api``) and the dashboard (labels). Adding a kind of job is one
``register(JobKind(...))`` here, plus its runner function.

The runner is named by a dotted path (``"package.module:function"``) and imported only by the
worker that runs the job, so importing this table (as the web process does) never imports
Prophet, XGBoost or the workers' modules. A runner is called as ``runner(settings, spec)``
with the ``core.jobs.JobSpec`` of the job and returns the outcome: ``{"result": dict,
"path": Path, "data_version": int, "message": str}`` (each optional).
"""
from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic

from analytics.models.params import (AnomalyParams, BasketParams, ChurnParams,
                                     ClusteringParams, ForecastParams)
from core.orm import ROLES
from data import formats, traffic
from data.readers import MappingError, parse_mapping

#: Celery queues, one per kind of work (workers can be scaled per queue).
QUEUES = ("interactive", "reports", "loads")

MINUTE = 60
MAX_MAPPING_CHARS = 20_000


# ----------------------------------------------------------------- options
class Options(pydantic.BaseModel):
    """Options of a job kind: unknown options are refused, naming them."""
    model_config = pydantic.ConfigDict(extra="forbid")


class ReportOptions(Options):
    email: bool = False


class ScheduledReportOptions(Options):
    """A schedule's report: "both" renders the PDF and the Excel file in one job (one
    e-mail with two attachments)."""
    format: Literal["pdf", "xlsx", "both"]
    schedule_id: int
    title: Annotated[str, pydantic.Field(max_length=200)] | None = None
    email: bool = True
    # the schedule follows this saved view: its filters are read when the job runs
    saved_view_id: int | None = None
    # without dates, the run covers the data's latest N days (the schedule's cadence)
    period_days: Annotated[int, pydantic.Field(ge=1, le=366)] | None = None


class DigestOptions(Options):
    """A schedule's weekly digest (``core.digest``): an HTML e-mail, no file."""
    schedule_id: int
    title: Annotated[str, pydantic.Field(max_length=200)] | None = None
    email: bool = True
    saved_view_id: int | None = None


class DashboardReportOptions(Options):
    """A dashboard as a PDF (``core.dashboard_content``), under the job's data scope and
    its user's role: requested by a user who may open the dashboard, or a schedule's run
    for one recipient (``schedule_id``; e-mailed)."""
    dashboard_id: Annotated[int, pydantic.Field(ge=1, le=2**31 - 1)]
    schedule_id: int | None = None
    title: Annotated[str, pydantic.Field(max_length=200)] | None = None
    email: bool = False


class LoadOptions(Options):
    """``path`` is stored resolved; it must be a file of the uploads folder (a load never
    reads any other path on the host). ``force`` (unset: false, and not stored) lets a
    replacing load publish although it keeps far fewer lines than the current version or
    rejects many (data.loader)."""
    path: Annotated[str, pydantic.Field(min_length=1, max_length=500)]
    format: Literal[formats.CHOICES] = "online-retail"  # type: ignore[valid-type]
    mapping: dict[Annotated[str, pydantic.Field(max_length=100)], Any] | None = None
    append: bool = False
    force: bool | None = None

    @pydantic.field_validator("mapping")
    @classmethod
    def _valid_mapping(cls, mapping: dict | None) -> dict | None:
        """A whole mapping (docs/mapping.md: "columns" and options), or only its columns
        (our field → the file's column): checked here, so that a bad one is a 400 naming
        the problem, not a failed job. Stored as a whole mapping."""
        if mapping is None:
            return None
        if len(json.dumps(mapping)) > MAX_MAPPING_CHARS:
            raise ValueError(f"the mapping is longer than {MAX_MAPPING_CHARS:,} characters")
        whole = mapping if "columns" in mapping else {"columns": mapping}
        try:
            parse_mapping(whole)
        except MappingError as exc:
            raise ValueError(str(exc)) from None
        return whole

    @pydantic.field_validator("path")
    @classmethod
    def _in_uploads(cls, path: str, info: pydantic.ValidationInfo) -> str:
        return _uploaded_file(path, info)


def _uploaded_file(path: str, info: pydantic.ValidationInfo) -> str:
    """``path`` resolved, if it is a file of the uploads folder (else a ValueError)."""
    settings = (info.context or {}).get("settings")
    if settings is None:
        from core.settings import load_settings
        settings = load_settings()
    uploads = settings.uploads.resolve()
    candidate = Path(path)
    resolved = (candidate if candidate.is_absolute() else uploads / candidate).resolve()
    if not resolved.is_relative_to(uploads):
        raise ValueError("a data load reads files from the uploads folder only")
    if not resolved.is_file():
        raise ValueError(f"the uploaded file {candidate.name!r} does not exist")
    return str(resolved)


class TrafficLoadOptions(Options):
    """A sessions or ad-spend file of the uploads folder (``data.traffic``), its preset
    and, for "generic", its column mapping (docs/marketing.md); ``force`` publishes an ad
    file despite rejected lines or another currency."""
    path: Annotated[str, pydantic.Field(min_length=1, max_length=500)]
    mapping: dict[Annotated[str, pydantic.Field(max_length=100)], Any] | None = None

    @pydantic.field_validator("path")
    @classmethod
    def _in_uploads(cls, path: str, info: pydantic.ValidationInfo) -> str:
        return _uploaded_file(path, info)

    @pydantic.field_validator("mapping")
    @classmethod
    def _short_mapping(cls, mapping: dict | None) -> dict | None:
        if mapping is not None and len(json.dumps(mapping)) > MAX_MAPPING_CHARS:
            raise ValueError(f"the mapping is longer than {MAX_MAPPING_CHARS:,} characters")
        return mapping


class SessionsLoadOptions(TrafficLoadOptions):
    format: Literal[traffic.SESSION_FORMATS] = "ga4"  # type: ignore[valid-type]


class AdsLoadOptions(TrafficLoadOptions):
    format: Literal[traffic.AD_FORMATS]  # type: ignore[valid-type]
    force: bool | None = None


# ----------------------------------------------------------------- the declaration
@dataclasses.dataclass(frozen=True)
class JobKind:
    """One kind of background job.

    ``stores_defaults``: the Job row keeps every option with its default filled in (False:
    only the options the user set, so a model's own defaults stay the model's).
    ``in_api``: ``POST /api/v1/jobs`` accepts it. ``requested_by_users``: False for jobs
    only the system starts (a schedule's run). ``authorize``: ``"module:function"`` called
    as ``function(session, user, options)`` when a user requests the job, beyond the role
    (e.g. that they may open the dashboard the options name); it raises a domain error.
    """
    name: str
    label: str
    options: type[pydantic.BaseModel]
    runner: str
    role: str = "analyst"
    queue: str = "interactive"
    soft_time_limit: int = 15 * MINUTE
    time_limit: int = 16 * MINUTE
    stores_defaults: bool = True
    in_api: bool = False
    requested_by_users: bool = True
    authorize: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"job kind {self.name}: role must be one of {ROLES}")
        if self.queue not in QUEUES:
            raise ValueError(f"job kind {self.name}: queue must be one of {QUEUES}")
        if not 0 < self.soft_time_limit < self.time_limit:
            raise ValueError(f"job kind {self.name}: the soft time limit must be positive "
                             "and below the hard one")
        module, _, function = self.runner.partition(":")
        if not module or not function:
            raise ValueError(f"job kind {self.name}: runner must be 'module:function'")

    def load_runner(self) -> Callable:
        """The runner function (imports its module: call it on the worker only)."""
        module, _, function = self.runner.partition(":")
        return getattr(importlib.import_module(module), function)

    def check_access(self, session, user, options: dict) -> None:
        """Run ``authorize`` (when declared) for ``user`` requesting the job."""
        if self.authorize:
            module, _, function = self.authorize.partition(":")
            getattr(importlib.import_module(module), function)(session, user, options)

    def parse_options(self, options: dict, settings=None) -> dict:
        """Validate ``options`` and return their stored (JSON) form; raises
        ``pydantic.ValidationError``. Validators find ``settings`` in their context."""
        parsed = self.options.model_validate(options, context={"settings": settings})
        if self.stores_defaults:
            return parsed.model_dump(mode="json", exclude_none=True)
        return parsed.model_dump(mode="json", exclude_unset=True)


_KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    """Add ``kind`` to the table (a name is declared once)."""
    if kind.name in _KINDS:
        raise ValueError(f"the job kind {kind.name!r} is declared already")
    _KINDS[kind.name] = kind
    return kind


def get(name: str) -> JobKind | None:
    return _KINDS.get(name)


def all_kinds() -> Iterator[JobKind]:
    return iter(tuple(_KINDS.values()))


def names() -> tuple[str, ...]:
    return tuple(_KINDS)


def api_names() -> tuple[str, ...]:
    """The kinds ``POST /api/v1/jobs`` accepts."""
    return tuple(kind.name for kind in _KINDS.values() if kind.in_api)


# ----------------------------------------------------------------- the kinds
MODEL_RUNNER = "workers.handlers:run_model_job"
REPORT_RUNNER = "workers.handlers:run_report_job"
#: Schedules' runners (one job may render two files; the digest is an e-mail).
SCHEDULE_RUNNERS = "workers.schedule_runners"

register(JobKind("forecast", "forecast", ForecastParams, MODEL_RUNNER, stores_defaults=False,
                 in_api=True))
register(JobKind("clustering", "customer segmentation", ClusteringParams, MODEL_RUNNER,
                 stores_defaults=False, in_api=True))
register(JobKind("churn", "churn prediction", ChurnParams, MODEL_RUNNER,
                 stores_defaults=False, in_api=True))
register(JobKind("anomalies", "anomaly detection", AnomalyParams, MODEL_RUNNER,
                 stores_defaults=False, in_api=True))
register(JobKind("basket", "basket analysis", BasketParams, MODEL_RUNNER,
                 stores_defaults=False, in_api=True))
register(JobKind("report_pdf", "PDF report", ReportOptions, REPORT_RUNNER, queue="reports",
                 soft_time_limit=10 * MINUTE, time_limit=11 * MINUTE))
register(JobKind("report_xlsx", "Excel report", ReportOptions, REPORT_RUNNER,
                 queue="reports", soft_time_limit=10 * MINUTE, time_limit=11 * MINUTE))
register(JobKind("scheduled_report", "scheduled report", ScheduledReportOptions,
                 f"{SCHEDULE_RUNNERS}:run_scheduled_report", queue="reports",
                 soft_time_limit=10 * MINUTE, time_limit=11 * MINUTE,
                 requested_by_users=False))
register(JobKind("digest", "weekly digest", DigestOptions,
                 f"{SCHEDULE_RUNNERS}:run_digest_job", role="viewer", queue="reports",
                 soft_time_limit=10 * MINUTE, time_limit=11 * MINUTE,
                 requested_by_users=False))
register(JobKind("dashboard_report", "dashboard PDF", DashboardReportOptions,
                 f"{SCHEDULE_RUNNERS}:run_dashboard_report", queue="reports",
                 soft_time_limit=10 * MINUTE, time_limit=11 * MINUTE, in_api=True,
                 authorize="core.dashboards:authorize_report"))
register(JobKind("data_load", "data load", LoadOptions, "workers.handlers:run_load_job",
                 role="admin", queue="loads", soft_time_limit=60 * MINUTE,
                 time_limit=62 * MINUTE, in_api=True))
TRAFFIC_RUNNERS = "workers.traffic_runner"
register(JobKind("sessions_load", "sessions load", SessionsLoadOptions,
                 f"{TRAFFIC_RUNNERS}:run_sessions_load_job", role="admin", queue="loads",
                 soft_time_limit=30 * MINUTE, time_limit=32 * MINUTE))
register(JobKind("ads_load", "ad spend load", AdsLoadOptions,
                 f"{TRAFFIC_RUNNERS}:run_ads_load_job", role="admin", queue="loads",
                 soft_time_limit=30 * MINUTE, time_limit=32 * MINUTE))
