/* nnzc run/bench --target cpu: compile the graph to a shared object in a private temporary
 * folder, load it with dlopen, and call its entry point. The shared object carries its own copy
 * of the runtime (libnnzrt.a), so nothing but libc/libm/libpthread must be resolvable. */
#include "cpu.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef int (*RunWithFn)(const void *const *, void *const *, void *, int);

struct CpuModel {
	void *dl;
	RunWithFn run_with;
	void *workspace;
	const Graph *g;
	const int64_t *layer_ns; /* CpuOptions.profile: the run's per-node nanoseconds */
};

/* libnnzrt.a next to the running nnzc: BIN/../lib (build tree and install prefix alike), unless
 * NNZC_RUNTIME_LIB names it. */
static int find_runtime(char *buf, size_t cap, Diag *d)
{
	const char *env = getenv("NNZC_RUNTIME_LIB");
	if (env && *env) {
		snprintf(buf, cap, "%s", env);
		return access(buf, R_OK) == 0 ? 0 : diag_error(d, "NNZC_RUNTIME_LIB=%s: cannot read it", env);
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return diag_error(d, "cannot locate the nnzc executable to find libnnzrt.a (set NNZC_RUNTIME_LIB)");
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	static const char *const rel[] = {"../lib/libnnzrt.a", "../lib/x86_64-linux-gnu/libnnzrt.a", "../lib64/libnnzrt.a"};
	for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
		int len = snprintf(buf, cap, "%s/%s", exe, rel[i]);
		if (len > 0 && (size_t)len < cap && access(buf, R_OK) == 0)
			return 0;
	}
	return diag_error(d, "libnnzrt.a not found next to %s (set NNZC_RUNTIME_LIB)", exe);
}

int cpu_link_shared(const char *object, const char *output, Diag *d);

int cpu_link_shared(const char *object, const char *output, Diag *d)
{
	char runtime[PATH_MAX];
	if (find_runtime(runtime, sizeof runtime, d) < 0)
		return -1;
	size_t n = strlen(output) + 16;
	char *tmp = malloc(n);
	if (tmp == NULL)
		return diag_error(d, "out of memory");
	snprintf(tmp, n, "%s.tmp.so", output);
	const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
	char *argv[] = {(char *)cc, "-shared", "-o", tmp, (char *)object, runtime, "-lpthread", "-lm", NULL};
	pid_t pid;
	int rc = posix_spawnp(&pid, cc, NULL, NULL, argv, environ);
	int status = 0;
	if (rc != 0) {
		free(tmp);
		return diag_error(d, "cannot run the linker '%s': %s", cc, strerror(rc));
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		unlink(tmp);
		free(tmp);
		return diag_error(d, "linking %s with '%s -shared' failed", output, cc);
	}
	if (rename(tmp, output) != 0) {
		unlink(tmp);
		free(tmp);
		return diag_error(d, "%s: cannot rename into place: %s", output, strerror(errno));
	}
	free(tmp);
	return 0;
}

CpuModel *cpu_load(const Graph *g, const CpuOptions *opt, Diag *d)
{
	char dir[] = "/tmp/nnzc.XXXXXX";
	if (mkdtemp(dir) == NULL) {
		diag_error(d, "cannot create a temporary folder: %s", strerror(errno));
		return NULL;
	}
	char so[sizeof dir + 16];
	snprintf(so, sizeof so, "%s/model.so", dir);
	CpuOptions o = *opt;
	o.emit = CPU_EMIT_SHARED;
	o.output = so;
	o.header = NULL;
	o.prefix = "nnzc_model";
	CpuModel *m = calloc(1, sizeof *m);
	if (m == NULL) {
		diag_error(d, "out of memory");
		rmdir(dir);
		return NULL;
	}
	m->g = g;
	if (cpu_compile(g, &o, d) < 0)
		goto fail;
	m->dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (m->dl == NULL) {
		diag_error(d, "cannot load the compiled model: %s", dlerror());
		goto fail;
	}
	typedef int64_t (*SizeFn)(void);
	SizeFn size = (SizeFn)(uintptr_t)dlsym(m->dl, "nnzc_model_workspace_size");
	m->run_with = (RunWithFn)(uintptr_t)dlsym(m->dl, "nnzc_model_run_with");
	if (size == NULL || m->run_with == NULL) {
		diag_error(d, "the compiled model lacks its entry points");
		goto fail;
	}
	if (opt->profile) {
		typedef const int64_t *(*LayerNsFn)(void);
		LayerNsFn layer_ns = (LayerNsFn)(uintptr_t)dlsym(m->dl, "nnzc_model_layer_ns");
		if (layer_ns == NULL) {
			diag_error(d, "the compiled model lacks its per-layer timing");
			goto fail;
		}
		m->layer_ns = layer_ns();
	}
	int64_t bytes = size();
	m->workspace = aligned_alloc(64, (size_t)((bytes + 63) / 64 * 64 + 64));
	if (m->workspace == NULL) {
		diag_error(d, "cannot allocate a workspace of %lld bytes", (long long)bytes);
		goto fail;
	}
	unlink(so); /* the mapping stays valid */
	rmdir(dir);
	return m;
fail:
	unlink(so);
	rmdir(dir);
	cpu_model_free(m);
	return NULL;
}

