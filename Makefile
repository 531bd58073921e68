# NewFinity Ops — the two commands of the quick start are `make run` and
# `make test`; the other targets are what they call.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# Builds are kept outside the clone so a fresh clone builds warm.
export CARGO_TARGET_DIR ?= /var/tmp/nfops-target
# One feature set everywhere (the app embeds ui/dist): another set would
# recompile ~100 crates.
FEATURES := --features tauri/custom-protocol
export NFOPS_STACK_DIR ?= $(CURDIR)/target/stack

.PHONY: run test deps ui build bundle bundle-test check-targets bindings icons release lint rust-test ui-test stack-up stack-down stack-test e2e clean

## make run: install what is missing, start the local stack, open the console on it.
run: build stack-up
	scripts/run-console

## make test: install what is missing, then every check and test.
test: deps ui
	cargo fmt --all -- --check
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory ui-test
	# A stack that was already up (make run) is left up; one started here is stopped.
	# `reset` undoes what a promotion clicked in that console changed (releases, schema).
	if scripts/stack status >/dev/null 2>&1; then started=0; else started=1; fi; \
	  if [[ $$started == 1 ]]; then trap 'scripts/stack down' EXIT; fi; \
	  scripts/stack up && \
	  scripts/stack reset && \
	  scripts/stack-test && \
	  NFOPS_REQUIRE_STACK=1 scripts/with-keyring cargo test --workspace $(FEATURES) --no-fail-fast

deps:
	scripts/ensure-deps

ui: deps
	npm --prefix ui run build --silent

build: ui
	cargo build --workspace $(FEATURES)

## make bundle: release .deb and .rpm with the pinned Tauri CLI (ui/package.json), in
## $(CARGO_TARGET_DIR)/release/bundle/. No AppImage: its tools are downloaded at bundle time.
## Updater signing happens only when TAURI_SIGNING_PRIVATE_KEY is set (make release).
# TAURI_FRONTEND_PATH: the folder beforeBuildCommand runs in; without it the CLI takes
# the first package.json it finds under the clone (assets/platform/, the lab app).
# TAURI_APP_PATH: the app's tauri.conf.json, not bench/empty-window's.
bundle: deps
	TAURI_APP_PATH=$(CURDIR) TAURI_FRONTEND_PATH=$(CURDIR)/ui npx --prefix ui tauri build --ci --bundles deb,rpm $(if $(TAURI_SIGNING_PRIVATE_KEY),,--no-sign)

## make bundle-test: install that .deb here, check it, open it on the local stack under
## Xvfb (screenshot in docs/installed-linux.png), purge it.
bundle-test: bundle
	scripts/bundle-test

## make check-targets: cargo check of the app and the CLI for Windows (cfg(windows) code
## and Windows-only dependencies compiled here; installs the target and MinGW once).
check-targets: deps
	scripts/check-targets

## Regenerate ui/src/lib/bindings.ts from the Rust commands.
bindings:
	NFOPS_WRITE_BINDINGS=1 cargo test $(FEATURES) --lib -- typescript_bindings_are_up_to_date

## Regenerate icons/ (every platform's set) from icons/app-icon.svg with the pinned Tauri CLI.
icons: deps
	scripts/icons

## make release BASE_URL=https://…: sign the bundles of `make bundle`, write latest.json (key from
## TAURI_SIGNING_PRIVATE_KEY or the OS keyring, never the repo; see scripts/release).
release: deps
	scripts/release

lint:
	cargo clippy --workspace --all-targets $(FEATURES) -- -D warnings
	scripts/check-dep-tree

ui-test:
	npm --prefix ui run check --silent
	npm --prefix ui test --silent

stack-up: deps
	scripts/stack up

stack-down:
	scripts/stack down

clean:
	scripts/stack down || true
	rm -rf ui/dist target
