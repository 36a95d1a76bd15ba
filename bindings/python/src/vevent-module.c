/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vevent._vevent: the native vevent loop as a Python type, vevent.Loop.
 *
 * Python callables registered on a loop travel through C as the opaque
 * pointer of a C callback (struct reg).  The C callback takes the GIL, since
 * it may run on any thread that runs the loop (the helper thread, or the
 * thread of run()/run_once(), which releases the GIL while it waits), and
 * the free callback drops the references C holds, so a callable and its
 * opaque are released exactly when vevent releases the registration.
 *
 * Everything in struct loop_object and struct reg is touched only with the
 * GIL held.  Calls that release the GIL count themselves in `users`, so that
 * close() never frees a loop another thread is using.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <vevent/vevent.h>

#define CAPSULE_NAME "vevent._vevent.loop"

static PyObject *vevent_error; /* vevent.Error, an OSError */
static PyObject *helper_loops; /* set of Loops whose helper thread runs */

typedef struct loop_object loop_object;

struct reg {
	struct reg *prev, *next; /* the owner's list, for the GC */
	loop_object *owner;      /* NULL once the owner is gone */
	vev_loop *loop;
	PyObject *callback;
	PyObject *opaque;
	PyObject *file; /* the object given instead of an fd, or NULL */
};

struct loop_object {
	PyObject_HEAD
	vev_loop *loop;
	struct reg regs;          /* list head */
	int users;                /* calls that released the GIL with loop */
	int pinned;               /* registered with libvirt: never freed */
	int helper;               /* in helper_loops */
	unsigned long run_thread; /* thread inside run()/run_once(), or 0 */
	int in_run;               /* run_thread is in run(), not run_once() */
	int quit_flag;            /* quit() asked run() to return */
	int quit_posted;          /* ... and called vev_quit() to wake it */
	PyObject *pending_exc;    /* a callback's BaseException for run() */
	PyObject *weakreflist;
	/* The helper thread's own Python thread state, made once when it
	 * starts and kept until it ends (touched only by that thread). */
	PyGILState_STATE helper_gil;
	PyThreadState *helper_ts;
};

static PyTypeObject loop_type;

static int finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
	return Py_IsFinalizing();
#else
	return _Py_IsFinalizing();
#endif
}

/* The exception being raised, taken (NULL if none), and raised again:
 * Python 3.12 replaced the type/value/traceback triple with one object. */
static PyObject *take_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
	return PyErr_GetRaisedException();
#else
	PyObject *type, *value, *tb;
	PyErr_Fetch(&type, &value, &tb);
	if (!type)
		return NULL;
	PyErr_NormalizeException(&type, &value, &tb);
	if (tb)
		PyException_SetTraceback(value, tb);
	Py_XDECREF(type);
	Py_XDECREF(tb);
	return value;
#endif
}

static void give_exception(PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030C0000
	PyErr_SetRaisedException(exc);
#else
	if (exc)
		PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc,
			      PyException_GetTraceback(exc));
#endif
}

/* ---- errors ------------------------------------------------------------ */

static PyObject *set_error(int err, const char *msg)
{
	PyObject *args = Py_BuildValue("(is)", err, msg);
	if (args) {
		PyErr_SetObject(vevent_error, args);
		Py_DECREF(args);
	}
	return NULL;
}

/* vevent's failure rc, with vev_last_error() of this thread. */
static PyObject *vev_error(int rc)
{
	return set_error(-rc, vev_last_error());
}

static int check_open(loop_object *self)
{
	if (self->loop)
		return 0;
	PyErr_SetString(PyExc_ValueError, "the vevent loop is closed");
	return -1;
}

/* ---- C callbacks calling Python ---------------------------------------- */

static void callback_failed(struct reg *r)
{
	loop_object *owner = r->owner;
	/* KeyboardInterrupt and SystemExit end run()/run_once() on this
	 * thread, as they would end a plain Python loop; anything else must
	 * not break the loop. */
	if (owner && !PyErr_ExceptionMatches(PyExc_Exception) &&
	    owner->run_thread == PyThread_get_thread_ident() &&
	    !owner->pending_exc) {
		owner->pending_exc = take_exception();
		owner->quit_flag = 1;
		return;
	}
	PyErr_WriteUnraisable(r->callback);
}

static void handle_cb(int watch, int fd, int events, void *opaque)
{
	struct reg *r = opaque;
	if (finalizing()) {
		/* No Python any more: silence it rather than spin. */
		vev_update_handle(r->loop, watch, 0);
		return;
	}
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *res = PyObject_CallFunction(r->callback, "iiiO", watch, fd,
					      events, r->opaque);
	if (res)
		Py_DECREF(res);
	else
		callback_failed(r);
	PyGILState_Release(g);
}

static void timer_cb(int timer, void *opaque)
{
	struct reg *r = opaque;
	if (finalizing()) {
		vev_update_timer(r->loop, timer, -1);
		return;
	}
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *res =
		PyObject_CallFunction(r->callback, "iO", timer, r->opaque);
	if (res)
		Py_DECREF(res);
	else
		callback_failed(r);
	PyGILState_Release(g);
}

