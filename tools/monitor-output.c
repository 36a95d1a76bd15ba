/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Printing events: a line of words each, or a JSON object each. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "monitor.h"

static bool json_mode;

void output_init(bool json)
{
	json_mode = json;
	/* One event per line as it arrives, also into a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);
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
	const char *name = dom ? virDomainGetName(dom) : NULL;

	format_time(when, sizeof(when));
	if (dom && virDomainGetUUIDString(dom, uuid) < 0)
		uuid[0] = 0;
	if (!json_mode) {
		printf("%s  %s  %s  %s\n", when, name ? name : "-", event, text);
		return;
	}
	fputs("{\"time\":", stdout);
	json_string(stdout, when);
	fputs(",\"domain\":", stdout);
	json_string(stdout, name);
	fputs(",\"uuid\":", stdout);
	json_string(stdout, uuid[0] ? uuid : NULL);
	fputs(",\"event\":", stdout);
	json_string(stdout, event);
	fputs(",\"detail\":", stdout);
	json_string(stdout, text);
	fputs(",\"details\":", stdout);
	json_fields(stdout, fields, nfields);
	fputs("}\n", stdout);
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
		snprintf(text, sizeof(text),
			 "%" PRIu64 " iterations on the %s backend", values[0],
			 vev_loop_backend(loop));
		output_event(NULL, "loop-statistics", text, fields, N + 1);
		return;
	}
	printf("loop statistics at exit (vevent %s backend):\n",
	       vev_loop_backend(loop));
	for (int i = 0; i < N; i++)
		printf("  %-50s %" PRIu64 "\n", stats[i].words, values[i]);
}
