# hptune - hyperparameter tuning of CPU CNNs on MPI clusters.
#
# Knobs (override on the command line or in the environment):
#   CC            compiler for the MPI shell and the program   (default mpicc)
#   CORE_CC       compiler for the pure core and unit tests     (default: $(CC) with MPI stripped: cc)
#   CFLAGS        optimisation/warning flags
#   HDF5_DIR, OPENBLAS_DIR, YAML_DIR   install prefixes for clusters without
#                 pkg-config files (e.g. after `module load hdf5`); each sets
#                 -I$DIR/include and -L$DIR/lib -Wl,-rpath,$DIR/lib
#   PREFIX, DESTDIR   for `make install`
#   SANITIZE=1    build with AddressSanitizer + UndefinedBehaviorSanitizer
#                 (objects go to build-san/, binary to build-san/hptune)
#
# Targets: all check bench bench-study bench-scale install clean deps deps-bench data demo

CC       ?= mpicc
CORE_CC  ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
CFLAGS   ?= -O2 -g
PKG_CONFIG ?= pkg-config

# `make` sets CC=cc by default; treat that as "not chosen" and use mpicc.
ifeq ($(origin CC),default)
CC = mpicc
endif

WARN      = -Wall -Wextra -Wshadow -Wno-unused-parameter -Wstrict-prototypes -Wvla
ARCHFLAGS ?= -march=x86-64-v3 -mtune=native
# No -ffast-math: the tuner must see NaN/inf from diverging trials.
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(ARCHFLAGS) -Iinclude -fno-math-errno

comma := ,
define dep_flags
$(if $($(1)_DIR),-I$($(1)_DIR)/include,$(shell $(PKG_CONFIG) --cflags $(2) 2>/dev/null))
endef
define dep_libs
$(if $($(1)_DIR),-L$($(1)_DIR)/lib -Wl$(comma)-rpath$(comma)$($(1)_DIR)/lib $(3),$(or $(shell $(PKG_CONFIG) --libs $(2) 2>/dev/null),$(3)))
endef

DEP_CFLAGS = $(call dep_flags,HDF5,hdf5) $(call dep_flags,OPENBLAS,openblas) $(call dep_flags,YAML,yaml-0.1) $(call dep_flags,ZLIB,zlib)
DEP_LIBS   = $(call dep_libs,HDF5,hdf5,-lhdf5) $(call dep_libs,OPENBLAS,openblas,-lopenblas) \
             $(call dep_libs,YAML,yaml-0.1,-lyaml) $(call dep_libs,ZLIB,zlib,-lz) -lm -lpthread

ifeq ($(SANITIZE),1)
BUILD   = build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD   = build
SANFLAGS =
endif

