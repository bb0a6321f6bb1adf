# syntax=docker/dockerfile:1
# Build stage: wheels for the app and its runtime dependencies only (no dev extra).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Exactly the locked versions, hashes checked (make lock); the app itself without deps,
# built by the locked backend (no build isolation: nothing unpinned is downloaded).
COPY requirements/runtime.lock requirements/build.lock ./requirements/
RUN pip wheel --wheel-dir /wheels --require-hashes -r requirements/runtime.lock \
    && pip install --require-hashes -r requirements/build.lock
COPY pyproject.toml README.md ./
# The gateway package only: sandbox/, bench/ and tests/ never enter the image.
COPY app ./app
RUN pip wheel --wheel-dir /wheels --no-deps --no-build-isolation .

# Runtime stage: slim, non-root, no compilers, no dev tools.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 APP_ENV=production
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /srv --shell /usr/sbin/nologin gateway
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels fintech-gateway \
    && rm -rf /wheels
WORKDIR /srv
RUN mkdir -p /srv/var && chown gateway:gateway /srv/var
USER gateway
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
# Schema changes are applied by a separate `python -m app migrate` step (a release job),
# never implicitly by every replica in production. The gateway writes its own JSON line
# per request (app/telemetry/requests.py), so uvicorn's plain-text access log is off.
# uvicorn's httptools protocol bounds neither the request head's size nor the time a client
# takes to send it: app/serve/guard.py is that protocol with both (431, 408).
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", \
     "--loop", "uvloop", "--http", "app.serve.guard:GuardedHttpToolsProtocol", \
     "--proxy-headers", "--no-server-header", "--no-access-log"]
