/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A worker thread waits synchronously for a block job, as libvirt's
 * block-job helpers do, while other events of the same domain are handled
 * asynchronously on the loop thread.
 *
 * The "job" reports progress from a timer on the loop thread, the way a
 * monitor connection would; a separate thread posts lifecycle events.  The
 * first job completes; during the second one the domain exits (the
 * producer side of its queue is closed) and the worker gets an error
 * instead of waiting forever.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vevent/queue.h>

enum kind { JOB_PROGRESS, JOB_COMPLETED, LIFECYCLE };

struct event {
	enum kind kind;
	int value;
};

struct domain {
	pthread_mutex_t lock; /* the object's lock */
	const char *name;
	vev_loop *loop;
	vev_queue *events;
	int job_timer;
	int progress;
	int exit_at; /* progress at which the domain "exits"; 0: never */
};

/* Set on the worker thread while it holds the domain's lock in a
 * synchronous region: the callback then runs with the lock already held. */
static _Thread_local int in_sync_region;

static int handle_event(vev_queue *q, void *payload, void *opaque)
{
	struct domain *d = opaque;
	struct event *ev = payload;
	int status = -1; /* "not the end of the job" */

	if (!in_sync_region)
		pthread_mutex_lock(&d->lock);
	switch (ev->kind) {
	case JOB_PROGRESS:
		printf("  %s: job at %d%%\n", d->name, ev->value);
		break;
	case JOB_COMPLETED:
		printf("  %s: job completed\n", d->name);
		status = ev->value;
		break;
	case LIFECYCLE:
		printf("  %s: lifecycle event %d (%s)\n", d->name, ev->value,
		       in_sync_region ? "worker" : "loop thread");
		break;
	}
	if (!in_sync_region)
		pthread_mutex_unlock(&d->lock);
	free(ev);
	return status;
}

static void post(struct domain *d, enum kind kind, int value)
{
	struct event *ev = malloc(sizeof(*ev));
	if (!ev)
		return;
	*ev = (struct event){ kind, value };
	int rc = vev_queue_post(d->events, ev);
	if (rc < 0) {
		/* -EAGAIN (full) or -EPIPE (closed): the payload is still
		 * ours. */
		printf("  %s: event dropped: %s\n", d->name, vev_last_error());
		free(ev);
	}
}

/* On the loop thread, like a monitor's event handler. */
static void job_tick(int timer, void *opaque)
{
	struct domain *d = opaque;

	pthread_mutex_lock(&d->lock);
	d->progress += 25;
	if (d->exit_at && d->progress >= d->exit_at) {
		printf("  %s: the domain exits\n", d->name);
		vev_queue_close(d->events);
		vev_remove_timer(d->loop, timer);
	} else if (d->progress < 100) {
		post(d, JOB_PROGRESS, d->progress);
	} else {
		post(d, JOB_COMPLETED, 0);
		vev_remove_timer(d->loop, timer);
	}
	pthread_mutex_unlock(&d->lock);
}

static void *lifecycle_thread(void *arg)
{
	struct domain *d = arg;
	post(d, LIFECYCLE, 1);
	return NULL;
}

/* The worker: start a job and wait for its end, holding the domain's lock
 * except while blocked in the wait.  Returns the job's status, or -1. */
static int run_block_job(struct domain *d)
{
	int status = -1, rc;

	pthread_mutex_lock(&d->lock);
	in_sync_region = 1;
	vev_queue_sync_begin(d->events);
	d->progress = 0;
	d->job_timer = vev_add_timer(d->loop, 20, job_tick, d, NULL);
	if (d->job_timer < 0) {
		fprintf(stderr, "cannot start the job: %s\n", vev_last_error());
		goto error;
	}
	do {
		/* ... other periodic work, with the lock held ... */
		rc = vev_queue_sync_wait(d->events, &d->lock, 500, &status);
		if (rc < 0) {
			printf("  %s: job aborted: %s\n", d->name,
			       vev_last_error());
			goto error;
		}
		if (rc == 0)
			printf("  %s: still waiting\n", d->name);
	} while (status == -1);
	vev_queue_sync_end(d->events, NULL);
	in_sync_region = 0;
	pthread_mutex_unlock(&d->lock);
	return status;

error:
	vev_queue_sync_end(d->events, NULL);
	in_sync_region = 0;
	pthread_mutex_unlock(&d->lock);
	return -1;
}

static int run_domain(const char *name, int exit_at)
{
	struct domain d = { .name = name, .exit_at = exit_at };
	pthread_t t;
	int rc;

	pthread_mutex_init(&d.lock, NULL);
	if (vev_loop_new(&d.loop, VEV_LOOP_AUTO) < 0 ||
	    vev_queue_new(&d.events, d.loop, 64, VEV_QUEUE_REJECT_WHEN_FULL,
			  handle_event, &d, NULL, free) < 0 ||
	    vev_loop_start_thread(d.loop) < 0) {
		fprintf(stderr, "setup: %s\n", vev_last_error());
		return -1;
	}
	printf("%s:\n", name);
	/* Outside the job: handled on the loop thread. */
	pthread_create(&t, NULL, lifecycle_thread, &d);
	pthread_join(t, NULL);

	rc = run_block_job(&d);
	printf("  %s: job status %d\n", name, rc);

	/* Freeing the queue frees what was never handled; its own memory goes
	 * when the loop runs its timer's free callback (here, in
	 * vev_loop_stop_thread()). */
	vev_queue_close(d.events);
	vev_queue_free(d.events);
	vev_loop_stop_thread(d.loop);
	vev_loop_free(d.loop);
	pthread_mutex_destroy(&d.lock);
	return rc;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (run_domain("vm1", 0) != 0)
		return 1;
	if (run_domain("vm2", 50) != -1)
		return 1;
	return 0;
}