ALL_CFLAGS = $(BASE_CFLAGS) $(DEP_CFLAGS) $(CFLAGS) $(SANFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

# Sources by layer (arrows point down): src/cli and src/mpi are the program's
# shell; everything below them is the MPI-free core, a static library that the
# unit tests link with a plain C compiler.
#   cli/        one file per command, main()
#   mpi/        comm_mpi.c (the only file that includes <mpi.h>) and the run glue
#   study/      events, the journal, the study's state, the coordinator, the worker, views
#   search/     search spaces and strategies (tpe, bohb models)
#   job/        job files (YAML) and what they describe
#   objective/  objectives other than training (curves replay, test functions)
#   report/     the HTML report renderer and the TensorBoard encoder
#   nn/         layers, network, optimizers, trainer, checkpoints
#   data/       the CIFAR-10 HDF5 data set
#   report/     exports for other tools (TensorBoard event files)
#   base/       errors, random numbers, HDF5 helpers
CORE_DIRS = base data nn report objective job search study
MPI_SRCS  = $(wildcard src/mpi/*.c)
CLI_SRCS  = $(wildcard src/cli/*.c)
CORE_SRCS = $(foreach d,$(CORE_DIRS),$(wildcard src/$(d)/*.c))
CORE_OBJS = $(CORE_SRCS:src/%.c=$(BUILD)/core/%.o)
SHELL_OBJS = $(MPI_SRCS:src/%.c=$(BUILD)/shell/%.o) $(CLI_SRCS:src/%.c=$(BUILD)/shell/%.o)
CORE_LIB  = $(BUILD)/libhptune_core.a
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRCS = $(wildcard tests/tools/*.c)
TOOL_BINS = $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tests/tools/%)
PROGRAM   = $(if $(filter 1,$(SANITIZE)),$(BUILD)/hptune,hptune)

.PHONY: all check unit bench bench-study bench-search bench-scale install clean deps deps-bench data demo check-purity FORCE
all: $(PROGRAM) $(UNIT_BINS) $(TOOL_BINS)

$(BUILD)/core/%.o: src/%.c $(wildcard include/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(CORE_CC) $(ALL_CFLAGS) -c $< -o $@
$(BUILD)/shell/%.o: src/%.c $(wildcard include/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
# The build's identity, compiled into src/base/build_info.c (recorded in
# checkpoints and study.h5).  The stamp changes only when the revision or the
# flags do, and then only build_info.o is recompiled.
GIT_REV := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
BUILD_FLAGS_TEXT = $(strip $(CORE_CC) $(BASE_CFLAGS) $(CFLAGS) $(SANFLAGS))
$(BUILD)/build_info.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(GIT_REV) $(BUILD_FLAGS_TEXT)' | cmp -s - $@ || echo '$(GIT_REV) $(BUILD_FLAGS_TEXT)' >$@
$(BUILD)/core/base/build_info.o: $(BUILD)/build_info.stamp
$(BUILD)/core/base/build_info.o: ALL_CFLAGS += -DHPTUNE_GIT_REV='"$(GIT_REV)"' -DHPTUNE_BUILD_FLAGS='"$(BUILD_FLAGS_TEXT)"'
FORCE:
$(CORE_LIB): $(CORE_OBJS)
	rm -f $@ && ar rcs $@ $^
$(PROGRAM): $(SHELL_OBJS) $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(SHELL_OBJS) $(CORE_LIB) $(DEP_LIBS)
# Unit tests link the core with a plain C compiler and no MPI library.
$(BUILD)/tests/%: tests/unit/%.c tests/unit/testlib.h $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CORE_CC) $(ALL_CFLAGS) -Itests/unit $< $(CORE_LIB) -o $@ $(ALL_LDFLAGS) $(DEP_LIBS)
# Small programs the end-to-end tests drive (oracle comparisons), linked like unit tests.
$(BUILD)/tests/tools/%: tests/tools/%.c $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CORE_CC) $(ALL_CFLAGS) $< $(CORE_LIB) -o $@ $(ALL_LDFLAGS) $(DEP_LIBS)

# The core makes no MPI calls: no core source includes <mpi.h>, and no core
# object refers to an MPI symbol or to the comm.h wrappers (checked on every
# object, also those no unit test links).
check-purity: $(CORE_OBJS)
	@bad=$$(grep -l '#include <mpi.h>' $(CORE_SRCS) $(CLI_SRCS) include/*.h 2>/dev/null); \
	if [ -n "$$bad" ]; then echo "MPI included outside src/mpi/: $$bad"; exit 1; fi; \
	for o in $(CORE_OBJS); do \
	  if nm -u $$o | grep -qE ' (P?MPI_|ompi_|hp_comm_)'; then \
	    echo "core object $$o calls MPI: $$(nm -u $$o | grep -E ' (P?MPI_|ompi_|hp_comm_)' | tr -s ' \n' ' ')"; exit 1; fi; \
	done; echo "check-purity: $(words $(CORE_OBJS)) core objects, no MPI"

# The whole suite: unit tests, then end-to-end tests with the real program.
check: all check-purity
	HPTUNE=$(abspath $(PROGRAM)) BUILD=$(BUILD) tests/run.sh

# Everything `hptune bench` measures, with PyTorch on the same networks when
# Debian's python3-torch is installed (skipped with the reason otherwise).
bench: $(PROGRAM)
	./$(PROGRAM) bench --peers

# A whole study against Optuna 3.1 + PyTorch 1.13: the same random search
# (TRIALS configurations of seed 000's family, EPOCHS epochs, 2 workers), wall
# time and best validation accuracy of each (tests/bench/bench_study.py).
TRIALS ?= 8
EPOCHS ?= 3
bench-study: $(PROGRAM)
	TRIALS=$(TRIALS) EPOCHS=$(EPOCHS) HPTUNE=$(abspath $(PROGRAM)) /usr/bin/python3 tests/bench/bench_study.py

# How well the strategies search: test functions, 20 seeds, Optuna's TPE as
# the peer (tests/bench/bench_search.py; a few minutes).
SEEDS ?= 20
bench-search: $(PROGRAM)
	SEEDS=$(SEEDS) HPTUNE=./$(PROGRAM) /usr/bin/python3 tests/bench/bench_search.py

# the coordinator at 64, 128 and 256 ranks (oversubscribed; SIZES="..." to change)
bench-scale: $(PROGRAM)
	HPTUNE=$(abspath $(PROGRAM)) tests/bench_scale.sh $(SIZES)

install: $(PROGRAM)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/hptune/jobs $(DESTDIR)$(PREFIX)/share/hptune/slurm
	install -m 0755 $(PROGRAM) $(DESTDIR)$(PREFIX)/bin/hptune
	install -m 0644 jobs/*.yaml $(DESTDIR)$(PREFIX)/share/hptune/jobs/
	install -m 0755 slurm/*.sbatch $(DESTDIR)$(PREFIX)/share/hptune/slurm/

# Debian/Ubuntu packages, installed only when missing.
DEB_PKGS = gcc make pkg-config openmpi-bin libopenmpi-dev libopenblas-dev libhdf5-dev hdf5-tools \
           libyaml-dev zlib1g-dev python3 python3-h5py python3-statsmodels python3-optuna \
           protobuf-compiler python3-protobuf
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all packages present"; fi

# The peer for bench --peers and bench-study: PyTorch is large (about 600 MB
# with its dependencies), so `make deps` leaves it out and the benchmarks say how to
# install it; this target does.
BENCH_PKGS = python3-torch
deps-bench: deps
	@if dpkg-query -W -f='$${Status}\n' $(BENCH_PKGS) 2>/dev/null | grep -q 'install ok installed'; then \
	  echo "deps-bench: $(BENCH_PKGS) present"; else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(BENCH_PKGS); fi

# Obtain the official CIFAR-10 binary tarball and convert it to HDF5 (once).
data: datasets/cifar10.h5
datasets/cifar10.h5: | $(PROGRAM)
	datasets/get_cifar10.sh
	./$(PROGRAM) prepare --from datasets/cifar-10-binary.tar.gz --out $@

# The demo study: one worker per core plus the coordinator; a second
# `make demo` resumes (or reports) the study in runs/demo.
NP     ?= $(shell echo $$(( $$(nproc) + 1 )))
MPIRUN ?= mpirun --oversubscribe $(if $(filter 0,$(shell id -u)),--allow-run-as-root)
demo: $(PROGRAM) data
	@if [ -f runs/demo/study.journal ]; then \
	  $(MPIRUN) -np $(NP) ./$(PROGRAM) resume runs/demo; \
	else \
	  $(MPIRUN) -np $(NP) ./$(PROGRAM) run jobs/demo.yaml --out runs/demo; fi
	./$(PROGRAM) status runs/demo
	./$(PROGRAM) report runs/demo

clean:
	rm -rf build build-san hptune