static void unlink_reg(struct reg *r)
{
	if (r->prev) {
		r->prev->next = r->next;
		r->next->prev = r->prev;
		r->prev = r->next = NULL;
	}
}

static void reg_free(void *opaque)
{
	struct reg *r = opaque;
	/* An interpreter that is going away can no longer release objects;
	 * the process is ending, so they are left to it. */
	if (finalizing())
		return;
	PyGILState_STATE g = PyGILState_Ensure();
	unlink_reg(r);
	/* Releasing them may run any Python code (__del__): r is off the
	 * list first, and gone only after. */
	Py_XDECREF(r->callback);
	Py_XDECREF(r->opaque);
	Py_XDECREF(r->file);
	PyMem_RawFree(r);
	PyGILState_Release(g);
}

static struct reg *new_reg(loop_object *self, PyObject *callback,
			   PyObject *opaque, PyObject *file)
{
	struct reg *r = PyMem_RawCalloc(1, sizeof(*r));
	if (!r) {
		PyErr_NoMemory();
		return NULL;
	}
	r->owner = self;
	r->loop = self->loop;
	r->callback = Py_NewRef(callback);
	r->opaque = Py_NewRef(opaque);
	r->file = Py_XNewRef(file);
	return r;
}

/* A registration vevent refused: it never calls ff, so it is ours. */
static void drop_reg(struct reg *r)
{
	Py_XDECREF(r->callback);
	Py_XDECREF(r->opaque);
	Py_XDECREF(r->file);
	PyMem_RawFree(r);
}

static void link_reg(loop_object *self, struct reg *r)
{
	r->next = &self->regs;
	r->prev = self->regs.prev;
	self->regs.prev->next = r;
	self->regs.prev = r;
}

/* ---- argument helpers -------------------------------------------------- */

/* An int, or an object with fileno(); *file is the latter, kept alive by the
 * watch.  Numbers are passed on as they are, so that vevent judges them. */
static int get_fd(PyObject *obj, int *fd, PyObject **file)
{
	*file = NULL;
	if (PyLong_Check(obj)) {
		int overflow;
		long v = PyLong_AsLongAndOverflow(obj, &overflow);
		if (v == -1 && PyErr_Occurred())
			return -1;
		if (overflow || v < INT_MIN || v > INT_MAX) {
			PyErr_Format(PyExc_OverflowError,
				     "fd %R does not fit a C int", obj);
			return -1;
		}
		*fd = (int)v;
		return 0;
	}
	if (!PyObject_HasAttrString(obj, "fileno")) {
		PyErr_Format(PyExc_TypeError,
			     "fd must be an int or an object with a fileno() "
			     "method, not %.100s",
			     Py_TYPE(obj)->tp_name);
		return -1;
	}
	int v = PyObject_AsFileDescriptor(obj);
	if (v < 0)
		return -1;
	*fd = v;
	*file = obj;
	return 0;
}

static int check_callable(PyObject *callback)
{
	if (PyCallable_Check(callback))
		return 0;
	PyErr_Format(PyExc_TypeError, "callback must be callable, not %.100s",
		     Py_TYPE(callback)->tp_name);
	return -1;
}

/* ---- Loop: lifetime ---------------------------------------------------- */

static PyObject *loop_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "backend", NULL };
	const char *backend = NULL;
	unsigned flags = VEV_LOOP_AUTO;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|z:Loop", kwlist,
					 &backend))
		return NULL;
	if (backend && strcmp(backend, "epoll") == 0) {
		flags = VEV_LOOP_EPOLL;
	} else if (backend && strcmp(backend, "poll") == 0) {
		flags = VEV_LOOP_POLL;
	} else if (backend) {
		PyErr_Format(PyExc_ValueError,
			     "unknown backend '%s': use 'epoll', 'poll' or None",
			     backend);
		return NULL;
	}
	loop_object *self = (loop_object *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	self->regs.next = self->regs.prev = &self->regs;
	int rc = vev_loop_new(&self->loop, flags);
	if (rc < 0) {
		self->loop = NULL;
		Py_DECREF(self);
		return vev_error(rc);
	}
	return (PyObject *)self;
}

/* Frees the loop, with the GIL released since a helper thread may need it
 * to finish its callbacks before it can be joined.  0, or vevent's rc. */
static int free_loop(loop_object *self)
{
	vev_loop *loop = self->loop;
	int rc;

	self->loop = NULL; /* closed for everyone meanwhile */
	Py_BEGIN_ALLOW_THREADS
	rc = vev_loop_free(loop);
	Py_END_ALLOW_THREADS
	if (rc < 0) {
		self->loop = loop;
		return rc;
	}
	if (self->helper) {
		self->helper = 0;
		PySet_Discard(helper_loops, (PyObject *)self);
	}
	return 0;
}

static int loop_traverse(loop_object *self, visitproc visit, void *arg)
{
	for (struct reg *r = self->regs.next; r != &self->regs; r = r->next) {
		Py_VISIT(r->callback);
		Py_VISIT(r->opaque);
		Py_VISIT(r->file);
	}
	Py_VISIT(self->pending_exc);
	return 0;
}

