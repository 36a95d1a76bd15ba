/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A tiny test harness: each test executable holds named tests, runs the one
 * named on its command line in its own process, under a watchdog. */
#ifndef VEVENT_TEST_HARNESS_H
#define VEVENT_TEST_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n",   \
				__FILE__, __LINE__, __func__, #cond);      \
			test_failed();                                     \
		}                                                          \
	} while (0)

#define CHECK_EQ(a, b)                                                     \
	do {                                                               \
		long long a_ = (long long)(a), b_ = (long long)(b);        \
		if (a_ != b_) {                                            \
			fprintf(stderr, "%s:%d: %s: %s == %lld, expected " \
				"%s == %lld\n", __FILE__, __LINE__,        \
				__func__, #a, a_, #b, b_);                 \
			test_failed();                                     \
		}                                                          \
	} while (0)

struct test {
	const char *name;
	void (*fn)(void);
};

/* Each test file defines `tests[]`, terminated by {NULL, NULL}. */
extern const struct test tests[];

/* A name for the implementation under test, printed on failure. */
extern const char *test_subject;

static inline void test_failed(void)
{
	fprintf(stderr, "FAILED (%s)\n", test_subject ? test_subject : "");
	fflush(stderr);
	_exit(1);
}

static inline int64_t test_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void test_pipe(int p[2])
{
	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
}

static inline void test_socketpair(int s[2])
{
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0, s) == 0);
}

static inline void test_write1(int fd)
{
	CHECK(write(fd, "x", 1) == 1);
}

static inline void test_drain(int fd)
{
	char buf[256];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int test_main(int argc, char **argv);

#ifdef TEST_HARNESS_MAIN
const char *test_subject;

int main(int argc, char **argv)
{
	unsigned watchdog = 30;
	const char *w = getenv("VEVENT_TEST_WATCHDOG");

	if (w)
		watchdog = (unsigned)atoi(w);
	if (argc != 2) {
		fprintf(stderr, "usage: %s TEST | --list\n", argv[0]);
		return 2;
	}
	for (const struct test *t = tests; t->name; t++) {
		if (strcmp(argv[1], "--list") == 0) {
			printf("%s\n", t->name);
			continue;
		}
		if (strcmp(argv[1], t->name) != 0)
			continue;
		/* A hang is a failure: SIGALRM's default action ends us. */
		alarm(watchdog);
		t->fn();
		printf("ok %s (%s)\n", t->name, test_subject ? test_subject : "");
		return 0;
	}
	if (strcmp(argv[1], "--list") == 0)
		return 0;
	fprintf(stderr, "no test named %s\n", argv[1]);
	return 2;
}
#endif

#endif
