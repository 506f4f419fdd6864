# Shoplens: one image for the web server, the Celery workers and beat (see docker-compose.yml
# and docs/deployment.md). Settings come from the environment (core/settings.py).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SHOPLENS_HOME=/data

# libgomp: OpenMP runtime of XGBoost and scikit-learn (Prophet's Stan binaries ship in the wheel)
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# the runtime lock only: pytest, selenium & co. (requirements-dev.lock) stay out of the image
COPY requirements.lock .
RUN pip install -r requirements.lock && pip check

COPY . .
# the project itself, editable in place (its dependencies came from the lock above), and /app
# on the path: `celery -A celery_app worker` puts the working directory on sys.path only while
# it imports the app, and a job imports `data` later
RUN pip install --no-deps -e .
ENV PYTHONPATH=/app
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin shoplens \
    && mkdir -p /data \
    && chown shoplens:shoplens /data
USER shoplens
VOLUME ["/data"]
EXPOSE 8050

# workers, worker class, keep-alive, timeout and access log: gunicorn.conf.py (measured)
CMD ["gunicorn", "wsgi:server", "--bind", "0.0.0.0:8050"]
