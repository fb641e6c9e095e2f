/* The ONNX backend-test layout: DIR/test_data_set_K/{input,output}_N.pb. */
#include "driver.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int list_test_sets(const char *dir, char ***sets, int *n, Diag *d)
{
	DIR *dp = opendir(dir);
	*sets = NULL;
	*n = 0;
	if (dp == NULL)
		return diag_error(d, "%s: cannot open test-data folder", dir);
	struct dirent *e;
	int cap = 0;
	while ((e = readdir(dp)) != NULL) {
		if (strncmp(e->d_name, "test_data_set_", 14) != 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			char **ns = realloc(*sets, (size_t)cap * sizeof *ns);
			if (ns == NULL)
				break;
			*sets = ns;
		}
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		char *path = malloc(len);
		if (path == NULL)
			break;
		snprintf(path, len, "%s/%s", dir, e->d_name);
		(*sets)[(*n)++] = path;
	}
	closedir(dp);
	if (*n == 0)
		return diag_error(d, "%s: no test_data_set_* folders", dir);
	qsort(*sets, (size_t)*n, sizeof **sets, cmp_str);
	return 0;
}

void tensor_list_free(TensorList *l)
{
	for (int i = 0; i < l->n; i++)
		tensor_free(&l->t[i]);
	free(l->t);
	free(l->names);
	memset(l, 0, sizeof *l);
}

/* prefix_0.pb, prefix_1.pb, ... until the first missing index */
int read_tensor_files(const char *dir, const char *prefix, TensorList *out, Diag *d)
{
	memset(out, 0, sizeof *out);
	for (int i = 0;; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s_%d.pb", dir, prefix, i);
		if (stat(path, &st) != 0)
			return 0;
		Tensor *nt = realloc(out->t, (size_t)(i + 1) * sizeof *nt);
		char(*nn)[256] = nt ? realloc(out->names, (size_t)(i + 1) * sizeof *nn) : NULL;
		if (nt)
			out->t = nt;
		if (nn)
			out->names = nn;
		if (!nt || !nn) {
			tensor_list_free(out);
			return diag_error(d, "out of memory");
		}
		if (pb_read_tensor(path, &out->t[i], out->names[i], sizeof out->names[i], d) < 0) {
			tensor_list_free(out);
			return -1;
		}
		out->n = i + 1;
	}
}

int adopt_bf16_bits(Tensor *t, DType declared, Diag *d)
{
	if (declared != DT_BF16 || (t->dtype != DT_U16 && t->dtype != DT_I16))
		return 0;
	int64_t n = tensor_numel(t);
	uint16_t *bits = malloc((size_t)(n > 0 ? n : 1) * sizeof *bits);
	Tensor f;
	if (bits == NULL)
		return diag_error(d, "out of memory");
	if (tensor_alloc(&f, DT_BF16, &t->shape, d) < 0) {
		free(bits);
		return -1;
	}
	for (int64_t i = 0; i < n; i++)
		bits[i] = (uint16_t)((const int64_t *)t->data)[i];
	dtype_load(DT_BF16, bits, f.data, (size_t)n);
	free(bits);
	tensor_free(t);
	*t = f;
	return 0;
}

void read_run_data(const DriverOptions *o, RunData *rd)
{
	Diag ignored = {0};
	memset(rd, 0, sizeof *rd);
	if (o->test_data) {
		char **sets;
		int n_sets;
		if (list_test_sets(o->test_data, &sets, &n_sets, &ignored) < 0)
			return;
		if (read_tensor_files(sets[0], "input", &rd->tl, &ignored) < 0)
			memset(&rd->tl, 0, sizeof rd->tl);
		for (int i = 0; i < n_sets; i++)
			free(sets[i]);
		free(sets);
		return;
	}
	if (o->n_inputs == 0)
		return;
	rd->by_name = true;
	rd->tl.t = calloc((size_t)o->n_inputs, sizeof *rd->tl.t);
	rd->tl.names = calloc((size_t)o->n_inputs, sizeof *rd->tl.names);
	if (rd->tl.t == NULL || rd->tl.names == NULL) {
		tensor_list_free(&rd->tl);
		return;
	}
	for (int k = 0; k < o->n_inputs; k++) {
		Tensor *t = &rd->tl.t[rd->tl.n];
		if (pb_read_tensor(o->inputs[k].path, t, NULL, 0, &ignored) < 0)
			continue;
		snprintf(rd->tl.names[rd->tl.n], sizeof rd->tl.names[0], "%s", o->inputs[k].name);
		rd->tl.n++;
	}
}

void model_inputs_free(ModelInputs *mi)
{
	for (int i = 0; i < mi->n; i++) {
		free(mi->name[i]);
		tensor_free(&mi->frozen[i]);
	}
	free(mi->name);
	free(mi->dtype);
	free(mi->frozen);
	memset(mi, 0, sizeof *mi);
}

static bool is_frozen(const ModelInputs *mi, const char *name)
{
	for (int i = 0; mi && i < mi->n; i++)
		if (mi->frozen[i].data != NULL && strcmp(mi->name[i], name) == 0)
			return true;
	return false;
}

int read_named_inputs(const DriverOptions *o, const Graph *g, const ModelInputs *mi, Tensor *in, Diag *d)
{
	for (int k = 0; k < o->n_inputs; k++) {
		int idx = -1;
		for (int i = 0; i < g->n_inputs; i++)
			if (strcmp(g->inputs[i]->name, o->inputs[k].name) == 0)
				idx = i;
		for (int j = 0; j < k; j++)
			if (strcmp(o->inputs[j].name, o->inputs[k].name) == 0)
				return diag_error(d, "-i %s: given twice", o->inputs[k].name);
		if (idx < 0 && is_frozen(mi, o->inputs[k].name))
			continue; /* its value is compiled in */
		if (idx < 0)
			return diag_error(d, "-i %s: the model has no input of that name", o->inputs[k].name);
		if (pb_read_tensor(o->inputs[k].path, &in[idx], NULL, 0, d) < 0)
			return -1;
	}
	for (int i = 0; i < g->n_inputs; i++)
		if (in[i].data == NULL)
			return diag_error(d, "input '%s' not given (-i %s=FILE.pb)", g->inputs[i]->name, g->inputs[i]->name);
	return 0;
}
