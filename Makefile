# klipper-pin: launcher, preload shim and config module.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib/klipper-pin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/klipper-pin
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS = -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes \
	   -Wstrict-prototypes -Wpointer-arith -Wvla
ifeq ($(CI),true)
WARNINGS += -Werror
endif
HARDENING = -D_FORTIFY_SOURCE=2 -fstack-protector-strong
LDHARDENING = -Wl,-z,relro,-z,now
# 64-bit file offsets and time on 32-bit ARM too (no-ops on 64-bit).
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 \
	     $(WARNINGS) $(HARDENING) $(CFLAGS) \
	     -Iconfig -Ishim -Ilauncher -pthread
ALL_LDFLAGS = $(LDHARDENING) $(LDFLAGS)
LDLIBS_INIH = -linih

VERSION = 0.1.0
BUILD = build

# SANITIZE=address,undefined or SANITIZE=thread: a build of its own, in
# build-address-undefined/ or build-thread/. Programs run under the shim
# then get the sanitizer's runtime first in LD_PRELOAD (tests/run-all).
ifneq ($(SANITIZE),)
comma := ,
BUILD = build-$(subst $(comma),-,$(SANITIZE))
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
ifneq ($(findstring address,$(SANITIZE)),)
SANITIZER_RUNTIME = $(shell $(CC) -print-file-name=libasan.so)
else ifneq ($(findstring thread,$(SANITIZE)),)
# ThreadSanitizer must see each thread start before the shim's code runs
# in it: its runtime then comes after the shim (as the programs' own
# dependency), so that its pthread_create wraps the shim's trampoline.
SANITIZER_RUNTIME =
else
SANITIZER_RUNTIME = $(shell $(CC) -print-file-name=libubsan.so)
endif
# What tests/run-all puts first in LD_PRELOAD for programs under the shim.
export KLIPPER_PIN_TEST_PRELOAD = $(SANITIZER_RUNTIME)
export SANITIZE
endif

CONFIG_SRC = config/build.c config/cpulist.c config/glob.c config/plan.c config/parse.c
SHIM_SRC = shim/shim.c shim/log.c shim/lookup.c shim/place.c shim/record.c
# config/review.c is check's alone: the shim has no use for it.
LAUNCHER_SRC = launcher/main.c launcher/access.c launcher/describe.c launcher/find_shim.c \
	launcher/status.c launcher/audit.c launcher/audit_tasks.c launcher/audit_system.c launcher/audit_advice.c launcher/audit_print.c launcher/reserve.c launcher/reserve_plan.c launcher/reserve_files.c launcher/reserve_irq.c launcher/proc.c launcher/placements.c launcher/json.c \
	config/review.c
# klipper-pin systemd: install into a unit
LAUNCHER_SRC += launcher/systemd.c launcher/systemd_command.c launcher/systemd_dropin.c launcher/systemd_plan.c launcher/systemd_unit.c
LAUNCHER_SRC += launcher/probe.c launcher/probe_load.c launcher/probe_print.c launcher/probe_stats.c
LAUNCHER_SRC += launcher/svg.c
LAUNCHER_SRC += launcher/report.c launcher/report_parse.c launcher/report_stats.c launcher/report_read.c

all: $(BUILD)/klipper-pin $(BUILD)/libklipper-pin.so

$(BUILD):
	mkdir -p $@

