/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Printing events: a line of words each, or a JSON object each.
 *
 * Each record is composed in memory and written whole with write(2), so
 * that a failure is seen by the write that meets it.  Through stdio it
 * would only leave an error flag for some later flush to find, and a
 * signal interrupting a blocked write (the handlers do not restart) would
 * look like one. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"

static bool json_mode;
static int out_error; /* errno of the first failed write; 0: none */
static vev_loop *watch_loop;
static int stdout_watch; /* 0: none */

static void output_failed(int err)
{
	if (out_error)
		return;
	out_error = err;
	if (err == EPIPE)
		note("cannot write to standard output: the reader went away");
	else
		note("cannot write to standard output: %s", strerror(err));
	monitor_stop(EXIT_RUNTIME);
}

static void write_out(const char *buf, size_t len)
{
	while (len > 0 && !out_error) {
		ssize_t n = write(STDOUT_FILENO, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* A descriptor made non-blocking by whoever shares
			 * it: wait as a blocking write would. */
			struct pollfd p = { .fd = STDOUT_FILENO,
					    .events = POLLOUT };
			(void)poll(&p, 1, -1);
		} else {
			output_failed(n < 0 ? errno : EIO);
		}
	}
}

/* A record is composed in a memory stream, then written whole. */
struct record {
	FILE *f;
	char *buf;
	size_t len;
};

static bool record_open(struct record *r)
{
	r->buf = NULL;
	r->len = 0;
	r->f = out_error ? NULL : open_memstream(&r->buf, &r->len);
	if (!r->f && !out_error)
		output_failed(ENOMEM);
	return r->f != NULL;
}

static void record_write(struct record *r)
{
	bool failed = ferror(r->f);
	if (fclose(r->f) != 0 || failed)
		output_failed(ENOMEM);
	else
		write_out(r->buf, r->len);
	free(r->buf);
}

int output_open(void)
{
	int ret = 0;

	for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* The lowest free descriptor, so fd itself. */
		int null = open("/dev/null", fd == STDIN_FILENO ? O_RDONLY :
								   O_WRONLY);
		if (null >= 0 && null != fd) {
			dup2(null, fd);
			close(null);
		}
		if (fd == STDOUT_FILENO) {
			out_error = EBADF;
			ret = -1;
		}
	}
	if (ret < 0)
		note("cannot write to standard output: it is closed");
	return ret;
}

void output_init(bool json)
{
	json_mode = json;
}

int output_error(void)
{
	return out_error;
}

/* When the reader closes its end of the pipe (or the peer its socket), the
 * kernel reports an error (a hang-up) on ours at once: no need to wait for
 * the next write, which may be hours away on a quiet connection. */
static void on_stdout_gone(int watch, int fd, int events, void *opaque)
{
	output_unwatch();
	output_failed(EPIPE);
}

int output_watch(vev_loop *loop)
{
	struct stat sb;

	if (fstat(STDOUT_FILENO, &sb) < 0 ||
	    !(S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode)))
		return 0;
	int id = vev_add_handle(loop, STDOUT_FILENO, VEV_ERROR | VEV_HANGUP,
				on_stdout_gone, NULL, NULL);
	if (id < 0) {
		note("cannot watch standard output: %s", vev_last_error());
		return -1;
	}
	watch_loop = loop;
	stdout_watch = id;
	return 0;
}

void output_unwatch(void)
{
	if (stdout_watch > 0)
		vev_remove_handle(watch_loop, stdout_watch);
	stdout_watch = 0;
}

void output_text(const char *fmt, ...)
{
	struct record r;
	va_list ap;

	if (!record_open(&r))
		return;
	va_start(ap, fmt);
	vfprintf(r.f, fmt, ap);
	va_end(ap);
	record_write(&r);
}

