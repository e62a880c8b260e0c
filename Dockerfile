# The project's image: the API, the init one-shot (`etl init`, `etl seed`) and Dagster run from it.
# Build: docker compose build   (or: docker build -t wind-etl .)
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, pinned by the lock: this layer is rebuilt only when they change.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -c constraints.txt -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# Then the code, installed without touching the dependencies; the kernel papermill runs the ETL notebook in.
COPY README.md ./
COPY etl_lib ./etl_lib
COPY api ./api
COPY notebooks ./notebooks
RUN pip install --no-deps -e . \
 && python -c "from etl_lib.notebook.runner import ensure_kernel; ensure_kernel()"

# A non-root user; the folders it writes to (run reports, Dagster's home) are its own.
RUN useradd --create-home --uid 10001 app \
 && mkdir -p /home/app/runs /home/app/dagster \
 && chown -R app:app /home/app
USER app
ENV ETL_RUNS_DIR=/home/app/runs \
    DAGSTER_HOME=/home/app/dagster \
    ETL_API_HOST=0.0.0.0 \
    ETL_API_PORT=8765

EXPOSE 8765
# The same command `etl stack up` runs (etl_lib.stack.api_command); tests/test_deployment.py checks it.
CMD ["python", "-m", "uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8765", "--no-access-log", "--http", "api.server:GuardedHttpToolsProtocol", "--timeout-keep-alive", "5"]
