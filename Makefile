# Visita — every task a developer or CI runs. `make run` and `make test` do
# everything on a fresh Debian machine; the other targets are their parts.
#
# The build is driven directly (no cargo-leptos): cargo builds the server
# (feature ssr) and the WASM (feature hydrate), wasm-bindgen and wasm-opt
# finish the bundle, and the style and public files are copied beside it.
# That is all cargo-leptos does for us, without its 23-minute install.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export VISITA_TOOLS ?= $(HOME)/.cache/visita/tools
# The pinned wasm-bindgen CLI and npm's wasm-opt come first on PATH.
export PATH := $(shell scripts/install-tools.sh print-path):$(PATH)

TARGET := $(or $(CARGO_TARGET_DIR),target)
SITE := $(TARGET)/site
PKG := $(SITE)/pkg
# The WASM build has its own target directory (as cargo-leptos does): its
# host tools and proc-macros never invalidate the server's artifacts.
# The two builds run one after the other: measured on 2 cores, running them
# side by side made the cold build no faster (surrealdb-core is the long pole).
FRONT_TARGET := $(TARGET)/front
RAW_WASM := $(FRONT_TARGET)/wasm32-unknown-unknown/wasm-release/frontend.wasm
CARGO_FLAGS := --locked

# `make -j test` must not run two apt-get at once (test-tools and tools).
.NOTPARALLEL: test run

.PHONY: help tools test-tools build server site run test test-rust test-browser bench lint clean

help:
	@echo "make run    build everything (installing what is missing) and start Visita"
	@echo "make test   run every test: unit, integration and browser"
	@echo "make build  release binary in $(TARGET)/release/visita, site in $(SITE)"
	@echo "make lint   rustfmt and clippy, as CI expects them"
	@echo "make bench  print the performance figures"

tools:
	@scripts/install-tools.sh build

test-tools:
	@scripts/install-tools.sh all

build: tools
	@$(MAKE) --no-print-directory server site

server:
	cargo build $(CARGO_FLAGS) --release -p server

# The hydrate bundle: <name>.js + <name>_bg.wasm, as leptos' HydrationScripts
# expects them when LEPTOS_OUTPUT_NAME is not baked in at compile time.
site:
	@scripts/install-tools.sh wasm-bindgen
	CARGO_TARGET_DIR=$(FRONT_TARGET) cargo build $(CARGO_FLAGS) -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
	@mkdir -p $(PKG)
	@# Built in a scratch folder and moved in last, so a failed step never
	@# leaves a half-made bundle that looks up to date.
	@if [ ! -f $(PKG)/visita_bg.wasm.br ] || [ $(RAW_WASM) -nt $(PKG)/visita_bg.wasm.br ]; then \
		echo "wasm-bindgen + wasm-opt"; \
		rm -rf $(PKG).new && mkdir -p $(PKG).new; \
		wasm-bindgen --target web --no-typescript --out-dir $(PKG).new --out-name visita $(RAW_WASM); \
		wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
			$(PKG).new/visita_bg.wasm -o $(PKG).new/visita_bg.opt.wasm; \
		mv $(PKG).new/visita_bg.opt.wasm $(PKG).new/visita_bg.wasm; \
		brotli -f -q 11 $(PKG).new/visita_bg.wasm $(PKG).new/visita.js; \
		gzip -f -k -9 $(PKG).new/visita_bg.wasm $(PKG).new/visita.js; \
		cp $(PKG).new/* $(PKG)/ && rm -rf $(PKG).new; \
	fi
	@cp style/main.css $(PKG)/visita.css
	@cp -r public/. $(SITE)/
	@printf 'site: %s  wasm %s bytes (brotli %s)\n' "$(SITE)" \
		"$$(stat -c %s $(PKG)/visita_bg.wasm)" "$$(stat -c %s $(PKG)/visita_bg.wasm.br)"

run: build
	VISITA_SITE_DIR=$(SITE) $(TARGET)/release/visita serve

test: test-tools build
	@$(MAKE) --no-print-directory test-rust test-browser

# app and server only: building the frontend for the host would unify the
# ssr and hydrate features of `app`.
test-rust:
	cargo fmt --all --check
	cargo test $(CARGO_FLAGS) --release -p app -p server

test-browser:
	cd end2end && VISITA_BIN="$(abspath $(TARGET))/release/visita" VISITA_SITE_DIR="$(abspath $(SITE))" npm test

bench: build
	VISITA_BIN=$(TARGET)/release/visita VISITA_SITE_DIR=$(SITE) node bench/foundation.mjs
	VISITA_BIN=$(TARGET)/release/visita VISITA_SITE_DIR=$(SITE) node bench/consultation.mjs

lint:
	cargo fmt --all --check
	cargo clippy $(CARGO_FLAGS) --release -p app -p server --all-targets -- -D warnings
	CARGO_TARGET_DIR=$(FRONT_TARGET) cargo clippy $(CARGO_FLAGS) -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release -- -D warnings

clean:
	rm -rf $(SITE)
	cargo clean
