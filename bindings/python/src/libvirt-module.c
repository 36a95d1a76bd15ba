/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vevent._libvirt: hands a vevent.Loop to the real libvirt through the
 * bridge (vevent-libvirt).  A module of its own, so that `import vevent`
 * never loads libvirt: only vevent.libvirt.register() does.  The bridge
 * links the same libvirt.so.0 as libvirt-python's libvirtmod, so the
 * registration is the one libvirt-python's connections use.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>

#include <vevent/libvirt-bridge.h>

#define CAPSULE_NAME "vevent._vevent.loop"

static PyObject *bridge_error(int rc)
{
	PyObject *mod = PyImport_ImportModule("vevent._vevent");
	if (!mod)
		return NULL;
	PyObject *error = PyObject_GetAttrString(mod, "Error");
	Py_DECREF(mod);
	if (!error)
		return NULL;
	PyObject *args = Py_BuildValue("(is)", -rc, vev_libvirt_last_error());
	if (args) {
		PyErr_SetObject(error, args);
		Py_DECREF(args);
	}
	Py_DECREF(error);
	return NULL;
}

static PyObject *mod_register(PyObject *mod, PyObject *capsule)
{
	vev_loop *loop = PyCapsule_GetPointer(capsule, CAPSULE_NAME);
	int rc;

	if (!loop)
		return NULL;
	/* virInitialize() and the probe may block briefly; libvirt may call
	 * back into Python-facing code on other threads meanwhile. */
	Py_BEGIN_ALLOW_THREADS
	rc = vev_libvirt_register(loop);
	Py_END_ALLOW_THREADS
	if (rc < 0)
		return bridge_error(rc);
	Py_RETURN_NONE;
}

static PyObject *mod_registered(PyObject *mod, PyObject *unused)
{
	return PyBool_FromLong(vev_libvirt_loop() != NULL);
}

static PyMethodDef module_methods[] = {
	{ "register", mod_register, METH_O,
	  "register(capsule): vev_libvirt_register() on a Loop's capsule." },
	{ "registered", mod_registered, METH_NOARGS,
	  "registered() -> whether this process gave libvirt a vevent loop." },
	{ NULL, NULL, 0, NULL }
};

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "vevent._libvirt",
	.m_doc = "The libvirt bridge for vevent.libvirt; use that module.",
	.m_size = -1,
	.m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__libvirt(void);
PyMODINIT_FUNC PyInit__libvirt(void)
{
	return PyModule_Create(&module_def);
}
