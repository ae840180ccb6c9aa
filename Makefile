# quark: `make` sets everything up, `make test` runs the tests.
# Other parts are built by their own tools (qvisor.native.build, codegen,
# tests/conformance/Makefile); this file only calls them in order.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
QUARK := $(VENV)/bin/quark
APT_PACKAGES := busybox-static gcc runc podman containerd conmon
STAMP := $(VENV)/.quark-installed

# The steps depend on each other in order (gen before native: the C loop
# may use generated layouts), so never run them side by side.
.NOTPARALLEL:
.PHONY: all venv deps install gen native bytecode bundle conformance-bins test bench conformance clean

all: venv deps gen native bytecode bundle conformance-bins

# Created only if missing: other work may already live in this venv.
$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --config-settings editable_mode=compat -e . pytest
	touch $@

venv: $(STAMP)

# Debian packages: apt-get only when one is missing (dpkg -s is cheap, apt is not).
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update && apt-get install -y $$missing; \
	fi

install: venv
	ln -sf $(CURDIR)/$(QUARK) /usr/local/bin/quark

gen: venv
	$(PY) -m codegen
	$(PY) -m qkernel.vdso.build

native: venv deps
	$(PY) -m qvisor.native.build

# Compiled bytecode up front: a sandbox starts without compiling ~0.5 MB of
# Python (PYTHONDONTWRITEBYTECODE may be set, so Python would not cache it).
bytecode: gen native
	$(PY) -m compileall -q qvisor qkernel generated codegen >/dev/null

bundle: venv deps
	scripts/build_busybox_bundle.sh bundles/busybox

conformance-bins: deps
	$(MAKE) -C tests/conformance

test:
	$(PY) -m pytest -x -q tests

bench:
	$(PY) -m bench

conformance:
	$(QUARK) conformance

clean:
	rm -rf bundles/busybox build .pytest_cache .tox *.egg-info reports
	rm -f qvisor/native/*.so qvisor/native/*.o
	@if [ -f tests/conformance/Makefile ]; then $(MAKE) -C tests/conformance clean || true; fi
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