static int loop_clear(loop_object *self)
{
	/* A cycle through registrations (an opaque that holds the loop):
	 * freeing the loop releases them all. */
	if (self->loop && !self->pinned && !self->users)
		(void)free_loop(self);
	Py_CLEAR(self->pending_exc);
	return 0;
}

static void loop_dealloc(loop_object *self)
{
	PyObject_GC_UnTrack(self);
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	if (self->loop && !finalizing()) {
		PyObject *exc = take_exception();
		int rc = free_loop(self);
		if (rc < 0) {
			/* Dropped from one of its own callbacks: the loop
			 * cannot go now, so it is left alive, unowned. */
			struct reg *r = self->regs.next;
			while (r != &self->regs) {
				struct reg *next = r->next;
				r->owner = NULL;
				r->prev = r->next = NULL;
				r = next;
			}
			set_error(-rc, vev_last_error());
			PyErr_WriteUnraisable((PyObject *)self);
		}
		give_exception(exc);
	}
	Py_CLEAR(self->pending_exc);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *loop_close(loop_object *self, PyObject *unused)
{
	if (!self->loop)
		Py_RETURN_NONE;
	if (self->pinned)
		return set_error(EBUSY, "close: the loop is registered with "
					"libvirt, which keeps it for the life "
					"of the process");
	if (self->users)
		return set_error(EBUSY, "close: the loop is in use by "
					"another call (run, run_once, "
					"stop_thread, drain, clear)");
	int rc = free_loop(self);
	if (rc < 0)
		return vev_error(rc);
	Py_RETURN_NONE;
}

static PyObject *loop_enter(loop_object *self, PyObject *unused)
{
	if (check_open(self) < 0)
		return NULL;
	return Py_NewRef(self);
}

static PyObject *loop_exit(loop_object *self, PyObject *args)
{
	return loop_close(self, NULL);
}

/* ---- Loop: registrations ----------------------------------------------- */

static PyObject *loop_add_handle(loop_object *self, PyObject *args,
				 PyObject *kw)
{
	static char *kwlist[] = { "fd", "events", "callback", "opaque", NULL };
	PyObject *fdobj, *callback, *opaque = Py_None, *file;
	int fd, events;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OiO|O:add_handle", kwlist,
					 &fdobj, &events, &callback, &opaque))
		return NULL;
	if (check_open(self) < 0 || check_callable(callback) < 0 ||
	    get_fd(fdobj, &fd, &file) < 0)
		return NULL;
	struct reg *r = new_reg(self, callback, opaque, file);
	if (!r)
		return NULL;
	/* The C callback may run on the helper thread before this returns:
	 * it is linked first, and only the GIL orders them. */
	link_reg(self, r);
	int rc = vev_add_handle(self->loop, fd, events, handle_cb, r,
				reg_free);
	if (rc < 0) {
		unlink_reg(r);
		drop_reg(r);
		return vev_error(rc);
	}
	return PyLong_FromLong(rc);
}

static PyObject *loop_add_timeout(loop_object *self, PyObject *args,
				  PyObject *kw)
{
	static char *kwlist[] = { "timeout", "callback", "opaque", NULL };
	PyObject *callback, *opaque = Py_None;
	int timeout;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "iO|O:add_timeout", kwlist,
					 &timeout, &callback, &opaque))
		return NULL;
	if (check_open(self) < 0 || check_callable(callback) < 0)
		return NULL;
	struct reg *r = new_reg(self, callback, opaque, NULL);
	if (!r)
		return NULL;
	link_reg(self, r);
	int rc = vev_add_timer(self->loop, timeout, timer_cb, r, reg_free);
	if (rc < 0) {
		unlink_reg(r);
		drop_reg(r);
		return vev_error(rc);
	}
	return PyLong_FromLong(rc);
}

static PyObject *two_ints(loop_object *self, PyObject *args, const char *fmt,
			  int (*fn)(vev_loop *, int, int))
{
	int id, value;
	if (!PyArg_ParseTuple(args, fmt, &id, &value) || check_open(self) < 0)
		return NULL;
	int rc = fn(self->loop, id, value);
	if (rc < 0)
		return vev_error(rc);
	Py_RETURN_NONE;
}

static PyObject *one_int(loop_object *self, PyObject *args, const char *fmt,
			 int (*fn)(vev_loop *, int))
{
	int id;
	if (!PyArg_ParseTuple(args, fmt, &id) || check_open(self) < 0)
		return NULL;
	int rc = fn(self->loop, id);
	if (rc < 0)
		return vev_error(rc);
	Py_RETURN_NONE;
}

static PyObject *loop_update_handle(loop_object *self, PyObject *args)
{
	return two_ints(self, args, "ii:update_handle", vev_update_handle);
}

static PyObject *loop_remove_handle(loop_object *self, PyObject *args)
{
	return one_int(self, args, "i:remove_handle", vev_remove_handle);
}

static PyObject *loop_update_timeout(loop_object *self, PyObject *args)
{
	return two_ints(self, args, "ii:update_timeout", vev_update_timer);
}