static void format_time(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void json_string(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void json_fields(FILE *f, const struct field *fields, int n)
{
	fputc('{', f);
	for (int i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_string(f, fields[i].key);
		fputc(':', f);
		switch (fields[i].type) {
		case FIELD_STR:
			json_string(f, fields[i].s);
			break;
		case FIELD_INT:
			fprintf(f, "%lld", fields[i].i);
			break;
		case FIELD_UINT:
			fprintf(f, "%llu", fields[i].u);
			break;
		case FIELD_BOOL:
			fputs(fields[i].i ? "true" : "false", f);
			break;
		case FIELD_DOUBLE:
			/* JSON has no NaN or infinity. */
			if (fields[i].d == fields[i].d &&
			    fields[i].d - fields[i].d == 0)
				fprintf(f, "%.17g", fields[i].d);
			else
				fputs("null", f);
			break;
		}
	}
	fputc('}', f);
}

void output_event(virDomainPtr dom, const char *event, const char *text,
		  const struct field *fields, int nfields)
{
	char when[40], uuid[VIR_UUID_STRING_BUFLEN] = "";
	struct record r;

	if (!record_open(&r))
		return;
	const char *name = dom ? virDomainGetName(dom) : NULL;
	format_time(when, sizeof(when));
	if (dom && virDomainGetUUIDString(dom, uuid) < 0)
		uuid[0] = 0;
	if (!json_mode) {
		fprintf(r.f, "%s  %s  %s  %s\n", when, name ? name : "-", event,
			text);
		record_write(&r);
		return;
	}
	fputs("{\"time\":", r.f);
	json_string(r.f, when);
	fputs(",\"domain\":", r.f);
	json_string(r.f, name);
	fputs(",\"uuid\":", r.f);
	json_string(r.f, uuid[0] ? uuid : NULL);
	fputs(",\"event\":", r.f);
	json_string(r.f, event);
	fputs(",\"detail\":", r.f);
	json_string(r.f, text);
	fputs(",\"details\":", r.f);
	json_fields(r.f, fields, nfields);
	fputs("}\n", r.f);
	record_write(&r);
}

void output_stats(vev_loop *loop)
{
	static const struct {
		enum vev_stat which;
		const char *key, *words;
	} stats[] = {
		{ VEV_STAT_ITERATIONS, "iterations", "loop iterations" },
		{ VEV_STAT_HANDLE_CALLS, "handle_calls",
		  "watch callbacks (socket I/O)" },
		{ VEV_STAT_TIMER_CALLS, "timer_calls",
		  "timer callbacks (event delivery, keepalive, demo)" },
		{ VEV_STAT_FREE_CALLS, "free_calls", "free callbacks run" },
		{ VEV_STAT_WAKEUPS, "wakeups", "cross-thread wake-ups" },
		{ VEV_STAT_HANDLES, "handles", "watches left" },
		{ VEV_STAT_TIMERS, "timers", "timers left" },
		{ VEV_STAT_PENDING_FREES, "pending_frees",
		  "free callbacks left to run" },
		{ VEV_STAT_MEMORY, "memory_bytes", "loop memory (bytes)" },
	};
	enum { N = sizeof(stats) / sizeof(stats[0]) };
	struct field fields[N + 1];
	uint64_t values[N];

	for (int i = 0; i < N; i++) {
		values[i] = 0;
		vev_loop_stat(loop, stats[i].which, &values[i]);
		fields[i + 1] = FUINT(stats[i].key, values[i]);
	}
	fields[0] = FSTR("backend", vev_loop_backend(loop));
	if (json_mode) {
		char text[96];
		snprintf(text, sizeof(text), "%" PRIu64 " %s on the %s backend",
			 values[0], plural(values[0], "iteration", "iterations"),
			 vev_loop_backend(loop));
		output_event(NULL, "loop-statistics", text, fields, N + 1);
		return;
	}
	struct record r;
	if (!record_open(&r))
		return;
	fprintf(r.f, "loop statistics at exit (vevent %s backend):\n",
		vev_loop_backend(loop));
	for (int i = 0; i < N; i++)
		fprintf(r.f, "  %-50s %" PRIu64 "\n", stats[i].words,
			values[i]);
	record_write(&r);
}
