/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vevent-monitor: prints libvirt domain events as they arrive, with a
 * vevent loop registered as libvirt's event loop through the bridge.
 *
 * Everything runs on the main thread, which runs the loop: libvirt's
 * socket watches, keepalive and event timers, the signal pipe, the duration
 * timer, the watch on stdout and the demo's steps.  Stopping (signal,
 * duration, end of the demo, lost connection, lost output) only sets a flag
 * in a callback; the main thread then deregisters, closes and keeps running
 * the loop until libvirt's last registrations are gone and their free
 * callbacks have run. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/virterror.h>
#include <vevent/libvirt-bridge.h>

#include "monitor.h"

#define DEFAULT_URI "test:///default"
#define SHUTDOWN_TIMEOUT_MS 10000
/* The longest --duration: a larger value is more likely a slip than a
 * plan, and leaving the option out runs until stopped. */
#define DURATION_MAX_S 1000000000 /* about 31.7 years */
/* A loop timer's period is an int of milliseconds (24.8 days at most), so
 * --duration is a deadline on the monotonic clock that the timer
 * approaches in steps of at most this. */
#define DURATION_STEP_MS (24 * 3600 * 1000)
/* For the test suite only: a shorter step, to exercise the re-arming
 * without waiting a day. */
#define DURATION_STEP_ENV "VEVENT_MONITOR_TEST_DURATION_STEP_MS"

static const char *program = "vevent-monitor";

static struct {
	const char *uri;
	int64_t duration_ms; /* 0: until stopped */
	bool json, demo, stats, all_events;
	int demo_delay_ms;
	int ka_interval, ka_count;
	bool selected[64]; /* by index in event_types */
} opt = {
	.uri = DEFAULT_URI,
	.demo_delay_ms = 400,
	.ka_interval = 5,
	.ka_count = 3,
	.all_events = true,
};

static struct {
	vev_loop *loop;
	virConnectPtr conn;
	int callback_ids[64];  /* by index in event_types; -1: none */
	int pending_frees;     /* subscriptions whose free callback is due */
	bool close_registered;
	bool stop;
	int status;
	int signal_pipe[2];
	int signal_watch, duration_timer;
	int64_t duration_deadline_ms, duration_step_ms;
} st;

static volatile sig_atomic_t signals_seen;
/* Set while the main thread is inside a libvirt call that cannot be
 * interrupted and that no loop callback will end (opening a connection to
 * a server that does not answer). */
static volatile sig_atomic_t in_blocking_call;

