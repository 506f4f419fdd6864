"""The REST API endpoints. Every answer is computed under the caller's data scope
(``current_scope()``), which no filter can widen. Job answers were computed under the
scope their owner had at submission: a caller sees a job (owner or admin) only while that
scope lies inside the caller's current one, so narrowing a user's scope also hides their
older, wider results."""
from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable

import numpy as np
import pandas as pd
from flask import Response, send_file, stream_with_context

from analytics import (breakdowns, cache, cohorts, customers, filter_values, kpis, period,
                       products, quality, series, transactions)
from analytics.filters import Filters, Scope
from core import audit, job_kinds, jobs
from webapp import services
from webapp.api import payloads
from webapp.api.routing import ApiError, endpoint
from webapp.security import client_ip, current_db_user, current_scope, current_user, db_session


# ---------------------------------------------------------------------- helpers
def jsonable(value):
    """A cell of an analytics frame as JSON: NaN/NA → null, dates → ISO text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    columns = list(frame.columns)
    return [{name: jsonable(value) for name, value in zip(columns, row)}
            for row in frame.itertuples(index=False, name=None)]


def _view(query: payloads.FilterQuery) -> tuple[Filters, Scope]:
    """Resolved filters (both dates set, from the data; each value as the data writes it)
    and the caller's scope."""
    scope = current_scope()
    filters = period.resolve(services.warehouse(), _checked(query, scope))
    return filters, scope


def _checked(query: payloads.FilterQuery, scope: Scope | None = None) -> Filters:
    """The query's filters with each dimension value as the data writes it (matched
    ignoring case); a value no line in the caller's scope has is a 400 naming it and the
    closest values there are (``analytics.filter_values``)."""
    return filter_values.resolve(services.warehouse(), query.filters(),
                                 scope if scope is not None else current_scope())


def _period(filters: Filters) -> dict:
    return {"start": filters.start.isoformat(), "end": filters.end.isoformat()}


def _table(frame: pd.DataFrame, filters: Filters | None, scope: Scope, **extra) -> dict:
    answer = {"scope": str(scope), "columns": [str(c) for c in frame.columns],
              "rows": records(frame), **extra}
    if filters is not None:
        answer["period"] = _period(filters)
    return answer


def _analytics(fn: Callable, query: payloads.FilterQuery, **options) -> tuple:
    """(answer, resolved filters, scope): ``fn`` through the analytics cache, whose key
    holds the resolved filters, the scope and the data version."""
    filters, scope = _view(query)
    return cache.cached(fn)(services.warehouse(), filters, scope, **options), filters, scope


# ---------------------------------------------------------------------- reading
@endpoint("GET", "/me", role="viewer", summary="Who you are: role and data scope.",
          response=payloads.MeResponse, errors=(401,))
def me():
    return {"email": current_user.email, "name": current_user.name, "role": current_user.role,
            "scope": str(current_scope()),
            "countries": list(current_user.countries) if current_user.countries is not None
            else None,
            "authenticated_by": "token" if current_user.via_token else "session"}


@endpoint("GET", "/kpis", role="viewer", query=payloads.FilterQuery,
          response=payloads.KpiResponse, errors=(400, 401, 403, 404),
          summary="Every KPI of METRICS.md for the period and the period it is compared with "
                  "(compare: previous, last_year or custom).")
def get_kpis(query: payloads.FilterQuery):
    summary, _filters, scope = _analytics(kpis.kpi_summary, query)
    answer = summary.to_dict()
    answer["scope"] = str(scope)
    return answer


@endpoint("GET", "/timeseries", role="viewer", query=payloads.TimeSeriesQuery,
          response=payloads.TableResponse, errors=(400, 401, 403, 404),
          summary="Revenue, orders, units… per day, ISO week or month, with last year's.")
def get_timeseries(query: payloads.TimeSeriesQuery):
    frame, filters, scope = _analytics(series.time_series, query, grain=query.grain,
                                       history=query.history)
    return _table(frame, filters, scope, grain=query.grain)


