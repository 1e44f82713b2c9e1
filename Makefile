# protocol-qa: two commands from a fresh clone.
#   make run   set up .venv, build the index from corpus/ if missing or stale, serve http://localhost:8501
#   make test  the same set-up plus the dev extras, then the whole test suite

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTOCOL_QA_PORT ?= 8501
PROTOCOL_QA_ADDRESS ?= localhost
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test install index system-packages clean-index

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first and pinned: an unpinned torch pulls a CUDA build of several GB.
# Then the encoder is rebuilt from its delta (models/encoder/delta.safetensors.xz, index.compact_model)
# and it and the reranker (models/) are exported to ONNX once (cached in ~/.cache/protocol-qa/models),
# so that neither the first ingest nor the first question pays for it.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,train,milvus]"
	HF_HUB_OFFLINE=1 $(BIN)/python -m index.onnx_encoder
	HF_HUB_OFFLINE=1 $(BIN)/python -m qa.rerank
	touch $(STAMP)

install: $(STAMP)

# Documents added through the app live in data/uploads (git-ignored) and are indexed with corpus/.
index: install
	$(BIN)/protocol-qa ingest corpus $(wildcard data/uploads)

run: index
	$(BIN)/streamlit run app.py --server.address $(PROTOCOL_QA_ADDRESS) --server.port $(PROTOCOL_QA_PORT) --server.headless true --browser.gatherUsageStats false

# Debian packages the tests use, installed when missing: chromium (the browser test),
# zip and unzip (an index copied with zip must still answer: tests/reliability/test_index_copies.py),
# postgresql (the record's tests start a throwaway server: tests/record/conftest.py).
system-packages:
	@missing=""; for tool in chromium zip unzip; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then echo "Installing Debian's$$missing for the tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

# One pytest worker per core (pytest-xdist), each test file kept on one worker so that a file's
# fixtures (indexes, a Streamlit server, a PostgreSQL server) are built once: the suite is CPU-bound
# and took 23 min 45 s in one process on a 2-core machine (docs/performance.md, "tenth round").
test: install system-packages
	$(BIN)/python -m pytest -n auto --dist loadfile

clean-index:
	rm -rf .index
