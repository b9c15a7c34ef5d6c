# Two commands on a fresh machine: `make compare` (the main job) and `make test`.
# Every target sets up what it needs: a venv with the pinned requirements, the generated gRPC code,
# and (for tests) PostgreSQL and RabbitMQ when this machine has them installed but stopped.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.requirements.stamp
GEN    := proto/generated
VARIANT ?= direct-monolith
PORT   ?= 8000
QUICK  ?=
PYTEST_ARGS ?=

.PHONY: setup proto services test run compare diff lint deploy-config clean

setup: $(STAMP) proto

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

proto: $(GEN)/monitoring_pb2.py

$(GEN)/monitoring_pb2.py: proto/monitoring.proto $(STAMP)
	@mkdir -p $(GEN)
	@# -I$(GEN)=proto maps the file to the virtual path proto/generated/monitoring.proto, so the generated
	@# _grpc module imports "from proto.generated import monitoring_pb2" (a package import, no sys.path edits).
	@$(PY) -m grpc_tools.protoc -I$(GEN)=proto --python_out=. --pyi_out=. --grpc_python_out=. $(GEN)/monitoring.proto
	@touch $@

services:
	@bash .ci/start-services

test: setup services
	$(PY) -m pytest tests $(PYTEST_ARGS)

run: setup
	@exec $(PY) -m harness.launcher run $(VARIANT) --port $(PORT)

compare: setup
	@$(BIN)/python -m loadtest.compare $(if $(QUICK),--quick)

diff: setup
	@$(PY) -m loadtest.migration_diff

deploy-config: setup
	@$(PY) -m harness.deploy

lint: setup
	@$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(GEN) var .pytest_cache