@endpoint("GET", "/breakdown/{dimension}", role="viewer", query=payloads.BreakdownQuery,
          path_params=payloads.BreakdownPath, response=payloads.TableResponse,
          errors=(400, 401, 403, 404),
          summary="KPIs per value of a dimension (country, category, product, …).")
def get_breakdown(path: payloads.BreakdownPath, query: payloads.BreakdownQuery):
    frame, filters, scope = _analytics(breakdowns.breakdown, query, dimension=path.dimension,
                                       top=query.top, metric=query.metric)
    return _table(frame, filters, scope, dimension=path.dimension)


@endpoint("GET", "/products/top", role="viewer", query=payloads.TopProductsQuery,
          response=payloads.TableResponse, errors=(400, 401, 403, 404),
          summary="The products with the highest net revenue.")
def get_top_products(query: payloads.TopProductsQuery):
    frame, filters, scope = _analytics(products.top_products, query, n=query.n)
    return _table(frame, filters, scope)


@endpoint("GET", "/customers/rfm", role="viewer", query=payloads.FilterQuery,
          response=payloads.TableResponse, errors=(400, 401, 403, 404),
          summary="RFM segments: customers, revenue and means per segment.")
def get_rfm(query: payloads.FilterQuery):
    frame, filters, scope = _analytics(customers.rfm_segments, query)
    return _table(frame, filters, scope)


@endpoint("GET", "/customers", role="viewer", query=payloads.CustomersQuery,
          response=payloads.PageResponse, errors=(400, 401, 403, 404),
          summary="One page of the RFM customer list.")
def get_customers(query: payloads.CustomersQuery):
    (frame, total), filters, scope = _analytics(
        customers.customers_page, query, sort=query.sort, descending=query.descending,
        page=query.page, page_size=query.page_size)
    return _table(frame, filters, scope, total=total, page=query.page,
                  page_size=query.page_size)


@endpoint("GET", "/customers.csv", role="analyst", query=payloads.CustomersCsvQuery,
          media_type="text/csv", errors=(400, 401, 403, 404),
          summary="The whole RFM customer list as CSV (an export: analyst role, audited). "
                  "Cells that a spreadsheet would run as a formula are neutralised.")
def get_customers_csv(query: payloads.CustomersCsvQuery):
    filters, scope = _view(query)
    warehouse = services.warehouse()

    def pages():
        """The list in pages of the largest size, each page's CSV rows (the header
        first): the list is never held whole, and page 1 runs before the 200 is sent."""
        number = 1
        while True:
            frame, total = customers.customers_page(
                warehouse, filters, scope, sort=query.sort, descending=query.descending,
                page=number, page_size=customers.MAX_CUSTOMER_PAGE_SIZE)
            yield transactions.csv_rows(frame, header=number == 1)
            if number * customers.MAX_CUSTOMER_PAGE_SIZE >= total:
                return
            number += 1

    segment = re.sub(r"[^A-Za-z0-9]+", "-", filters.segment or "all").strip("-") or "segment"
    return _csv_export(pages(), "customers.csv", filters, scope,
                       f"customers_{segment}_{filters.start}_{filters.end}.csv")


@endpoint("GET", "/cohorts", role="viewer", query=payloads.CohortQuery,
          response=payloads.TableResponse, errors=(400, 401, 403, 404),
          summary="Monthly cohorts: retention by customers or by net revenue (long form); "
                  "a period under six months is widened to the 12 months ending with it "
                  "(the answer's period).")
def get_cohorts(query: payloads.CohortQuery):
    frame, filters, scope = _analytics(cohorts.period_cohorts, query, measure=query.measure,
                                       max_offset=query.max_offset)
    return _table(frame, cohorts.cohort_period(filters), scope, measure=query.measure)


@endpoint("GET", "/transactions", role="viewer", query=payloads.TransactionsQuery,
          response=payloads.PageResponse, errors=(400, 401, 403, 404),
          summary="One page of line items matching the filters.")
def get_transactions(query: payloads.TransactionsQuery):
    (frame, total), filters, scope = _analytics(
        transactions.transactions_page, query, sort=query.sort_keys(), page=query.page,
        page_size=query.page_size, search=query.search)
    return _table(frame, filters, scope, total=total, page=query.page,
                  page_size=query.page_size)