/* The entry point takes and gives tensors in their declared dtype's layout (f16 as 2 bytes, bool
 * as 1, ...); Tensors hold the compute class. A storage copy for value v, or NULL with a message. */
static void *storage_copy(const Value *v, Diag *d)
{
	int64_t n = shape_numel(&v->shape);
	void *p = n >= 0 ? malloc((size_t)(n ? n : 1) * dtype_storage_size(v->dtype)) : NULL;
	if (p == NULL)
		diag_error(d, "out of memory converting '%s'", v->name);
	return p;
}

/* One run into outputs whose data are allocated (dtype and shape of the graph's outputs). */
static int run_into(CpuModel *m, const Tensor *inputs, Tensor *outputs, int threads, Diag *d)
{
	const Graph *g = m->g;
	const void *in[64];
	void *out[64];
	void *conv_in[64] = {0}, *conv_out[64] = {0};
	int rc = -1;
	if (g->n_inputs > 64 || g->n_outputs > 64)
		return diag_error(d, "more than 64 inputs or outputs");
	for (int i = 0; i < g->n_inputs; i++) {
		if (!shape_equal(&inputs[i].shape, &g->inputs[i]->shape) ||
		    dtype_is_float(inputs[i].dtype) != dtype_is_float(g->inputs[i]->dtype)) {
			char a[128], b[128];
			return diag_error(d, "input '%s': expected %s%s, got %s%s", g->inputs[i]->name,
					  dtype_name(g->inputs[i]->dtype), shape_str(&g->inputs[i]->shape, a, sizeof a),
					  dtype_name(inputs[i].dtype), shape_str(&inputs[i].shape, b, sizeof b));
		}
		in[i] = inputs[i].data;
	}
	for (int i = 0; i < g->n_outputs; i++) {
		out[i] = outputs[i].data;
		if (cg_boundary_converts(g->outputs[i]->dtype) && (out[i] = conv_out[i] = storage_copy(g->outputs[i], d)) == NULL)
			goto out;
	}
	for (int i = 0; i < g->n_inputs; i++) {
		const Value *v = g->inputs[i];
		if (!cg_boundary_converts(v->dtype))
			continue;
		if ((in[i] = conv_in[i] = storage_copy(v, d)) == NULL)
			goto out;
		dtype_store(v->dtype, inputs[i].data, conv_in[i], (size_t)shape_numel(&v->shape));
	}
	m->run_with(in, out, m->workspace, threads);
	for (int i = 0; i < g->n_outputs; i++)
		if (conv_out[i])
			dtype_load(g->outputs[i]->dtype, conv_out[i], outputs[i].data, (size_t)shape_numel(&g->outputs[i]->shape));
	rc = 0;
out:
	for (int i = 0; i < 64; i++) {
		free(conv_in[i]);
		free(conv_out[i]);
	}
	return rc;
}

int cpu_model_run(CpuModel *m, const Tensor *inputs, Tensor *outputs, int threads, Diag *d)
{
	const Graph *g = m->g;
	for (int i = 0; i < g->n_outputs; i++)
		outputs[i].data = NULL;
	for (int i = 0; i < g->n_outputs; i++)
		if (tensor_alloc(&outputs[i], g->outputs[i]->dtype, &g->outputs[i]->shape, d) < 0)
			goto fail;
	if (run_into(m, inputs, outputs, threads, d) == 0)
		return 0;
fail:
	for (int i = 0; i < g->n_outputs; i++)
		tensor_free(&outputs[i]);
	return -1;
}

int cpu_model_rerun(CpuModel *m, const Tensor *inputs, Tensor *outputs, int threads, Diag *d)
{
	const Graph *g = m->g;
	for (int i = 0; i < g->n_outputs; i++)
		if (outputs[i].data == NULL || outputs[i].dtype != g->outputs[i]->dtype ||
		    !shape_equal(&outputs[i].shape, &g->outputs[i]->shape))
			return diag_error(d, "output '%s': not the tensor an earlier run of this model gave", g->outputs[i]->name);
	return run_into(m, inputs, outputs, threads, d);
}

const int64_t *cpu_model_layer_ns(const CpuModel *m) { return m->layer_ns; }

void cpu_model_free(CpuModel *m)
{
	if (m == NULL)
		return;
	if (m->dl)
		dlclose(m->dl);
	free(m->workspace);
	free(m);
}
