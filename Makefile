# libgat: build, install, header, demo, tests and benchmarks.
#   make                      cargo build --release --workspace (library and helper binaries)
#   make install PREFIX=/usr/local [DESTDIR=...]
#   make install-files BUILD_DIR=target/debug PREFIX=/tmp/p   (copy an existing build; no cargo)
#   make header               regenerate include/gat.h from the Rust sources (cbindgen)
#   make demo                 build, stage and run the main job (examples/migrate.c)
#   make demo-submit          build, stage and run examples/submit.c
#   make test                 every test: Rust, the C programs, valgrind, the header checks
#   make bench                the benchmarks of docs/BENCHMARKS.md (cargo bench)

# bash for PIPESTATUS in `make test`.
SHELL := /bin/bash
CARGO ?= cargo
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
# Absolute, so that the sub-make in examples/ finds the staged install too.
RELEASE_DIR := $(abspath $(CARGO_TARGET_DIR)/release)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=
BUILD_DIR ?= $(RELEASE_DIR)

# The package version (the workspace's) and the ABI major version (the SONAME, set in build.rs).
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
SOMAJOR := 0
SONAME := libgat.so.$(SOMAJOR)
REALNAME := libgat.so.$(VERSION)

# Helper binaries, installed into bin/ when the build has them. gat-job-monitor: the local
# adaptor's job server, which the library finds in the bin/ beside its lib/ (or through
# GAT_JOB_MONITOR); without it every job gets a monitor process of its own.
BINARIES := gat-job-monitor

STAGE := $(abspath $(CARGO_TARGET_DIR)/stage)

.PHONY: all build install install-files uninstall header demo demo-submit examples test bench clean

all: build

# --workspace: the library and the helper binaries of the adaptor crates.
build:
	$(CARGO) build --release --workspace

install: build
	$(MAKE) install-files BUILD_DIR=$(RELEASE_DIR)

# Copies a finished build; tests/c_programs.rs uses it with a temporary PREFIX.
install-files:
	@test -f "$(BUILD_DIR)/libgat.so" || { echo "no $(BUILD_DIR)/libgat.so: build first (make, or cargo build)" >&2; exit 1; }
	install -d "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(PKGCONFIGDIR)"
	install -m 0755 "$(BUILD_DIR)/libgat.so" "$(DESTDIR)$(LIBDIR)/$(REALNAME)"
	ln -sf "$(REALNAME)" "$(DESTDIR)$(LIBDIR)/$(SONAME)"
	ln -sf "$(SONAME)" "$(DESTDIR)$(LIBDIR)/libgat.so"
	if [ -f "$(BUILD_DIR)/libgat.a" ]; then install -m 0644 "$(BUILD_DIR)/libgat.a" "$(DESTDIR)$(LIBDIR)/libgat.a"; fi
	install -m 0644 include/gat.h "$(DESTDIR)$(INCLUDEDIR)/gat.h"
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    gat.pc.in > "$(DESTDIR)$(PKGCONFIGDIR)/gat.pc"
	for b in $(BINARIES); do \
	    if [ -f "$(BUILD_DIR)/$$b" ]; then install -D -m 0755 "$(BUILD_DIR)/$$b" "$(DESTDIR)$(PREFIX)/bin/$$b"; fi; \
	done

uninstall:
	rm -f "$(DESTDIR)$(LIBDIR)/$(REALNAME)" "$(DESTDIR)$(LIBDIR)/$(SONAME)" "$(DESTDIR)$(LIBDIR)/libgat.so" \
	      "$(DESTDIR)$(LIBDIR)/libgat.a" "$(DESTDIR)$(INCLUDEDIR)/gat.h" "$(DESTDIR)$(PKGCONFIGDIR)/gat.pc"

header:
	GAT_BLESS=1 $(CARGO) test --test header header_is_up_to_date

# The demos build against a staged install, exactly as a user's program would (pkg-config).
# demo: the main job, examples/migrate.c (submit, checkpoint, migrate, the count goes on).
demo: build
	@$(MAKE) -s install-files BUILD_DIR=$(RELEASE_DIR) PREFIX=$(STAGE)
	@$(MAKE) -s -C examples STAGE=$(STAGE) run

# demo-submit: examples/submit.c (one job, its info table and exit code).
demo-submit: build
	@$(MAKE) -s install-files BUILD_DIR=$(RELEASE_DIR) PREFIX=$(STAGE)
	@$(MAKE) -s -C examples STAGE=$(STAGE) run-submit

examples: build
	@$(MAKE) -s install-files BUILD_DIR=$(RELEASE_DIR) PREFIX=$(STAGE)
	@$(MAKE) -s -C examples STAGE=$(STAGE) all

# cargo-nextest when present (it prints one summary), else cargo test with a summary added from
# its per-binary "test result:" lines. Both run tests/c_programs.rs and tests/header.rs.
test:
	@if command -v cargo-nextest >/dev/null 2>&1; then \
	    $(CARGO) test --workspace --doc; doc=$$?; \
	    $(CARGO) nextest run --workspace --no-fail-fast; rc=$$?; \
	    [ $$doc -eq 0 ] && exit $$rc || exit $$doc; \
	else \
	    log="$(CARGO_TARGET_DIR)/test-output.log"; mkdir -p "$(CARGO_TARGET_DIR)"; \
	    $(CARGO) test --workspace --no-fail-fast 2>&1 | tee "$$log"; rc=$${PIPESTATUS[0]}; \
	    awk '/^test result:/ { p += $$4; f += $$6; i += $$8 } \
	         END { printf "Summary: %d passed, %d failed, %d ignored\n", p, f, i }' "$$log"; \
	    exit $$rc; \
	fi

# Every benchmark of the root package (benches/*.rs, harness = false): figures in docs/BENCHMARKS.md.
bench:
	$(CARGO) build --release -p gat-adaptor-local --bin gat-job-monitor
	$(CARGO) bench

clean:
	$(CARGO) clean
	$(MAKE) -C examples clean
