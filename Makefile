# The front door. Everything builds with Meson + Ninja into build*/ directories.
#   make          build into build/ (programs: build/zhtp, build/zhtpd, build/zhtp-sim)
#   make test     install missing packages, build, run every test, print one summary line
#   make check    ASan+UBSan build (build-asan/) with -Werror, then the whole suite
#   make fuzz     short run of every libFuzzer target (clang, build-fuzz/); FUZZ_SECONDS=20
#   make bench    release build (build-release/), benchmarks with ratios against peers
#   make demo     install, build, start a small local mesh and print its URLs
#   make format   clang-format every C file

BUILD        ?= build
FUZZ_SECONDS ?= 20
MESON_FLAGS  ?=
ifeq ($(WERROR),1)
MESON_FLAGS += --werror
endif

.PHONY: all deps build test check fuzz bench demo format clean

all: build

deps:
	@scripts/install-deps --quiet

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_FLAGS)

build: $(BUILD)/build.ninja
	meson compile -C $(BUILD)
	@for p in zhtp zhtpd zhtp-sim; do \
	    [ -x $(BUILD)/tools/$$p/$$p ] && ln -sf tools/$$p/$$p $(BUILD)/$$p; done; true

test: deps
	@$(MAKE) --no-print-directory build
	@meson test -C $(BUILD) --print-errorlogs --num-processes 2 >$(BUILD)/test-output.txt 2>&1; \
	    grep -E '^ *[0-9]+/[0-9]+ ' $(BUILD)/test-output.txt; \
	    scripts/test-summary $(BUILD)/meson-logs/testlog.json

check: deps
	@[ -f build-asan/build.ninja ] || meson setup build-asan --werror \
	    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	meson compile -C build-asan
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 4 \
	    >build-asan/test-output.txt 2>&1; \
	    grep -E '^ *[0-9]+/[0-9]+ ' build-asan/test-output.txt; \
	    scripts/test-summary build-asan/meson-logs/testlog.json

fuzz: deps
	@[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true \
	    -Db_sanitize=address,undefined -Db_lundef=false
	meson compile -C build-fuzz
	scripts/run-fuzz build-fuzz $(FUZZ_SECONDS)

bench: deps
	@[ -f build-release/build.ninja ] || meson setup build-release -Dbuildtype=release
	meson compile -C build-release
	bench/run-all build-release

demo: deps
	@$(MAKE) --no-print-directory build
	scripts/demo $(BUILD)

format:
	find src include tools tests fuzz bench -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf build build-asan build-fuzz build-release