void note(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", program);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *plural(unsigned long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

const char *libvirt_error(void)
{
	const char *msg = virGetLastErrorMessage();
	return msg ? msg : "unknown libvirt error";
}

/* libvirt's default handler prints every error on stderr, including the
 * expected ones (keepalive on a local driver); the monitor says itself
 * what matters. */
static void quiet_libvirt_errors(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

static void request_stop(int status)
{
	if (!st.stop || status > st.status)
		st.status = status;
	st.stop = true;
}

void monitor_stop(int status)
{
	request_stop(status);
}

/* ---- signals ------------------------------------------------------------ */

static void on_signal(int sig)
{
	int saved = errno;
	/* Nothing to clean up yet while connecting; and a second signal means
	 * the program is stuck inside libvirt (closing a connection to a
	 * frozen daemon without keepalive): leave now. */
	if (in_blocking_call || signals_seen++ > 0) {
		static const char msg[] = "vevent-monitor: interrupted\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		_exit(EXIT_RUNTIME);
	}
	unsigned char c = (unsigned char)sig;
	(void)!write(st.signal_pipe[1], &c, 1);
	errno = saved;
}

static void on_signal_pipe(int watch, int fd, int events, void *opaque)
{
	unsigned char c = 0;
	while (read(fd, &c, 1) == 1)
		;
	note("%s received, stopping", c == SIGINT ? "SIGINT" : "SIGTERM");
	request_stop(EXIT_OK);
}

static int setup_signals(void)
{
	if (pipe2(st.signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		note("pipe: %s", strerror(errno));
		return -1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* libvirt writes to sockets whose peer may have gone. */
	signal(SIGPIPE, SIG_IGN);
	st.signal_watch = vev_add_handle(st.loop, st.signal_pipe[0],
					 VEV_READABLE, on_signal_pipe, NULL,
					 NULL);
	if (st.signal_watch < 0) {
		note("cannot watch the signal pipe: %s", vev_last_error());
		return -1;
	}
	return 0;
}

/* ---- the connection ----------------------------------------------------- */

static const char *close_reason_words(int reason, const char **key)
{
	switch (reason) {
	case VIR_CONNECT_CLOSE_REASON_ERROR:
		*key = "error";
		return "I/O error on the connection";
	case VIR_CONNECT_CLOSE_REASON_EOF:
		*key = "eof";
		return "end of file from the server (the daemon exited or "
		       "dropped this client)";
	case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
		*key = "keepalive";
		return "keepalive timeout (the server stopped answering)";
	case VIR_CONNECT_CLOSE_REASON_CLIENT:
		*key = "client";
		return "closed by the client";
	}
	*key = "unknown";
	return "unknown reason";
}

static void on_connection_closed(virConnectPtr conn, int reason, void *opaque)
{
	const char *key, *words = close_reason_words(reason, &key);
	note("connection to %s closed: %s", opt.uri, words);
	struct field f[] = { FSTR("reason", key), FINT("reason_code", reason) };
	output_event(NULL, "connection-closed", words, f, 2);
	request_stop(EXIT_RUNTIME);
}

static void subscription_freed(void *opaque)
{
	(void)opaque;
	st.pending_frees--;
}

/* Subscribes to the selected types.  With "all", a type the library or
 * the server does not support is skipped with a note; a type asked for by
 * name must work. */
static int subscribe(void)
{
	char skipped[1024] = "";
	int count = 0;

	for (int i = 0; i < n_event_types; i++) {
		st.callback_ids[i] = -1;
		if (!opt.all_events && !opt.selected[i])
			continue;
		int id = virConnectDomainEventRegisterAny(
			st.conn, NULL, event_types[i].id, event_types[i].cb,
			(void *)&event_types[i], subscription_freed);
		if (id < 0) {
			if (!opt.all_events) {
				note("cannot subscribe to %s events: %s",
				     event_types[i].name, libvirt_error());
				return -1;
			}
			size_t len = strlen(skipped);
			snprintf(skipped + len, sizeof(skipped) - len, "%s%s",
				 len ? ", " : "", event_types[i].name);
			continue;
		}
		st.callback_ids[i] = id;
		st.pending_frees++;
		count++;
	}
	if (skipped[0])
		note("not supported by this connection, skipped: %s", skipped);
	if (count == 0) {
		note("no event type could be subscribed to");
		return -1;
	}
	return count;
}

bool monitor_subscribed(int event_id)
{
	for (int i = 0; i < n_event_types; i++)
		if (event_types[i].id == event_id)
			return st.callback_ids[i] >= 0;
	return false;
}

static void unsubscribe(void)
{
	for (int i = 0; i < n_event_types; i++) {
		if (st.callback_ids[i] < 0)
			continue;
		/* On a connection already closed this fails, and libvirt
		 * releases the callback when the connection goes. */
		virConnectDomainEventDeregisterAny(st.conn, st.callback_ids[i]);
		st.callback_ids[i] = -1;
	}
	if (st.close_registered)
		virConnectUnregisterCloseCallback(st.conn,
						  on_connection_closed);
	st.close_registered = false;
}

static void enable_keepalive(void)
{
	if (opt.ka_interval <= 0)
		return;
	int rc = virConnectSetKeepAlive(st.conn, opt.ka_interval, opt.ka_count);
	if (rc == 1) {
		note("the server does not support keepalive");
	} else if (rc < 0) {
		/* Local drivers (test:///default) have no connection to keep
		 * alive. */
		if (virGetLastErrorCode() != VIR_ERR_NO_SUPPORT)
			note("cannot enable keepalive: %s", libvirt_error());
		virResetLastError();
	}
}

/* ---- stopping ----------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The period that brings the duration timer to its deadline, or nearer by
 * a step; 0 once the deadline has passed.  The deadline was computed from a
 * truncated now_ms() and the loop never fires a timer early, so the last
 * step ends at or after the deadline, never a millisecond short of it. */
static int duration_period(void)
{
	int64_t left = st.duration_deadline_ms - now_ms();
	if (left <= 0)
		return 0;
	return (int)(left < st.duration_step_ms ? left : st.duration_step_ms);
}

static void on_duration(int timer, void *opaque)
{
	int period = duration_period();
	if (period > 0)
		vev_update_timer(st.loop, timer, period);
	else
		request_stop(EXIT_OK);
}

static int start_duration(void)
{
	st.duration_step_ms = DURATION_STEP_MS;
	const char *env = getenv(DURATION_STEP_ENV);
	if (env && *env) {
		char *end;
		long v = strtol(env, &end, 10);
		if (*end || v < 1 || v > DURATION_STEP_MS) {
			note("%s: '%s' is not 1-%d milliseconds",
			     DURATION_STEP_ENV, env, DURATION_STEP_MS);
			return -1;
		}
		st.duration_step_ms = v;
	}
	st.duration_deadline_ms = now_ms() + opt.duration_ms;
	st.duration_timer = vev_add_timer(st.loop, duration_period(),
					  on_duration, NULL, NULL);
	if (st.duration_timer < 0) {
		note("%s", vev_last_error());
		st.duration_timer = 0;
		return -1;
	}
	return 0;
}

static void demo_done(int status)
{
	request_stop(status);
}

static uint64_t stat_of(enum vev_stat which)
{
	uint64_t v = 0;
	vev_loop_stat(st.loop, which, &v);
	return v;
}

/* Registrations that are not the monitor's own are libvirt's. */
static bool libvirt_done(void)
{
	return st.pending_frees == 0 && stat_of(VEV_STAT_HANDLES) == 1 &&
	       stat_of(VEV_STAT_TIMERS) == 0 &&
	       stat_of(VEV_STAT_PENDING_FREES) == 0;
}

static void shut_down(void)
{
	demo_stop();
	output_unwatch();
	if (st.duration_timer > 0)
		vev_remove_timer(st.loop, st.duration_timer);
	st.duration_timer = 0;
	if (st.conn) {
		unsubscribe();
		if (virConnectClose(st.conn) < 0)
			note("closing the connection: %s", libvirt_error());
		st.conn = NULL;
	}
	/* libvirt removes its watches and timers as the connection goes,
	 * possibly a little later; their free callbacks run on the loop. */
	int64_t deadline = now_ms() + SHUTDOWN_TIMEOUT_MS;
	vev_loop_drain(st.loop);
	while (!libvirt_done()) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			unsigned long long watches =
				stat_of(VEV_STAT_HANDLES) - 1;
			unsigned long long timers = stat_of(VEV_STAT_TIMERS);
			note("libvirt still holds %llu %s and %llu %s on the "
			     "loop (%d event %s not released) after %d s",
			     watches, plural(watches, "watch", "watches"),
			     timers, plural(timers, "timer", "timers"),
			     st.pending_frees,
			     plural((unsigned)st.pending_frees, "callback",
				    "callbacks"),
			     SHUTDOWN_TIMEOUT_MS / 1000);
			request_stop(EXIT_RUNTIME);
			break;
		}
		if (vev_run_once(st.loop, (int)left) < 0) {
			note("%s", vev_last_error());
			request_stop(EXIT_RUNTIME);
			break;
		}
		vev_loop_drain(st.loop);
	}
	vev_remove_handle(st.loop, st.signal_watch);
	vev_loop_drain(st.loop);
	if (opt.stats || opt.demo)
		output_stats(st.loop);
}

/* ---- options ------------------------------------------------------------ */

static void usage(void)
{
	output_text(
		"Usage: %s [OPTION]...\n"
		"Print libvirt domain events as they arrive, one line each, with a\n"
		"vevent loop as libvirt's event loop.\n"
		"\n"
		"  -u, --uri URI          connection URI (default %s)\n"
		"  -e, --events LIST      comma-separated event types, or 'all' "
		"(default)\n"
		"  -d, --duration SECS    stop after SECS seconds (decimals "
		"allowed)\n"
		"  -j, --json             one JSON object per line\n"
		"  -k, --keepalive I[,N]  ping every I s, give up after N "
		"unanswered\n"
		"                         (default 5,3; 0 disables; remote "
		"URIs only)\n"
		"      --demo             on the test driver, drive a scripted "
		"scenario,\n"
		"                         print loop statistics and exit\n"
		"      --demo-delay MS    pause between demo steps (default "
		"400)\n"
		"      --stats            print loop statistics on exit\n"
		"      --list-events      print the event types and exit\n"
		"  -h, --help             print this help and exit\n"
		"  -V, --version          print the version and exit\n"
		"\n"
		"Exit status: 0 stopped by a signal, --duration or the end of "
		"the demo;\n"
		"1 runtime failure (cannot connect, connection lost, cannot "
		"write the\n"
		"output); 2 usage error.\n",
		program, DEFAULT_URI);
}

static void list_events(FILE *f, const char *sep)
{
	for (int i = 0; i < n_event_types; i++)
		fprintf(f, "%s%s", i ? sep : "", event_types[i].name);
}

static int parse_events(const char *list)
{
	if (!*list) {
		fprintf(stderr, "%s: --events needs at least one type\n",
			program);
		return -1;
	}
	char *copy = strdup(list);
	if (!copy) {
		fprintf(stderr, "%s: out of memory\n", program);
		return -1;
	}
	opt.all_events = false;
	for (char *rest = copy, *name; (name = strsep(&rest, ",")) != NULL;) {
		if (!*name) {
			fprintf(stderr, "%s: --events: '%s' has an empty event "
				"type name; separate names with single "
				"commas\n", program, list);
			free(copy);
			return -1;
		}
		for (char *p = name; *p; p++)
			if (*p == '_')
				*p = '-';
		if (strcmp(name, "all") == 0) {
			opt.all_events = true;
			continue;
		}
		int i = event_type_find(name);
		if (i < 0) {
			fprintf(stderr, "%s: unknown event type '%s'; valid "
				"types: ", program, name);
			list_events(stderr, ", ");
			fprintf(stderr, ", all\n");
			free(copy);
			return -1;
		}
		opt.selected[i] = true;
	}
	free(copy);
	return 0;
}

static int parse_duration(const char *text, int64_t *ms)
{
	char *end;
	errno = 0;
	double secs = strtod(text, &end);
	/* 1e-400: positive, but below what a double holds. */
	bool tiny = errno == ERANGE && secs == 0 && !signbit(secs);
	if (end == text || *end || isnan(secs) || (!(secs > 0) && !tiny)) {
		fprintf(stderr, "%s: --duration: '%s' is not a positive number "
			"of seconds\n", program, text);
		return -1;
	}
	if (secs > DURATION_MAX_S) {
		fprintf(stderr, "%s: --duration: '%s' is more than the maximum "
			"of %d seconds (about 31 years); leave --duration out "
			"to run until stopped\n", program, text,
			DURATION_MAX_S);
		return -1;
	}
	/* To the millisecond, the loop's resolution. */
	*ms = (int64_t)(secs * 1000 + 0.5);
	if (*ms == 0)
		*ms = 1;
	return 0;
}

static int parse_keepalive(const char *text)
{
	char *end;
	long interval = strtol(text, &end, 10), count = opt.ka_count;
	if (end != text && *end == ',')
		count = strtol(end + 1, &end, 10);
	if (end == text || *end || interval < 0 || interval > 3600 ||
	    count < 0 || count > 100) {
		fprintf(stderr, "%s: --keepalive: '%s' is not INTERVAL[,COUNT] "
			"(seconds 0-3600, count 0-100)\n", program, text);
		return -1;
	}
	opt.ka_interval = (int)interval;
	opt.ka_count = (int)count;
	return 0;
}

static const char try_help[] = "Try 'vevent-monitor --help'.\n";

enum { OPT_DEMO = 256, OPT_DEMO_DELAY, OPT_STATS, OPT_LIST };

static int parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "uri", required_argument, NULL, 'u' },
		{ "events", required_argument, NULL, 'e' },
		{ "duration", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "keepalive", required_argument, NULL, 'k' },
		{ "demo", no_argument, NULL, OPT_DEMO },
		{ "demo-delay", required_argument, NULL, OPT_DEMO_DELAY },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "list-events", no_argument, NULL, OPT_LIST },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;
	long v;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":u:e:d:jk:hV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'u':
			if (!*optarg) {
				fprintf(stderr, "%s: --uri needs a URI\n",
					program);
				return EXIT_USAGE;
			}
			opt.uri = optarg;
			break;
		case 'e':
			if (parse_events(optarg) < 0)
				return EXIT_USAGE;
			break;
		case 'd':
			if (parse_duration(optarg, &opt.duration_ms) < 0)
				return EXIT_USAGE;
			break;
		case 'j':
			opt.json = true;
			break;
		case 'k':
			if (parse_keepalive(optarg) < 0)
				return EXIT_USAGE;
			break;
		case OPT_DEMO:
			opt.demo = true;
			break;
		case OPT_DEMO_DELAY:
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end || v < 0 || v > 60000) {
				fprintf(stderr, "%s: --demo-delay: '%s' is not "
					"0-60000 milliseconds\n", program,
					optarg);
				return EXIT_USAGE;
			}
			opt.demo_delay_ms = (int)v;
			break;
		case OPT_STATS:
			opt.stats = true;
			break;
		case OPT_LIST:
			for (int i = 0; i < n_event_types; i++)
				output_text("%s\n", event_types[i].name);
			return EXIT_OK;
		case 'h':
			usage();
			return EXIT_OK;
		case 'V': {
			unsigned long lv = 0;
			virGetVersion(&lv, NULL, NULL);
			output_text("%s %s (vevent %s, libvirt %lu.%lu.%lu)\n",
				    program, vev_version(), vev_version(),
				    lv / 1000000, lv / 1000 % 1000, lv % 1000);
			return EXIT_OK;
		}
		case ':':
			fprintf(stderr, "%s: option '%s' needs a value\n%s",
				program, argv[optind - 1], try_help);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "%s: unknown option '%s'\n%s", program,
				argv[optind - 1], try_help);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n%s", program,
			argv[optind], try_help);
		return EXIT_USAGE;
	}
	return -1; /* go on */
}

