/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The benchmark backends: every workload is written once against this small
 * table of operations, and one file per event loop implements it.
 *
 * A benchmark process drives exactly one backend (chosen with --backend), so
 * each adapter keeps its loop in file-static state.  All adapters call the
 * workload through the same four function pointers below, so the cost of that
 * indirection is the same for every loop.
 *
 * Handles returned by add_watch()/add_timer() are >= 0 (a library id or an
 * index into the adapter's table); -1 means failure.  Adapters that need a
 * table allocate it in init() with the capacities given, so that a memory
 * measurement taken after init() sees only what the loop itself allocates
 * per registration.
 */
#ifndef BENCH_BK_H
#define BENCH_BK_H

#include <stdint.h>

/* Set by the workload before init(). */
extern void (*bk_io_cb)(int fd, void *opaque); /* fd readable */
extern void (*bk_timer_cb)(void *opaque);      /* periodic timer fired */
extern void (*bk_tick_cb)(void);	       /* once per iteration */
extern void (*bk_wake_cb)(void);	       /* wake() reached the loop */

enum bk_flags {
	BK_THREADS = 1 << 0, /* wake() will be called from another thread */
};

struct bk_ops {
	const char *name;
	/* The library and its version, e.g. "libev 4.33 (epoll)". */
	const char *(*describe)(void);
	int (*init)(int max_watches, int max_timers, unsigned flags);

	/* Watch fd for readability, level-triggered; bk_io_cb(fd, opaque). */
	int (*add_watch)(int fd, void *opaque);
	int (*del_watch)(int h);

	/* Periodic timer of ms > 0 milliseconds; bk_timer_cb(opaque). */
	int (*add_timer)(int ms, void *opaque);
	/* New period ms > 0, countdown restarted from now. */
	int (*update_timer)(int h, int ms);
	int (*del_timer)(int h);

	/* Register bk_tick_cb to run once per iteration; while it is
	 * registered no iteration blocks.  The library's cheapest way to do
	 * so (a zero timeout, an idle or a prepare watcher). */
	int (*add_tick)(void);
	int (*del_tick)(void);

	/* One iteration of the loop; blocks while nothing is ready. */
	int (*run_once)(void);
	/* Optional: one iteration that never blocks, without a tick.  The
	 * libvirt API has no such call, so the compat backends lack it; it
	 * separates the cost of the tick from that of the iteration. */
	int (*run_nowait)(void);

	/* Cross-thread wake-up: after wake_init() on the loop thread, wake()
	 * may be called from another thread and must make bk_wake_cb() run
	 * on the loop thread, through the library's own mechanism. */
	int (*wake_init)(void);
	int (*wake)(void);

	/* Optional (NULL if the library has none): the loop's own count of
	 * heap bytes it holds, and of watch callbacks it dispatched. */
	int (*mem_bytes)(uint64_t *bytes);
	int (*io_calls)(uint64_t *calls);
};

/* ---- registry (bk_registry.c) ---- */
const struct bk_ops *bk_find(const char *name);
void bk_list(void);

/* ---- helpers (bk_common.c) ---- */
uint64_t bk_now_ns(void);
__attribute__((noreturn, format(printf, 1, 2))) void bk_fail(const char *fmt,
							     ...);
void bk_raise_nofile(void);
int bk_nofile_limit(void);
/* n descriptors (n even) from n/2 socketpairs; fds[i ^ 1] is i's peer. */
int *bk_socketpairs(int n);
void bk_close_all(int *fds, int n);
/* Deterministic PRNG (xorshift64*), identical sequence for every backend. */
uint64_t bk_rand(uint64_t *state);
void bk_shuffle(int *v, int n, uint64_t *state);
int bk_cmp_double(const void *a, const void *b);
/* Both sort v in place. */
double bk_median(double *v, int n);
double bk_quantile(double *v, int n, double q);
/* Heap bytes in use according to malloc (all arenas, mmapped chunks too). */
uint64_t bk_malloc_bytes(void);
void bk_pin_cpu(int cpu);

/* Command line: "--key value" pairs, looked up by key. */
void bk_args_init(int argc, char **argv);
const char *bk_arg(const char *key, const char *dflt);
long bk_arg_long(const char *key, long dflt);
/* Prints "--list" output or finds --backend; exits on error. */
const struct bk_ops *bk_backend_from_args(void);

/* Two clocks: wall (CLOCK_MONOTONIC) and the CPU time of the process
 * (CLOCK_PROCESS_CPUTIME_ID, user + system, all threads).  Single-threaded
 * workloads report CPU time as their main figure: on a shared machine it
 * leaves out the time the process waits for a CPU, which wall time does
 * not.  Wall time is reported next to it. */
struct bk_span {
	uint64_t wall, cpu; /* ns */
};
struct bk_span bk_span_start(void);
struct bk_span bk_span_since(struct bk_span start);

/* Time batches of k iterations (batch(k) runs and checks them): k is chosen
 * so that a batch lasts about 20 ms (at least 1 iteration); up to `rounds`
 * batches, stopping early once max_s seconds are spent. */
struct bk_batches {
	double cpu_ns, wall_ns; /* per iteration, median over batches */
	double cpu_min_ns;	/* per iteration, best batch */
	long k;
	int batches;
};
struct bk_batches bk_measure_batches(void (*batch)(long k), int rounds,
				     double max_s);

/* One result line: "RESULT key=value ..." (fmt gives the key=value list). */
__attribute__((format(printf, 1, 2))) void bk_result(const char *fmt, ...);

#endif /* BENCH_BK_H */
