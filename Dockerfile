# syntax=docker/dockerfile:1
# One image for every process of every variant (harness/topology.py): docker-compose.yml and the k8s
# Deployments choose the process with their command. Build: docker build -t monitoring:dev .
# Runs as the unprivileged user 10001 and works with a read-only root filesystem (writes only to /tmp
# and DATA_DIR=/data).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build: dependencies and generated code
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements.in requirements.txt ./
# The runtime dependencies of requirements.in, every version (transitive ones too) pinned by requirements.txt.
# Left out: the protobuf compiler (used below, in a venv of its own) and the developer tools (load
# harness, charts, test runner, linters, manifest validation); tests/deploy checks the services import none of them.
RUN grep -vE '^(grpcio-tools|locust|matplotlib|pytest|ruff|mypy|kubernetes-validate)==' requirements.in > requirements-runtime.in \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install -r requirements-runtime.in -c requirements.txt \
 && python -m venv /opt/protoc \
 && /opt/protoc/bin/pip install -c requirements.txt grpcio-tools
# Protobuf/gRPC code generated at build time, exactly as `make proto` does (never committed).
COPY proto/ proto/
RUN rm -rf proto/generated && mkdir -p proto/generated \
 && /opt/protoc/bin/python -m grpc_tools.protoc -Iproto/generated=proto --python_out=. --pyi_out=. --grpc_python_out=. proto/generated/monitoring.proto
COPY shared/ shared/
COPY direct_calls/ direct_calls/
COPY event_driven/ event_driven/
COPY direct_plain/ direct_plain/
COPY event_plain/ event_plain/
# Bytecode compiled now: the root filesystem is read-only at run time.
RUN python -m compileall -q shared direct_calls event_driven direct_plain event_plain proto

# ---------------------------------------------------------------- runtime: no compiler, no pip cache, no root
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/data
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app \
 && install -d -o 10001 -g 10001 -m 0750 /data
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/shared shared
COPY --from=build /src/direct_calls direct_calls
COPY --from=build /src/event_driven event_driven
COPY --from=build /src/direct_plain direct_plain
COPY --from=build /src/event_plain event_plain
COPY --from=build /src/proto proto
USER 10001:10001
EXPOSE 8000 8080 50051
# The api of direct-monolith (this line is kept equal to the topology by `python -m harness.deploy`);
# every other process is chosen by the command of its compose service / Deployment.
CMD ["python", "-m", "gunicorn", "--bind", "0.0.0.0:8000", "--workers", "1", "--worker-class", "gthread", "--threads", "16", "--graceful-timeout", "5", "--timeout", "60", "--no-control-socket", "--limit-request-line", "8190", "--config", "python:shared.gunicorn_conf", "direct_calls.monolith.wsgi:create_app()"]