$(BUILD)/klipper-pin: $(LAUNCHER_SRC) $(CONFIG_SRC) config/*.h launcher/*.h | $(BUILD)
	$(CC) $(ALL_CFLAGS) -DVERSION='"$(VERSION)"' -DLIBDIR='"$(LIBDIR)"' \
		-o $@ $(LAUNCHER_SRC) $(CONFIG_SRC) $(ALL_LDFLAGS) $(LDLIBS_INIH)

$(BUILD)/libklipper-pin.so: $(SHIM_SRC) $(CONFIG_SRC) config/*.h shim/*.h shim/exports.map | $(BUILD)
	$(CC) $(ALL_CFLAGS) -fPIC -shared -fvisibility=hidden \
		-Wl,--version-script=shim/exports.map \
		-o $@ $(SHIM_SRC) $(CONFIG_SRC) $(ALL_LDFLAGS) $(LDLIBS_INIH) -ldl



# ---- tests ----------------------------------------------------------------
PYTHON ?= /usr/bin/python3
UNIT_TESTS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
FIXTURES = $(patsubst tests/fixtures/%.c,$(BUILD)/fixtures/%,$(filter-out tests/fixtures/lib%.c,$(wildcard tests/fixtures/*.c)))
FIXTURE_LIBS = $(patsubst tests/fixtures/%.c,$(BUILD)/fixtures/%.so,$(wildcard tests/fixtures/lib*.c))

$(BUILD)/tests/%: tests/unit/%.c $(CONFIG_SRC) shim/log.c config/*.h shim/*.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(CONFIG_SRC) shim/log.c $(ALL_LDFLAGS) -lcmocka $(LDLIBS_INIH) -ldl

$(BUILD)/fixtures/%.so: tests/fixtures/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -shared -o $@ $< $(ALL_LDFLAGS)

# -rdynamic: the fixtures' start routines have symbols dladdr can name.
$(BUILD)/fixtures/%: tests/fixtures/%.c tests/fixtures/fixture.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -rdynamic -o $@ $< $(ALL_LDFLAGS) -ldl

# A program whose dependency's constructor creates a thread before the
# shim's constructor runs.
$(BUILD)/fixtures/invisible-ctor: tests/fixtures/invisible-ctor.c $(BUILD)/fixtures/libctor-thread.so
	$(CC) $(ALL_CFLAGS) -o $@ $< -L$(BUILD)/fixtures -lctor-thread \
		-Wl,-rpath,'$$ORIGIN' $(ALL_LDFLAGS)

unit: $(UNIT_TESTS)
	@tests/run-unit $(UNIT_TESTS)

integration: all $(FIXTURES) $(FIXTURE_LIBS)
	@$(PYTHON) tests/integration/run.py $(BUILD)

# Every test: unit, then integration, then one closing line for both.
check: all $(UNIT_TESTS) $(FIXTURES) $(FIXTURE_LIBS) $(BUILD)/demo/klippy-demo
	@tests/run-all $(BUILD) $(PYTHON) $(UNIT_TESTS)

# The Quick start: the demo under the launcher with the built-in plan.
demo: all $(BUILD)/demo/klippy-demo
	./$(BUILD)/klipper-pin -- ./$(BUILD)/demo/klippy-demo

$(BUILD)/demo/klippy-demo: demo/klippy-demo.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS)

bench: all
	@bench/run $(BUILD)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DOCDIR)
	install -m 755 $(BUILD)/klipper-pin $(DESTDIR)$(BINDIR)/klipper-pin
	install -m 644 $(BUILD)/libklipper-pin.so $(DESTDIR)$(LIBDIR)/libklipper-pin.so
	install -m 644 config/klipper-pin.conf $(DESTDIR)$(DOCDIR)/klipper-pin.conf.example
	install -m 644 man/klipper-pin.1 $(DESTDIR)$(MANDIR)/man1/klipper-pin.1
	install -m 644 man/klipper-pin.conf.5 $(DESTDIR)$(MANDIR)/man5/klipper-pin.conf.5

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/klipper-pin $(DESTDIR)$(LIBDIR)/libklipper-pin.so \
		$(DESTDIR)$(DOCDIR)/klipper-pin.conf.example \
		$(DESTDIR)$(MANDIR)/man1/klipper-pin.1 $(DESTDIR)$(MANDIR)/man5/klipper-pin.conf.5
	-rmdir $(DESTDIR)$(LIBDIR) $(DESTDIR)$(DOCDIR)

clean:
	rm -rf $(BUILD)
.PHONY: all check unit integration bench install uninstall clean demo

# ---- reliability (see README, "Reliability") --------------------------------
FUZZ_SECONDS ?= 60

# libFuzzer on the config parser and plan builder (clang).
fuzz:
	@tests/fuzz/run $(FUZZ_SECONDS)

# Cross-build for the Pi's arm64 and armhf, tests under qemu-user.
cross-check:
	@tests/cross/run

# The integration tests with every launched program under valgrind.
valgrind: all $(FIXTURES) $(FIXTURE_LIBS) $(BUILD)/demo/klippy-demo
	@VALGRIND=1 $(PYTHON) tests/integration/run.py $(BUILD)

# cppcheck and clang-tidy, configured in tests/lint/ and .clang-tidy.
lint:
	@tests/lint/run

.PHONY: fuzz cross-check lint valgrind

# Build and `make check` on Debian 11 (bullseye) and 13 (trixie), each in
# a chroot made with debootstrap and kept under /var/cache/klipper-pin/
# (root; DISTROS="bullseye" for one). See tests/distros/run.
check-distros:
	@tests/distros/run $(DISTROS)

.PHONY: check-distros

# CPython's own tests of threads and processes (Debian's
# libpython3.11-testsuite), run plainly and under the launcher with a file
# log and every thread and child placed: no test may fail launched that
# passes plainly, and the log must show the placements. About 3 minutes.
# See tests/cpython/run.
check-cpython: all
	@CPYTHON=$(PYTHON) tests/cpython/run $(BUILD)

.PHONY: check-cpython

# The tests against real Klipper alone: KLIPPER_SRC=DIR (an unpacked
# Klipper tree; its MCU and c_helper.so are built into it when missing).
check-klipper: all
	@KLIPPER_SRC="$(KLIPPER_SRC)" $(PYTHON) tests/klipper/run $(BUILD)
.PHONY: check-klipper

# klippy itself on the Linux-process MCU, under no load, a stress-ng hog
# on the last CPU and hogs on every CPU, for five placements in
# interleaved rounds (unplaced, the whole process on klippy's CPUs, the
# shipped plan, the plan without its policy, the policy alone): run-queue
# waits of the serial and main threads, srtt, stress-ng's bogo ops. Needs
# root (the MCU's -r, SCHED_FIFO) and stress-ng; KLIPPER_SRC=DIR (default
# /var/cache/klipper-pin/klipper). About 11 minutes; the long version:
# BENCH_KLIPPER_SECONDS=40 BENCH_KLIPPER_ROUNDS=3. See bench/klipper.
.PHONY: bench-klipper
bench-klipper: all
	@KLIPPER_SRC="$(KLIPPER_SRC)" bench/klipper $(BUILD)