/* ---- main --------------------------------------------------------------- */

static int run(void)
{
	int rc = vev_loop_new(&st.loop, VEV_LOOP_AUTO);
	if (rc < 0) {
		note("%s", vev_last_error());
		return EXIT_RUNTIME;
	}
	/* Before any connection: libvirt needs its event loop first. */
	if (vev_libvirt_register(st.loop) < 0) {
		note("%s", vev_libvirt_last_error());
		return EXIT_RUNTIME;
	}
	virSetErrorFunc(NULL, quiet_libvirt_errors);
	if (setup_signals() < 0 || output_watch(st.loop) < 0)
		return EXIT_RUNTIME;

	/* Watching needs no write access; the demo does. */
	in_blocking_call = 1;
	st.conn = virConnectOpenAuth(opt.uri, virConnectAuthPtrDefault,
				     opt.demo ? 0 : VIR_CONNECT_RO);
	in_blocking_call = 0;
	if (!st.conn) {
		note("cannot connect to %s: %s", opt.uri, libvirt_error());
		shut_down();
		return EXIT_RUNTIME;
	}
	if (opt.demo) {
		const char *type = virConnectGetType(st.conn);
		if (!type || strcasecmp(type, "test") != 0) {
			note("--demo needs libvirt's test driver (a test:// "
			     "URI), not %s", type ? type : "this driver");
			shut_down();
			return EXIT_USAGE;
		}
	}
	enable_keepalive();
	if (virConnectRegisterCloseCallback(st.conn, on_connection_closed, NULL,
					    NULL) == 0)
		st.close_registered = true;
	else
		virResetLastError();
	int types = subscribe();
	if (types < 0) {
		shut_down();
		return EXIT_RUNTIME;
	}
	if (opt.duration_ms > 0 && start_duration() < 0) {
		shut_down();
		return EXIT_RUNTIME;
	}
	note("watching %s for %d %s on a vevent %s loop%s", opt.uri, types,
	     plural((unsigned)types, "event type", "event types"),
	     vev_loop_backend(st.loop),
	     opt.demo ? "; running the demo" : "; Ctrl-C to stop");
	if (opt.demo &&
	    demo_start(st.loop, st.conn, opt.demo_delay_ms, demo_done) < 0) {
		shut_down();
		return EXIT_RUNTIME;
	}

	while (!st.stop) {
		rc = vev_run_once(st.loop, VEV_WAIT_FOREVER);
		if (rc < 0) {
			note("%s", vev_last_error());
			request_stop(EXIT_RUNTIME);
		}
	}
	shut_down();
	return st.status;
}

int main(int argc, char **argv)
{
	if (output_open() < 0)
		return EXIT_RUNTIME;
	int rc = parse_options(argc, argv);
	if (rc >= 0)
		return output_error() ? EXIT_RUNTIME : rc;
	output_init(opt.json);
	for (size_t i = 0; i < sizeof(st.callback_ids) / sizeof(int); i++)
		st.callback_ids[i] = -1;
	st.signal_pipe[0] = st.signal_pipe[1] = -1;
	rc = run();
	/* The loop stays registered with libvirt until the process ends, as
	 * libvirt requires; everything of libvirt's on it is gone. */
	return rc;
}
