# Every target sets itself up: Debian packages when missing, the virtual environment in .venv, pip installs.
# Run as root on a fresh Debian or Raspberry Pi OS machine (or as a user with sudo).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Debian packages the project needs: the broker and its tools, the browser for page tests,
# a Chinese font for the pages (the browser on a kiosk Pi, and the page tests here),
# venv and a compiler for the wheels that build from source on a Pi (RPi.GPIO, spidev),
# libcap's headers for python-prctl (picamera2 needs it; the tests run picamera2 over a modelled libcamera),
# Tesseract's orientation model (the copy stand turns pages upright; tesserocr's wheels carry Tesseract itself).
APT_PACKAGES := mosquitto mosquitto-clients chromium fonts-wqy-microhei python3-venv python3-dev gcc libcap-dev \
	tesseract-ocr-osd
# Only the benchmark needs these: the copy stand's peers (unpaper from Debian, the rest from PyPI's `bench` extra)
# and sysbench, the reference workload for estimating Raspberry Pi 5 times.
BENCH_APT_PACKAGES := unpaper sysbench

.PHONY: demo test bench lint setup system-deps clean

demo: setup
	$(VENV)/bin/storeroom demo

test: setup
	$(PY) -m pytest

bench: setup $(VENV)/.bench-installed
	$(PY) -m bench

$(VENV)/.bench-installed: pyproject.toml
	@missing=""; for p in $(BENCH_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages for the benchmark:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	$(PY) -m pip install -q -e '.[bench]'
	touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

setup: system-deps $(VENV)/.installed node_modules/.package-lock.json

# Front-end libraries the dashboard serves itself (package.json; no CDN).
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dashboard,station,vision,dev]'
	touch $@

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .ruff_cache