static PyObject *loop_remove_timeout(loop_object *self, PyObject *args)
{
	return one_int(self, args, "i:remove_timeout", vev_remove_timer);
}

/* ---- Loop: running ----------------------------------------------------- */

/* Seconds (None: forever) to vevent's milliseconds, rounded up so that a
 * wait never ends before the time asked for. */
static int timeout_ms(PyObject *obj, int *ms)
{
	if (obj == Py_None) {
		*ms = VEV_WAIT_FOREVER;
		return 0;
	}
	double s = PyFloat_AsDouble(obj);
	if (s == -1.0 && PyErr_Occurred())
		return -1;
	if (isnan(s) || s < 0) {
		PyErr_SetString(PyExc_ValueError,
				"timeout must be None or a number of seconds "
				">= 0");
		return -1;
	}
	double v = ceil(s * 1000.0);
	*ms = v >= INT_MAX ? INT_MAX : (int)v;
	return 0;
}

static int begin_run(loop_object *self, const char *what)
{
	if (check_open(self) < 0)
		return -1;
	if (self->run_thread) {
		set_error(EBUSY, self->run_thread == PyThread_get_thread_ident() ?
					 "called from a callback of the same "
					 "loop" :
					 "the loop is running in another "
					 "thread");
		return -1;
	}
	self->run_thread = PyThread_get_thread_ident();
	self->users++;
	return 0;
}

static void end_run(loop_object *self)
{
	self->run_thread = 0;
	self->users--;
}

/* A KeyboardInterrupt or SystemExit raised by a callback on this thread. */
static int raise_pending(loop_object *self)
{
	if (!self->pending_exc)
		return 0;
	PyObject *exc = self->pending_exc;
	self->pending_exc = NULL;
	give_exception(exc);
	return -1;
}

static PyObject *run_once_ms(loop_object *self, int ms)
{
	int rc;
	if (begin_run(self, "run_once") < 0)
		return NULL;
	/* A quit() not yet seen by run() keeps iterations from blocking. */
	if (self->quit_flag)
		ms = VEV_NO_WAIT;
	vev_loop *loop = self->loop;
	Py_BEGIN_ALLOW_THREADS
	rc = vev_run_once(loop, ms);
	Py_END_ALLOW_THREADS
	end_run(self);
	if (rc < 0)
		return vev_error(rc);
	if (raise_pending(self) < 0 || PyErr_CheckSignals() < 0)
		return NULL;
	return PyLong_FromLong(rc);
}

static PyObject *loop_run_once(loop_object *self, PyObject *args,
			       PyObject *kw)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *timeout = Py_None;
	int ms;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:run_once", kwlist,
					 &timeout) ||
	    timeout_ms(timeout, &ms) < 0)
		return NULL;
	return run_once_ms(self, ms);
}

/* Iterations with vev_run_once() rather than vev_run(), which would not
 * return for a signal: on the main thread, Python's handlers (Ctrl-C) run
 * between iterations.  quit() from a callback only sets quit_flag; from
 * another thread it also calls vev_quit() to wake the wait, and the request
 * left pending in vevent is consumed by a vev_run(), whose one iteration
 * cannot block. */
