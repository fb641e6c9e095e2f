/* Diagnostics: errors are values. A Diag keeps the first error of a failed operation as one
 * line; callers propagate -1 and the driver prints the line and picks the exit status. */
#include "nnzc/ir.h"

#include <string.h>

int diag_errorv(Diag *d, const char *fmt, va_list ap)
{
	if (d == NULL || d->code != DIAG_OK)
		return -1; /* the first error is the root cause; later ones are consequences */
	d->code = DIAG_ERROR;
	vsnprintf(d->msg, sizeof d->msg, fmt, ap);
	for (char *p = d->msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return -1;
}

int diag_error(Diag *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_errorv(d, fmt, ap);
	va_end(ap);
	return -1;
}

int diag_unsupported(Diag *d, const char *fmt, ...)
{
	bool first = d != NULL && d->code == DIAG_OK;
	va_list ap;
	va_start(ap, fmt);
	diag_errorv(d, fmt, ap);
	va_end(ap);
	if (first)
		d->code = DIAG_UNSUPPORTED;
	return -1;
}

int node_error(Diag *d, const Node *n, const char *fmt, ...)
{
	char body[1536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof body, fmt, ap);
	va_end(ap);
	return diag_error(d, "node '%s' (%s): %s", n->name, op_name(n->op), body);
}

bool diag_failed(const Diag *d) { return d->code != DIAG_OK; }

void diag_clear(Diag *d)
{
	d->code = DIAG_OK;
	d->msg[0] = '\0';
}

void diag_prefix(Diag *d, const char *prefix)
{
	size_t p = strlen(prefix), m = strlen(d->msg);
	if (p >= sizeof d->msg)
		p = sizeof d->msg - 1;
	if (p + m >= sizeof d->msg)
		m = sizeof d->msg - 1 - p;
	memmove(d->msg + p, d->msg, m);
	memcpy(d->msg, prefix, p);
	d->msg[p + m] = '\0';
}
