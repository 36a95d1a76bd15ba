/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A private libvirtd for the tests (docs/design.md, "Tests against real
 * components"): root, a config whose unix_sock_dir is a short temporary
 * directory, TCP and TLS off, no authentication on the UNIX sockets, the
 * daemon's keepalive as asked, LIBVIRT_DRIVER_DIR pointing at an empty
 * directory so that no driver module loads and only the test driver built into
 * libvirt remains, HOME and XDG_* inside the temporary directory, and an idle
 * timeout as a last resort.  See lvd.h. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lvd.h"

#define SKIP 77

static char dir[64];
static pid_t daemon_pid = -1;
static volatile sig_atomic_t child_pid = -1;
static volatile sig_atomic_t timed_out;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remove_entry(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

static void show_log(void)
{
	char path[PATH_MAX], line[1024];
	snprintf(path, sizeof(path), "%s/libvirtd.log", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	fprintf(stderr, "lvd: --- libvirtd log ---\n");
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fprintf(stderr, "lvd: --- end of log ---\n");
	fclose(f);
}

/* Ends the daemon, whether running, stopped by a test, or gone already. */
static void stop_daemon(void)
{
	if (daemon_pid <= 0)
		return;
	kill(daemon_pid, SIGCONT);
	kill(daemon_pid, SIGTERM);
	/* SIGCHLD is blocked (see main): wait for it, up to a deadline. */
	int64_t deadline = now_ms() + 5000;
	int status;
	while (waitpid(daemon_pid, &status, WNOHANG) == 0) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			kill(daemon_pid, SIGKILL);
			waitpid(daemon_pid, &status, 0);
			break;
		}
		sigset_t chld;
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		struct timespec ts = { left / 1000, (left % 1000) * 1000000 };
		sigtimedwait(&chld, NULL, &ts);
	}
	daemon_pid = -1;
}

static void cleanup(void)
{
	stop_daemon();
	if (dir[0])
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	dir[0] = 0;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "lvd: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	show_log();
	cleanup();
	exit(1);
}

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* The test harness's watchdog, armed before the fork, fires here. */
static void on_watchdog(int sig)
{
	(void)sig;
	timed_out = 1;
	if (child_pid > 0)
		kill(child_pid, SIGKILL);
}

static const char *find_libvirtd(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("LIBVIRTD");
	if (env && *env)
		return access(env, X_OK) == 0 ? env : NULL;
	const char *p = getenv("PATH");
	char search[4096];
	snprintf(search, sizeof(search), "%s:/usr/sbin:/usr/local/sbin",
		 p ? p : "/usr/bin:/bin");
	for (char *save, *d = strtok_r(search, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(path, sizeof(path), "%s/libvirtd", d);
		if (access(path, X_OK) == 0)
			return path;
	}
	return NULL;
}

static void write_file(const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		die("cannot write %s: %s", path, strerror(errno));
}

static void make_dir(const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mkdir(path, 0700) < 0)
		die("mkdir %s: %s", path, strerror(errno));
}

/* libvirtd creates its socket before it listens and serves only once its
 * event loop runs: retry connecting, bounded by a deadline. */
static void wait_for_socket(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(sock) >= sizeof(sa.sun_path))
		die("socket path too long: %s", sock);
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	int64_t deadline = now_ms() + 20000;
	for (;;) {
		int status;
		if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
			daemon_pid = -1;
			die("libvirtd exited during startup (status %d)",
			    WIFEXITED(status) ? WEXITSTATUS(status) :
						128 + WTERMSIG(status));
		}
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket: %s", strerror(errno));
		int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (rc == 0)
			return;
		if (now_ms() > deadline)
			die("libvirtd's socket %s did not appear within 20 s",
			    sock);
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

void lvd_fork(int interval, int count)
{
	if (geteuid() != 0) {
		printf("SKIP: a private libvirtd runs as root (docs/design.md, "
		       "\"Tests against real components\"); this is uid %d\n",
		       (int)geteuid());
		fflush(NULL);
		exit(SKIP);
	}
	const char *libvirtd = find_libvirtd();
	if (!libvirtd) {
		printf("SKIP: libvirtd not found (install Debian's "
		       "libvirt-daemon, or set LIBVIRTD)\n");
		fflush(NULL);
		exit(SKIP);
	}

	/* unix_sock_dir must stay short: sun_path holds 108 bytes. */
	snprintf(dir, sizeof(dir), "/tmp/vev-lvd.XXXXXX");
	if (!mkdtemp(dir)) {
		dir[0] = 0;
		die("mkdtemp: %s", strerror(errno));
	}
	make_dir("run");
	make_dir("drivers");
	make_dir("home");
	char conf[2048];
	snprintf(conf, sizeof(conf),
		 "unix_sock_dir = \"%s/run\"\n"
		 "listen_tcp = 0\n"
		 "listen_tls = 0\n"
		 "auth_unix_rw = \"none\"\n"
		 "auth_unix_ro = \"none\"\n"
		 "keepalive_interval = %d\n"
		 "keepalive_count = %d\n"
		 "log_outputs = \"3:stderr\"\n",
		 dir, interval, count);
	write_file("libvirtd.conf", conf);

	char conf_path[PATH_MAX], pid_path[PATH_MAX], log_path[PATH_MAX];
	char sock[PATH_MAX], drivers[PATH_MAX], home[PATH_MAX];
	snprintf(conf_path, sizeof(conf_path), "%s/libvirtd.conf", dir);
	snprintf(pid_path, sizeof(pid_path), "%s/libvirtd.pid", dir);
	snprintf(log_path, sizeof(log_path), "%s/libvirtd.log", dir);
	snprintf(sock, sizeof(sock), "%s/run/libvirt-sock", dir);
	snprintf(drivers, sizeof(drivers), "%s/drivers", dir);
	snprintf(home, sizeof(home), "%s/home", dir);

	/* Kept blocked so that stop_daemon() can wait for the daemon's end;
	 * the children get the default mask back. */
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);

	pid_t parent = getpid();
	fflush(NULL);
	daemon_pid = fork();
	if (daemon_pid < 0)
		die("fork: %s", strerror(errno));
	if (daemon_pid == 0) {
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_RDONLY);
		if (log < 0 || null < 0)
			_exit(1);
		dup2(null, 0);
		dup2(log, 1);
		dup2(log, 2);
		setenv("LIBVIRT_DRIVER_DIR", drivers, 1);
		setenv("HOME", home, 1);
		setenv("XDG_RUNTIME_DIR", home, 1);
		setenv("XDG_CONFIG_HOME", home, 1);
		setenv("XDG_CACHE_HOME", home, 1);
		unsetenv("LIBVIRT_DEBUG");
		execl(libvirtd, libvirtd, "-f", conf_path, "-p", pid_path,
		      "-t", "120", (char *)NULL);
		_exit(127);
	}
	wait_for_socket(sock);

	char uri[PATH_MAX + 64], pid_text[32];
	snprintf(uri, sizeof(uri), "test+unix:///default?socket=%s", sock);
	snprintf(pid_text, sizeof(pid_text), "%d", (int)daemon_pid);
	setenv("VEVENT_TEST_LIBVIRTD_URI", uri, 1);
	setenv("VEVENT_TEST_LIBVIRTD_PID", pid_text, 1);
	setenv("VEVENT_TEST_LIBVIRTD_DIR", dir, 1);

	struct sigaction sa = { .sa_handler = forward_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_watchdog;
	sigaction(SIGALRM, &sa, NULL);

	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		/* The child: what runs next to the daemon. */
		alarm(0);
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		return;
	}
	child_pid = pid;
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	child_pid = -1;
	int rc = WIFEXITED(status) ? WEXITSTATUS(status) :
				     128 + WTERMSIG(status);
	if (timed_out)
		fprintf(stderr, "lvd: the test timed out (watchdog)\n");
	if (rc != 0 && rc != SKIP)
		show_log();
	cleanup();
	fflush(NULL);
	exit(rc);
}