static PyObject *loop_run(loop_object *self, PyObject *unused)
{
	int rc = 0, failed = 0;

	if (begin_run(self, "run") < 0)
		return NULL;
	self->in_run = 1;
	vev_loop *loop = self->loop;
	for (;;) {
		int ms = self->quit_flag ? VEV_NO_WAIT : VEV_WAIT_FOREVER;
		Py_BEGIN_ALLOW_THREADS
		rc = vev_run_once(loop, ms);
		Py_END_ALLOW_THREADS
		if (rc < 0) {
			failed = 1;
			break;
		}
		if (self->quit_flag) {
			self->quit_flag = 0;
			if (self->quit_posted) {
				self->quit_posted = 0;
				Py_BEGIN_ALLOW_THREADS
				rc = vev_run(loop);
				Py_END_ALLOW_THREADS
				failed = rc < 0;
			}
			break;
		}
		if (self->pending_exc || PyErr_CheckSignals() < 0)
			break;
	}
	self->in_run = 0;
	end_run(self);
	if (failed)
		return vev_error(rc);
	if (raise_pending(self) < 0 || PyErr_Occurred())
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *loop_quit(loop_object *self, PyObject *unused)
{
	if (check_open(self) < 0)
		return NULL;
	if (self->helper) {
		int rc = vev_quit(self->loop);
		if (rc < 0)
			return vev_error(rc);
		Py_RETURN_NONE;
	}
	self->quit_flag = 1;
	/* A run() waiting on another thread must wake up. */
	if (self->in_run && self->run_thread != PyThread_get_thread_ident()) {
		self->quit_posted = 1;
		int rc = vev_quit(self->loop);
		if (rc < 0)
			return vev_error(rc);
	}
	Py_RETURN_NONE;
}

/* Without a thread state of its own, every callback on the helper thread
 * would make one in PyGILState_Ensure() and destroy it in
 * PyGILState_Release() (an mmap and a munmap per libvirt event): the thread
 * keeps one, detached from the GIL while it waits. */
static void helper_enter(void *arg)
{
	loop_object *self = arg;
	self->helper_gil = PyGILState_Ensure();
	self->helper_ts = PyEval_SaveThread();
}

static void helper_leave(void *arg)
{
	loop_object *self = arg;
	PyEval_RestoreThread(self->helper_ts);
	PyGILState_Release(self->helper_gil);
}

static PyObject *loop_start_thread(loop_object *self, PyObject *unused)
{
	if (check_open(self) < 0)
		return NULL;
	if (self->run_thread)
		return set_error(EBUSY, "start_thread: the loop is being run "
					"by run() or run_once()");
	/* The thread takes the GIL to make its thread state: not while this
	 * thread holds it and waits, which it never does here. */
	int rc = vev_loop_start_thread_hooks(self->loop, helper_enter,
					     helper_leave, self);
	if (rc < 0)
		return vev_error(rc);
	/* The running thread keeps the loop alive until stop_thread(). */
	if (!self->helper) {
		if (PySet_Add(helper_loops, (PyObject *)self) < 0) {
			PyObject *exc = take_exception();
			vev_loop *loop = self->loop;
			Py_BEGIN_ALLOW_THREADS
			vev_loop_stop_thread(loop);
			Py_END_ALLOW_THREADS
			give_exception(exc);
			return NULL;
		}
		self->helper = 1;
	}
	Py_RETURN_NONE;
}

/* fn(loop) with the GIL released (it may run free callbacks, which take
 * it, or wait for the helper thread, which needs it to end): its count as
 * an int object, or NULL with vevent's error. */
static PyObject *call_released(loop_object *self, int (*fn)(vev_loop *))
{
	int rc;
	if (check_open(self) < 0)
		return NULL;
	vev_loop *loop = self->loop;
	self->users++;
	Py_BEGIN_ALLOW_THREADS
	rc = fn(loop);
	Py_END_ALLOW_THREADS
	self->users--;
	if (rc < 0)
		return vev_error(rc);
	return PyLong_FromLong(rc);
}

static PyObject *loop_stop_thread(loop_object *self, PyObject *unused)
{
	PyObject *rc = call_released(self, vev_loop_stop_thread);
	if (!rc)
		return NULL;
	Py_DECREF(rc);
	if (self->helper) {
		self->helper = 0;
		if (PySet_Discard(helper_loops, (PyObject *)self) < 0)
			return NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *loop_drain(loop_object *self, PyObject *unused)
{
	return call_released(self, vev_loop_drain);
}

static PyObject *loop_clear_method(loop_object *self, PyObject *unused)
{
	return call_released(self, vev_loop_clear);
}

/* The embedding host's call: one iteration that never blocks.  Returns
 * None, so that it can be handed to asyncio's add_reader() as it is. */
static PyObject *loop_dispatch(loop_object *self, PyObject *unused)
{
	PyObject *rc = run_once_ms(self, VEV_NO_WAIT);
	if (!rc)
		return NULL;
	Py_DECREF(rc);
	Py_RETURN_NONE;
}

/* ---- Loop: introspection ----------------------------------------------- */

static PyObject *loop_fileno(loop_object *self, PyObject *unused)
{
	if (check_open(self) < 0)
		return NULL;
	int rc = vev_loop_fd(self->loop);
	if (rc < 0)
		return vev_error(rc);
	return PyLong_FromLong(rc);
}

static PyObject *loop_next_timeout(loop_object *self, PyObject *unused)
{
	if (check_open(self) < 0)
		return NULL;
	int rc = vev_loop_timeout(self->loop);
	if (rc < -1)
		return vev_error(rc);
	if (rc == -1)
		Py_RETURN_NONE;
	return PyFloat_FromDouble(rc / 1000.0);
}

static const struct {
	const char *name;
	enum vev_stat which;
} stat_names[] = {
	{ "iterations", VEV_STAT_ITERATIONS },
	{ "handle_calls", VEV_STAT_HANDLE_CALLS },
	{ "timer_calls", VEV_STAT_TIMER_CALLS },
	{ "free_calls", VEV_STAT_FREE_CALLS },
	{ "wakeups", VEV_STAT_WAKEUPS },
	{ "handles", VEV_STAT_HANDLES },
	{ "timers", VEV_STAT_TIMERS },
	{ "pending_frees", VEV_STAT_PENDING_FREES },
	{ "memory", VEV_STAT_MEMORY },
};
#define NSTATS (sizeof(stat_names) / sizeof(stat_names[0]))

static PyObject *loop_stats(loop_object *self, PyObject *unused)
{
	if (check_open(self) < 0)
		return NULL;
	PyObject *d = PyDict_New();
	for (size_t i = 0; d && i < NSTATS; i++) {
		uint64_t v;
		int rc = vev_loop_stat(self->loop, stat_names[i].which, &v);
		if (rc < 0) {
			Py_DECREF(d);
			return vev_error(rc);
		}
		PyObject *n = PyLong_FromUnsignedLongLong(v);
		if (!n || PyDict_SetItemString(d, stat_names[i].name, n) < 0) {
			Py_XDECREF(n);
			Py_CLEAR(d);
			break;
		}
		Py_DECREF(n);
	}
	return d;
}

static PyObject *loop_stat(loop_object *self, PyObject *arg)
{
	if (check_open(self) < 0)
		return NULL;
	if (!PyUnicode_Check(arg)) {
		PyErr_Format(PyExc_TypeError, "stat: the name must be a str, "
			     "not %.100s", Py_TYPE(arg)->tp_name);
		return NULL;
	}
	const char *name = PyUnicode_AsUTF8(arg);
	if (!name)
		return NULL;
	for (size_t i = 0; i < NSTATS; i++) {
		if (strcmp(name, stat_names[i].name))
			continue;
		uint64_t v;
		int rc = vev_loop_stat(self->loop, stat_names[i].which, &v);
		if (rc < 0)
			return vev_error(rc);
		return PyLong_FromUnsignedLongLong(v);
	}
	PyErr_Format(PyExc_ValueError, "stat: unknown counter %R (see "
		     "Loop.stats() for the names)", arg);
	return NULL;
}

static PyObject *loop_verify(loop_object *self, PyObject *unused)
{
	if (check_open(self) < 0)
		return NULL;
	int rc = vev_loop_verify(self->loop);
	if (rc < 0)
		return vev_error(rc);
	Py_RETURN_NONE;
}

static PyObject *loop_get_backend(loop_object *self, void *closure)
{
	if (check_open(self) < 0)
		return NULL;
	return PyUnicode_FromString(vev_loop_backend(self->loop));
}

static PyObject *loop_get_closed(loop_object *self, void *closure)
{
	return PyBool_FromLong(self->loop == NULL);
}

static PyObject *loop_repr(loop_object *self)
{
	if (!self->loop)
		return PyUnicode_FromFormat("<vevent.Loop closed>");
	return PyUnicode_FromFormat("<vevent.Loop %s%s%s>",
				    vev_loop_backend(self->loop),
				    self->helper ? " thread" : "",
				    self->pinned ? " libvirt" : "");
}

/* ---- for vevent.libvirt ------------------------------------------------- */

static PyObject *loop_capsule(loop_object *self, PyObject *unused)
{
	if (check_open(self) < 0)
		return NULL;
	return PyCapsule_New(self->loop, CAPSULE_NAME, NULL);
}

static PyObject *loop_pin(loop_object *self, PyObject *arg)
{
	int v = PyObject_IsTrue(arg);
	if (v < 0 || check_open(self) < 0)
		return NULL;
	self->pinned = v;
	Py_RETURN_NONE;
}

/* ---- the type ---------------------------------------------------------- */

PyDoc_STRVAR(add_handle_doc,
"add_handle($self, fd, events, callback, opaque=None)\n--\n\n"
"Watch fd for events and return the watch's id.\n\n"
"fd is an int, or an object with fileno(), which the watch keeps alive.\n"
"events: HANDLE_READABLE | HANDLE_WRITABLE; HANDLE_ERROR and HANDLE_HANGUP\n"
"are always reported; 0 registers the watch without polling it.\n"
"Level-triggered: while a condition holds, callback(watch, fd, events,\n"
"opaque) runs once per iteration.  Ids start at 1 and are never reused.\n"
"callback and opaque are released once the watch is removed, on the\n"
"loop's thread.  Raises vevent.Error (EBADF for a descriptor that is not\n"
"open).  Any thread; from callbacks too.");

PyDoc_STRVAR(update_handle_doc,
"update_handle($self, watch, events)\n--\n\n"
"Change the events a watch asks for.  Raises vevent.Error (ENOENT) for an\n"
"unknown watch.");

PyDoc_STRVAR(remove_handle_doc,
"remove_handle($self, watch)\n--\n\n"
"Remove a watch.  Its callback does not run again once this returns (on\n"
"the loop's thread); callback and opaque are released later, on the\n"
"loop's thread, never inside this call.  Raises vevent.Error (ENOENT).");

PyDoc_STRVAR(add_timeout_doc,
"add_timeout($self, timeout, callback, opaque=None)\n--\n\n"
"Add a timer and return its id (ids have their own space, from 1).\n\n"
"timeout in milliseconds: > 0 fires every timeout ms (never early,\n"
"re-armed when it fires); 0 fires once per iteration and keeps iterations\n"
"from blocking; < 0 is disabled.  callback(timer, opaque) runs on the\n"
"loop's thread.");

PyDoc_STRVAR(update_timeout_doc,
"update_timeout($self, timer, timeout)\n--\n\n"
"Set a timer's period (as add_timeout) and restart its countdown.  Raises\n"
"vevent.Error (ENOENT) for an unknown timer.");

PyDoc_STRVAR(remove_timeout_doc,
"remove_timeout($self, timer)\n--\n\nRemove a timer; as remove_handle().");

PyDoc_STRVAR(run_once_doc,
"run_once($self, timeout=None)\n--\n\n"
"Run one iteration and return the number of callbacks it ran.\n\n"
"It waits until a watch is ready, a timer is due, another thread changes\n"
"the loop or timeout seconds pass (None: no limit; 0: do not wait), then\n"
"runs the callbacks.  The GIL is released while it waits.  Not from a\n"
"callback of the same loop (vevent.Error EBUSY).");

PyDoc_STRVAR(run_doc,
"run($self)\n--\n\n"
"Run iterations until quit() is called, and return after the iteration\n"
"that saw the request.  On the main thread, signal handlers run between\n"
"iterations, so Ctrl-C raises KeyboardInterrupt here.  A callback that\n"
"raises KeyboardInterrupt or SystemExit ends run() with it.");

PyDoc_STRVAR(quit_doc,
"quit($self)\n--\n\n"
"Ask run() to return, waking the loop if it waits; or end the helper\n"
"thread of start_thread().  If nothing runs the loop, the next run()\n"
"returns after its first iteration, and iterations do not block until\n"
"then.  Any thread; from callbacks too.");

PyDoc_STRVAR(start_thread_doc,
"start_thread($self)\n--\n\n"
"Run the loop on a native helper thread until stop_thread(); callbacks\n"
"then run on that thread (taking the GIL).  The loop stays alive while\n"
"the thread runs, and the thread is stopped when the interpreter exits.");

PyDoc_STRVAR(stop_thread_doc,
"stop_thread($self)\n--\n\n"
"Stop the helper thread, wait for it to end, then release the callbacks\n"
"and opaques of pending removals on the calling thread.  Raises\n"
"vevent.Error: ESRCH (no helper thread), EDEADLK (from a callback).");

PyDoc_STRVAR(drain_doc,
"drain($self)\n--\n\n"
"Release now, on the calling thread, the callbacks and opaques of\n"
"removals the loop has not finished yet, and return how many.  Not while\n"
"the loop runs.");

PyDoc_STRVAR(clear_doc,
"clear($self)\n--\n\n"
"Remove every watch and timer, release their callbacks and opaques, and\n"
"return how many; the loop stays usable and ids go on growing.");

PyDoc_STRVAR(fileno_doc,
"fileno($self)\n--\n\n"
"Return a descriptor that polls readable whenever an iteration has work\n"
"to do: poll it from another event loop and call run_once(0) when it is\n"
"readable.  It belongs to the loop (never close it).  The epoll backend\n"
"only: the poll backend raises vevent.Error (ENOTSUP).");

PyDoc_STRVAR(next_timeout_doc,
"next_timeout($self)\n--\n\n"
"Return how long, in seconds, an iteration may wait before a timer is\n"
"due: 0 if something is due already, None if no timer is armed.");

PyDoc_STRVAR(stats_doc,
"stats($self)\n--\n\n"
"Return the loop's counters as a dict: iterations, handle_calls,\n"
"timer_calls, free_calls, wakeups, handles, timers, pending_frees,\n"
"memory (bytes).");

PyDoc_STRVAR(stat_doc,
"stat($self, name)\n--\n\nReturn one counter of stats().");

PyDoc_STRVAR(verify_doc,
"verify($self)\n--\n\n"
"Check the loop's internal invariants; raises vevent.Error (EPROTO)\n"
"naming a broken one.  For tests and debugging.");

PyDoc_STRVAR(close_doc,
"close($self)\n--\n\n"
"Free the loop: remove every registration, stop the helper thread, and\n"
"release every callback and opaque.  Closing twice is harmless.  Raises\n"
"vevent.Error (EBUSY) while another call uses the loop, from its own\n"
"callbacks, or for a loop registered with libvirt.");

static PyMethodDef loop_methods[] = {
	{ "add_handle", (PyCFunction)(void (*)(void))loop_add_handle,
	  METH_VARARGS | METH_KEYWORDS, add_handle_doc },
	{ "update_handle", (PyCFunction)loop_update_handle, METH_VARARGS,
	  update_handle_doc },
	{ "remove_handle", (PyCFunction)loop_remove_handle, METH_VARARGS,
	  remove_handle_doc },
	{ "add_timeout", (PyCFunction)(void (*)(void))loop_add_timeout,
	  METH_VARARGS | METH_KEYWORDS, add_timeout_doc },
	{ "update_timeout", (PyCFunction)loop_update_timeout, METH_VARARGS,
	  update_timeout_doc },
	{ "remove_timeout", (PyCFunction)loop_remove_timeout, METH_VARARGS,
	  remove_timeout_doc },
	{ "run_once", (PyCFunction)(void (*)(void))loop_run_once,
	  METH_VARARGS | METH_KEYWORDS, run_once_doc },
	{ "run", (PyCFunction)loop_run, METH_NOARGS, run_doc },
	{ "quit", (PyCFunction)loop_quit, METH_NOARGS, quit_doc },
	{ "start_thread", (PyCFunction)loop_start_thread, METH_NOARGS,
	  start_thread_doc },
	{ "stop_thread", (PyCFunction)loop_stop_thread, METH_NOARGS,
	  stop_thread_doc },
	{ "drain", (PyCFunction)loop_drain, METH_NOARGS, drain_doc },
	{ "clear", (PyCFunction)loop_clear_method, METH_NOARGS, clear_doc },
	{ "fileno", (PyCFunction)loop_fileno, METH_NOARGS, fileno_doc },
	{ "next_timeout", (PyCFunction)loop_next_timeout, METH_NOARGS,
	  next_timeout_doc },
	{ "stats", (PyCFunction)loop_stats, METH_NOARGS, stats_doc },
	{ "stat", (PyCFunction)loop_stat, METH_O, stat_doc },
	{ "verify", (PyCFunction)loop_verify, METH_NOARGS, verify_doc },
	{ "close", (PyCFunction)loop_close, METH_NOARGS, close_doc },
	{ "__enter__", (PyCFunction)loop_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)loop_exit, METH_VARARGS, NULL },
	{ "_dispatch", (PyCFunction)loop_dispatch, METH_NOARGS, NULL },
	{ "_capsule", (PyCFunction)loop_capsule, METH_NOARGS, NULL },
	{ "_pin", (PyCFunction)loop_pin, METH_O, NULL },
	{ NULL, NULL, 0, NULL }
};

static PyGetSetDef loop_getset[] = {
	{ "backend", (getter)loop_get_backend, NULL,
	  "The backend's name: 'epoll' or 'poll'.", NULL },
	{ "closed", (getter)loop_get_closed, NULL,
	  "True once close() freed the loop.", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

PyDoc_STRVAR(loop_doc,
"Loop(backend=None)\n--\n\n"
"A native vevent event loop.  backend: 'epoll', 'poll', or None for\n"
"$VEVENT_BACKEND or the best available.  Callbacks have libvirt-python's\n"
"signatures: (watch, fd, events, opaque) and (timer, opaque).  An\n"
"exception raised by a callback goes to sys.unraisablehook (its object is\n"
"the callback) and the loop goes on.  Usable as a context manager, which\n"
"closes the loop.  Every method may be called from any thread.");

static PyTypeObject loop_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "vevent.Loop",
	.tp_basicsize = sizeof(loop_object),
	.tp_dealloc = (destructor)loop_dealloc,
	.tp_repr = (reprfunc)loop_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = loop_doc,
	.tp_traverse = (traverseproc)loop_traverse,
	.tp_clear = (inquiry)loop_clear,
	.tp_weaklistoffset = offsetof(loop_object, weakreflist),
	.tp_methods = loop_methods,
	.tp_getset = loop_getset,
	.tp_new = loop_new,
};

/* ---- the module -------------------------------------------------------- */

/* Stops every helper thread while the interpreter still works: after that,
 * their callbacks could no longer take the GIL. */
static PyObject *mod_stop_threads(PyObject *mod, PyObject *unused)
{
	PyObject *loops = PySequence_List(helper_loops);
	if (!loops)
		return NULL;
	for (Py_ssize_t i = 0; i < PyList_GET_SIZE(loops); i++) {
		PyObject *res = loop_stop_thread(
			(loop_object *)PyList_GET_ITEM(loops, i), NULL);
		if (res)
			Py_DECREF(res);
		else
			PyErr_WriteUnraisable(PyList_GET_ITEM(loops, i));
	}
	Py_DECREF(loops);
	Py_RETURN_NONE;
}

static PyObject *mod_version(PyObject *mod, PyObject *unused)
{
	return PyUnicode_FromString(vev_version());
}

static PyMethodDef module_methods[] = {
	{ "library_version", mod_version, METH_NOARGS,
	  "library_version() -> the version of the vevent C library in use." },
	{ "_stop_threads", mod_stop_threads, METH_NOARGS, NULL },
	{ NULL, NULL, 0, NULL }
};

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "vevent._vevent",
	.m_doc = "The C part of vevent; use the vevent package.",
	.m_size = -1,
	.m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__vevent(void);
PyMODINIT_FUNC PyInit__vevent(void)
{
	PyObject *m = PyModule_Create(&module_def);
	if (!m)
		return NULL;
	if (PyType_Ready(&loop_type) < 0)
		goto fail;
	vevent_error = PyErr_NewExceptionWithDoc(
		"vevent.Error",
		"A failed vevent call: an OSError whose errno is vevent's "
		"(EBADF, ENOENT, EBUSY, ...) and whose strerror is vevent's "
		"message.",
		PyExc_OSError, NULL);
	helper_loops = PySet_New(NULL);
	if (!vevent_error || !helper_loops)
		goto fail;
	if (PyModule_AddObjectRef(m, "Loop", (PyObject *)&loop_type) < 0 ||
	    PyModule_AddObjectRef(m, "Error", vevent_error) < 0 ||
	    PyModule_AddIntConstant(m, "HANDLE_READABLE", VEV_READABLE) < 0 ||
	    PyModule_AddIntConstant(m, "HANDLE_WRITABLE", VEV_WRITABLE) < 0 ||
	    PyModule_AddIntConstant(m, "HANDLE_ERROR", VEV_ERROR) < 0 ||
	    PyModule_AddIntConstant(m, "HANDLE_HANGUP", VEV_HANGUP) < 0 ||
	    PyModule_AddStringConstant(m, "CAPSULE_NAME", CAPSULE_NAME) < 0)
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