@endpoint("GET", "/transactions.csv", role="analyst", query=payloads.TransactionsCsvQuery,
          media_type="text/csv", errors=(400, 401, 403, 404),
          summary="Every matching line item as CSV (an export: analyst role, audited). "
                  "Cells that a spreadsheet would run as a formula are neutralised.")
def get_transactions_csv(query: payloads.TransactionsCsvQuery):
    filters, scope = _view(query)
    chunks = transactions.transactions_csv(services.warehouse(), filters, scope,
                                           sort=query.sort_keys(), search=query.search)
    return _csv_export(chunks, "transactions.csv", filters, scope,
                       f"transactions_{filters.start}_{filters.end}.csv",
                       search=query.search)


def _csv_export(chunks, target: str, filters, scope, filename: str, **detail) -> Response:
    """Stream an export's CSV chunks as a download, after one audit event (``export`` of
    ``target`` with the filters, the scope and how the caller signed in). The first chunk
    is computed before the 200 is sent, so a bad parameter still gets its 400."""
    first = next(chunks)
    db = db_session()
    audit.record(db, "export", actor=current_db_user(), target=target,
                 detail={"filters": filters.to_dict(), "scope": scope.key(), **detail,
                         "via": "token" if current_user.via_token else "session"},
                 ip=client_ip())
    db.commit()

    def body():
        yield first
        yield from chunks

    return Response(stream_with_context(body()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@endpoint("GET", "/quality", role="viewer", response=payloads.QualityResponse,
          errors=(401, 403, 404),
          summary="Data-quality summary of the current data version (all data: only for "
                  "accounts without a data scope).")
def get_quality():
    if not current_scope().is_all:
        raise ApiError(403, "The data-quality summary covers all data; your account is "
                            f"limited to {current_scope()}.")
    return quality.quality_summary(services.warehouse())


# ---------------------------------------------------------------------- jobs and reports
def _job_user():
    user = current_db_user()
    if user is None:
        raise ApiError(401, "Sign in first.")
    return user


def _start(job) -> dict:
    """Commit the new job, then send it to the queue (never before the commit)."""
    db = db_session()
    db.commit()
    jobs.enqueue(services.settings(), job.id)  # QueueUnavailable: 503, with its message
    db.refresh(job)
    return jobs.job_to_dict(job)


@endpoint("POST", "/jobs", role="analyst", body=payloads.JobRequest,
          response=payloads.JobResponse, success=202, errors=(400, 401, 403, 404, 503),
          summary="Start a job: " + ", ".join(job_kinds.api_names()) + " (404: the "
                  "dashboard of a dashboard_report is not one you may open).")
def post_job(body: payloads.JobRequest):
    db = db_session()
    params = {"filters": _checked(body.filters), "options": body.options}
    job = jobs.submit_job(db, _job_user(), body.kind, params, settings=services.settings())
    return _start(job)


@endpoint("GET", "/jobs", role="viewer", response=payloads.JobListResponse, errors=(401,),
          summary="Your newest jobs (an admin sees everybody's), within your data scope.")
def get_jobs():
    return {"jobs": [jobs.job_to_dict(job) for job in jobs.list_jobs(db_session(), _job_user())]}


def _owned_job(job_id: str):
    """The job for its owner or an admin, within the caller's scope; 404 otherwise (the
    answer does not tell whether the job exists)."""
    try:
        job = jobs.get_job(db_session(), _job_user(), job_id)
    except (jobs.JobNotFound, jobs.JobAccessDenied):
        raise ApiError(404, f"There is no job {job_id}.") from None
    return job


@endpoint("GET", "/jobs/{job_id}", role="viewer", path_params=payloads.JobPath,
          response=payloads.JobResponse, errors=(401, 404),
          summary="A job's status, progress and result (owner or admin).")
def get_job(path: payloads.JobPath):
    return jobs.job_to_dict(_owned_job(path.job_id))


@endpoint("POST", "/jobs/{job_id}/cancel", role="viewer", path_params=payloads.JobPath,
          response=payloads.JobResponse, errors=(401, 404, 409),
          summary="Cancel a queued or running job (owner or admin); 409 once it finished.")
def cancel_job(path: payloads.JobPath):
    db = db_session()
    job = _owned_job(path.job_id)
    jobs.cancel_job(db, _job_user(), job.id)
    db.commit()
    return jobs.job_to_dict(job)


@endpoint("GET", "/jobs/{job_id}/result", role="viewer", path_params=payloads.JobPath,
          media_type="application/octet-stream", errors=(401, 404),
          summary="Download a finished job's file (owner or admin; audited).")
def get_job_result(path: payloads.JobPath):
    job = _owned_job(path.job_id)
    file = jobs.result_path(job, services.settings())
    if file is None:
        raise ApiError(404, "This job has no file to download (yet).")
    db = db_session()
    audit.record(db, "export", actor=current_db_user(), target=f"job:{job.id}",
                 detail={"kind": job.kind, "file": file.name}, ip=client_ip())
    db.commit()
    return send_file(file, as_attachment=True, download_name=file.name)


def _scored_customers(job_id: str, query: payloads.ScoredCustomersQuery, target: str):
    """A finished churn job's scored customers for its owner or an admin, within the
    caller's current scope (``_owned_job``), filtered by the query; one audit event."""
    from analytics.models.scored import scored_frame

    job = _owned_job(job_id)
    if job.kind != "churn":
        raise ApiError(404, f"Job {job_id} is not a churn job: it has no scored customers.")
    if job.status != "done" or not job.result:
        raise ApiError(404, f"Job {job_id} has no scored customers (yet).")
    frame = scored_frame(job.result, risk=query.risk, value=query.value)
    db = db_session()
    audit.record(db, "export", actor=current_db_user(), target=target,
                 detail={"job": job.id, "scope": job.scope, "risk": query.risk,
                         "value": query.value, "rows": len(frame),
                         "via": "token" if current_user.via_token else "session"},
                 ip=client_ip())
    db.commit()
    name = "_".join(["churn", *(f"{v}-{k}" for k, v in (("risk", query.risk),
                                                        ("value", query.value)) if v),
                     str(job.id)[:8]])
    return frame, name


@endpoint("GET", "/jobs/{job_id}/customers.csv", role="analyst",
          path_params=payloads.JobPath, query=payloads.ScoredCustomersQuery,
          media_type="text/csv", errors=(400, 401, 403, 404),
          summary="A churn job's scored customers (churn risk, predicted 12-month value, "
                  "P(alive)) as CSV, optionally only one risk / value tier (an export: "
                  "analyst role, owner or admin, within your scope, audited). Cells that a "
                  "spreadsheet would run as a formula are neutralised.")
def get_scored_customers_csv(path: payloads.JobPath, query: payloads.ScoredCustomersQuery):
    frame, name = _scored_customers(path.job_id, query, "churn_customers.csv")
    return Response(transactions.csv_rows(frame, header=True), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@endpoint("GET", "/jobs/{job_id}/customers.xlsx", role="analyst",
          path_params=payloads.JobPath, query=payloads.ScoredCustomersQuery,
          media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
          errors=(400, 401, 403, 404),
          summary="The same list as an Excel workbook (same rules as the CSV).")
def get_scored_customers_xlsx(path: payloads.JobPath, query: payloads.ScoredCustomersQuery):
    import io

    from openpyxl import Workbook

    frame, name = _scored_customers(path.job_id, query, "churn_customers.xlsx")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("customers")
    sheet.append(list(frame.columns))
    for row in transactions.neutralise_frame(frame).itertuples(index=False, name=None):
        sheet.append([jsonable(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return Response(buffer.getvalue(), mimetype="application/vnd.openxmlformats-"
                    "officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})


@endpoint("POST", "/reports", role="analyst", body=payloads.ReportRequest,
          response=payloads.JobResponse, success=202, errors=(400, 401, 403, 503),
          summary="Request a PDF or Excel report of the filters (under your scope).")
def post_report(body: payloads.ReportRequest):
    db = db_session()
    job = jobs.request_report(db, _job_user(), format=body.format, email=body.email,
                              filters=_checked(body.filters))
    return _start(job)
