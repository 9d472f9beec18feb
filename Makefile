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

.PHONY: help tools test-tools build server site bundle run test test-rust test-browser bench bench-sfu lint fuzz clean

help:
	@echo "make run    build everything (installing what is missing) and start Visita"
	@echo "make test   run every test: unit, integration and browser"
	@echo "make build  release binary in $(TARGET)/release/visita, site in $(SITE)"
	@echo "make lint   rustfmt and clippy, as CI expects them"
	@echo "make bench  print the performance figures (bench-sfu: the SFU beside Janus)"
	@echo "make fuzz   run each fuzz target for FUZZ_SECONDS (default 60)"

tools:
	@scripts/install-tools.sh build

test-tools:
	@scripts/install-tools.sh all

build: tools
	@$(MAKE) --no-print-directory server site

server:
	cargo build $(CARGO_FLAGS) --release -p server

# Two WASM bundles of the page islands (see app/src/islands): `patient`
# (what people who came in by link need) and `staff` (every island). Each is
# one cargo build of `frontend` (features differ, dependencies are shared),
# then wasm-bindgen and wasm-opt, precompressed. The CSS is versioned too.
site:
	@scripts/install-tools.sh wasm-bindgen
	@$(MAKE) --no-print-directory bundle BUNDLE=patient FEATURES=
	@$(MAKE) --no-print-directory bundle BUNDLE=staff FEATURES=--features=staff
	@cp style/main.css $(PKG)/visita.css
	@brotli -f -q 11 $(PKG)/visita.css && gzip -f -k -9 $(PKG)/visita.css
	@cp -r public/. $(SITE)/

# One bundle: BUNDLE=<name> FEATURES=<cargo feature flags>. Cargo writes both
# builds to the same frontend.wasm, so each is kept as <name>.wasm (copied
# only when it changed: its time says whether the bundle must be redone).
bundle:
	CARGO_TARGET_DIR=$(FRONT_TARGET) cargo build $(CARGO_FLAGS) -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release $(FEATURES)
	@mkdir -p $(PKG)
	@cmp -s $(RAW_WASM) $(FRONT_TARGET)/$(BUNDLE).wasm || cp $(RAW_WASM) $(FRONT_TARGET)/$(BUNDLE).wasm
	@# Built in a scratch folder and moved in last, so a failed step never
	@# leaves a half-made bundle that looks up to date.
	@if [ ! -f $(PKG)/$(BUNDLE)_bg.wasm.br ] || [ $(FRONT_TARGET)/$(BUNDLE).wasm -nt $(PKG)/$(BUNDLE)_bg.wasm.br ]; then \
		echo "wasm-bindgen + wasm-opt: $(BUNDLE)"; \
		rm -rf $(PKG).new && mkdir -p $(PKG).new; \
		wasm-bindgen --target web --no-typescript --out-dir $(PKG).new --out-name $(BUNDLE) $(FRONT_TARGET)/$(BUNDLE).wasm; \
		wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
			$(PKG).new/$(BUNDLE)_bg.wasm -o $(PKG).new/$(BUNDLE)_bg.opt.wasm; \
		mv $(PKG).new/$(BUNDLE)_bg.opt.wasm $(PKG).new/$(BUNDLE)_bg.wasm; \
		brotli -f -q 11 $(PKG).new/$(BUNDLE)_bg.wasm $(PKG).new/$(BUNDLE).js; \
		gzip -f -k -9 $(PKG).new/$(BUNDLE)_bg.wasm $(PKG).new/$(BUNDLE).js; \
		cp $(PKG).new/* $(PKG)/ && rm -rf $(PKG).new; \
	fi
	@printf '%s bundle: wasm %s bytes (brotli %s)\n' "$(BUNDLE)" \
		"$$(stat -c %s $(PKG)/$(BUNDLE)_bg.wasm)" "$$(stat -c %s $(PKG)/$(BUNDLE)_bg.wasm.br)"

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
	VISITA_BIN=$(TARGET)/release/visita VISITA_SITE_DIR=$(SITE) node bench/api.mjs
	@$(MAKE) --no-print-directory bench-sfu

# The SFU under load beside Janus: the load clients (bench/sfu) are built
# on their own, so their feature set never touches the server's artifacts.
bench-sfu: build
	@scripts/install-tools.sh bench
	cargo build $(CARGO_FLAGS) --release -p sfu-bench
	VISITA_BIN=$(TARGET)/release/visita VISITA_SITE_DIR=$(SITE) SFU_BENCH_BIN=$(TARGET)/release/sfu-bench node bench/sfu.mjs

# The fuzz targets (fuzz/): the signalling parser and the SFU's forwarding
# decisions. cargo-fuzz asks for sanitizer flags that only nightly accepts;
# RUSTC_BOOTSTRAP lets the one stable toolchain take them. New inputs go to
# fuzz/corpus (not committed); fuzz/seeds are the starting points.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := signalling forwarding
fuzz:
	@scripts/install-tools.sh fuzz
	cd fuzz && for target in $(FUZZ_TARGETS); do \
		mkdir -p corpus/$$target; \
		RUSTC_BOOTSTRAP=1 cargo fuzz run $$target corpus/$$target seeds/$$target -- \
			-max_total_time=$(FUZZ_SECONDS) -max_len=40960; \
	done

lint:
	cargo fmt --all --check
	cargo clippy $(CARGO_FLAGS) --release -p app -p server --all-targets -- -D warnings
	cargo clippy $(CARGO_FLAGS) --release -p sfu-bench -- -D warnings
	CARGO_TARGET_DIR=$(FRONT_TARGET) cargo clippy $(CARGO_FLAGS) -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release -- -D warnings
	CARGO_TARGET_DIR=$(FRONT_TARGET) cargo clippy $(CARGO_FLAGS) -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release --features=staff -- -D warnings

clean:
	rm -rf $(SITE)
	cargo clean
