/* What `nnzc compile --target cpu` produces besides code (formats in artifact.h): the layout of
 * the constant data the tasks read — embedded in the object or in a weights file — the metadata
 * blob that `nnzc info` reads back from an object, a shared object or a weights file, and the
 * per-layer report behind --report and --time-passes. */
#include "sparse.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cpu_phase_names[CPU_PHASES] = {"codegen: emit IR", "LLVM optimise", "LLVM emit object"};

/* Data embedded in one object: beyond ~2 GiB the object's 32-bit PC-relative references break. */
#define MAX_EMBEDDED_BYTES (INT64_C(3) << 29)

static int64_t round64(int64_t n) { return (n + 63) / 64 * 64; }

static bool *used_data(const Cg *cg)
{
	bool *used = calloc((size_t)cg->n_data + 1, sizeof *used);
	if (used == NULL)
		return NULL;
	for (int i = 0; i < cg->n_args; i++)
		if (cg->args[i].data >= 0)
			used[cg->args[i].data] = true;
	const Graph *g = cg->g;
	for (int i = 0; i < g->n_outputs; i++)
		if (cg->data_of[g->outputs[i]->id] >= 0)
			used[cg->data_of[g->outputs[i]->id]] = true;
	return used;
}

/* Hash n bytes followed by zeros up to `padded` (a multiple of CPU_HASH_BLOCK). */
static void hash_padded(CpuHash *h, const unsigned char *p, size_t n, size_t padded)
{
	size_t whole = n / CPU_HASH_BLOCK * CPU_HASH_BLOCK;
	cpu_hash_blocks(h, p, whole);
	unsigned char block[CPU_HASH_BLOCK];
	for (size_t at = whole; at < padded; at += CPU_HASH_BLOCK) {
		memset(block, 0, sizeof block);
		if (at < n)
			memcpy(block, p + at, n - at);
		cpu_hash_blocks(h, block, sizeof block);
	}
}

int cpu_layout_data(Cg *cg)
{
	bool *used = used_data(cg);
	if (used == NULL)
		return diag_error(cg->d, "out of memory");
	int64_t at = 0;
	CpuHash h;
	cpu_hash_init(&h);
	for (int i = 0; i < cg->n_data; i++) {
		if (!used[i])
			continue;
		CgData *dt = &cg->data[i];
		int64_t padded = round64(dt->size ? (int64_t)dt->size : 1);
		if (at > INT64_MAX / 4 - padded) {
			free(used);
			return diag_error(cg->d, "the model's constant data is too large");
		}
		dt->offset = at;
		at += padded;
		if (cg->external)
			hash_padded(&h, dt->bytes, dt->size, (size_t)padded);
	}
	free(used);
	if (cg->external) {
		cg->payload_bytes = at;
		cg->fingerprint = cpu_hash_final(&h);
		return 0;
	}
	cg->embedded_bytes = at;
	if (at > MAX_EMBEDDED_BYTES)
		return diag_error(cg->d, "%lld bytes of weights are too many to embed in an object: use --weights-file FILE",
				  (long long)at);
	return 0;
}

/* ---------------------------------------------------------------- per node */

const char *cpu_node_kernel(const Cg *cg, int k, char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	for (int i = 0; i < cg->n_tasks; i++) {
		if (cg->tasks[i].node != k)
			continue;
		int n = snprintf(buf + len, cap - len, "%s%s", len ? "+" : "", cg->tasks[i].what);
		if (n < 0 || (size_t)n >= cap - len)
			break;
		len += (size_t)n;
	}
	if (len == 0)
		snprintf(buf, cap, "none");
	return buf;
}

/* Bytes of the distinct data items that node k's tasks read through their argument blocks. */
static int64_t node_data_bytes(const Cg *cg, int k, bool *seen)
{
	int64_t total = 0;
	for (int i = 0; i < cg->n_tasks; i++) {
		const CgTask *t = &cg->tasks[i];
		if (t->node != k)
			continue;
		for (int j = 0; j < t->n_args; j++) {
			int id = cg->args[t->first_arg + j].data;
			if (id >= 0 && !seen[id]) {
				seen[id] = true;
				total += (int64_t)cg->data[id].size;
			}
		}
	}
	for (int i = 0; i < cg->n_tasks; i++) /* reset for the next node */
		if (cg->tasks[i].node == k)
			for (int j = 0; j < cg->tasks[i].n_args; j++)
				if (cg->args[cg->tasks[i].first_arg + j].data >= 0)
					seen[cg->args[cg->tasks[i].first_arg + j].data] = false;
	return total;
}

static double numel_d(const Value *v)
{
	int64_t n = v ? shape_numel(&v->shape) : 0;
	return n > 0 ? (double)n : 0.0;
}

static double prod_from(const Shape *s, int from)
{
	double p = 1;
	for (int i = from; i < s->rank; i++)
		p *= (double)s->dim[i];
	return p;
}

double cpu_node_flops(const Node *n)
{
	const Value *x = n->in[0], *w = n->n_in > 1 ? n->in[1] : NULL, *y = n->out[0];
	switch (n->op) {
	case OP_Conv:
	case OP_FusedConv:
		return w ? 2.0 * numel_d(y) * prod_from(&w->shape, 1) : 0.0;
	case OP_ConvTranspose:
		return w ? 2.0 * numel_d(x) * prod_from(&w->shape, 1) : 0.0;
	case OP_Gemm:
	case OP_FusedGemm: {
		const GemmAttrs *ga = n->op == OP_Gemm ? &n->attr.gemm : &n->attr.fused_gemm.gemm;
		return x && x->shape.rank == 2 ? 2.0 * numel_d(y) * (double)x->shape.dim[ga->trans_a ? 0 : 1] : 0.0;
	}
	case OP_MatMul:
		return x && x->shape.rank >= 1 ? 2.0 * numel_d(y) * (double)x->shape.dim[x->shape.rank - 1] : 0.0;
	case OP_MaxPool:
	case OP_AveragePool: {
		double k = 1;
		for (int i = 0; i < n->attr.pool.kernel_shape.n; i++)
			k *= (double)n->attr.pool.kernel_shape.v[i];
		return numel_d(y) * k;
	}
	default: {
		double a = numel_d(x), b = numel_d(y);
		return a > b ? a : b;
	}
	}
}

/* ---------------------------------------------------------------- sharing after mergefunc */

int cpu_shared_functions(const Cg *cg, int *shared_with)
{
	const Graph *g = cg->g;
	for (int k = 0; k <= g->n_nodes; k++)
		shared_with[k] = -1;
	int distinct = 0;
	for (int i = 0; i < cg->n_tasks; i++) {
		const CgTask *t = &cg->tasks[i];
		if (t->call == NULL)
			continue;
		LLVMValueRef fn = LLVMGetOperand(t->call, 2);
		int first = -1;
		for (int j = 0; j < i && first < 0; j++)
			if (cg->tasks[j].call && LLVMGetOperand(cg->tasks[j].call, 2) == fn)
				first = j;
		if (first < 0) {
			distinct++;
			continue;
		}
		int owner = cg->tasks[first].node;
		if (owner != t->node && t->node < g->n_nodes && shared_with[t->node] < 0)
			shared_with[t->node] = owner;
	}
	return distinct;
}

/* ---------------------------------------------------------------- metadata */

typedef struct Text {
	char *buf;
	size_t len, cap;
	bool failed;
} Text;

static void put(Text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + n + 1)
			cap *= 2;
		char *b = realloc(t->buf, cap);
		if (b == NULL) {
			t->failed = true;
			return;
		}
		t->buf = b;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

static void putf(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(Text *t, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->failed = true;
		return;
	}
	if ((size_t)n < sizeof small) {
		put(t, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (big == NULL) {
		t->failed = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	put(t, big, (size_t)n);
	free(big);
}

/* a tab-separated field: a tab first, then s with \, tab, CR and newline escaped */
static void field(Text *t, const char *s)
{
	put(t, "\t", 1);
	for (const char *p = s ? s : ""; *p; p++) {
		const char *e = *p == '\\' ? "\\\\" : *p == '\t' ? "\\t" : *p == '\n' ? "\\n" : *p == '\r' ? "\\r" : NULL;
		if (e)
			put(t, e, 2);
		else
			put(t, p, 1);
	}
}

static const char *shape_text(const Shape *s, char *buf, size_t cap) { return shape_str(s, buf, cap); }

static void encoding_text(const Encoding *e, char *buf, size_t cap)
{
	buf[0] = '\0';
	FILE *f = fmemopen(buf, cap, "w");
	if (f) {
		encoding_print(e, f);
		fclose(f);
	}
}

/* The weight of a layer in the sense of `nnzc info`: input 1 of a product or convolution. */
static const Value *layer_weight(const Node *n)
{
	if (n->n_in < 2 || n->in[1] == NULL || !value_is_const(n->in[1]))
		return NULL;
	switch (n->op) {
	case OP_Conv: case OP_ConvTranspose: case OP_Gemm: case OP_MatMul: case OP_FusedConv: case OP_FusedGemm:
		return n->in[1];
	default:
		return NULL;
	}
}

/* What the cost model said about node k: the emitter's noted choice, else for a weight product
 * no emitter noted (a dense-only kernel) the dense prediction with no choice; else nothing. */
static void layer_choice(const Cg *cg, int k, CpuLayer *l)
{
	const CpuChoice *c = &cg->choice[k];
	l->choice = NULL;
	l->predicted_s = l->dense_s = -1.0;
	if (c->set) {
		l->choice = c->kind >= 0 && c->kind < CK_COUNT ? cpu_kernel_kind_name[c->kind] : "?";
		l->predicted_s = c->predicted_s;
		l->dense_s = c->dense_s;
		return;
	}
	ProductShape p;
	if (cpu_node_product(cg->g->nodes[k], &p))
		l->predicted_s = l->dense_s = cpu_cost_seconds(cg, CK_DENSE, &p);
}

char *cpu_metadata_text(Cg *cg, const int *shared_with, int n_functions, size_t *len)
{
	const Graph *g = cg->g;
	const CpuOptions *o = cg->opt;
	Text t = {0};
	char prefix[128], s[256];
	cpu_prefix(o, prefix, sizeof prefix);
	static const char *const emits[] = {"obj", "asm", "llvm", "shared"};
	putf(&t, "nnzc\t%s\n", NNZC_VERSION_STRING);
	put(&t, "model", 5);
	field(&t, g->name);
	put(&t, "\nsource", 7);
	field(&t, g->source);
	put(&t, "\nprefix", 7);
	field(&t, prefix);
	put(&t, "\ntarget", 7);
	field(&t, cg->cpu_name);
	field(&t, cg->cpu_features);
	putf(&t, "\t%d\nopt\t%d\nemit\t%s\n", cg->vlen, o->opt_level, emits[o->emit]);
	putf(&t, "workspace\t%lld\t%lld\t%d\n", (long long)cg->plan.size, (long long)cg->plan.naive_size, cg->plan.n_buffers);
	if (cg->external) {
		const char *base = strrchr(o->weights_file, '/');
		put(&t, "weights\tfile", 12);
		field(&t, base ? base + 1 : o->weights_file);
		putf(&t, "\t%lld\t%016llx\n", (long long)cg->payload_bytes, (unsigned long long)cg->fingerprint);
	} else {
		putf(&t, "weights\tembedded\t%lld\n", (long long)cg->embedded_bytes);
	}
	putf(&t, "code\t%d\t%d\n", cg->n_tasks, n_functions);
	/* the choices below depend on it: objects are identical for the same model, flags and this */
	const CpuCostModel *cm = cpu_cost_model(cg);
	put(&t, "cost", 4);
	field(&t, cm->source);
	putf(&t, "\t%d\t%s\t%s\n", cm->threads, o->kernels == CPU_KERNELS_DENSE ? "dense" :
		o->kernels == CPU_KERNELS_SPARSE ? (o->sparse_kind > 0 && o->sparse_kind < CK_COUNT ?
		cpu_kernel_kind_name[o->sparse_kind] : "sparse") : "auto", o->profile ? "profile" : "-");
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < (k ? g->n_outputs : g->n_inputs); i++) {
			const Value *v = k ? g->outputs[i] : g->inputs[i];
			put(&t, k ? "output" : "input", k ? 6 : 5);
			field(&t, v->name);
			putf(&t, "\t%s\t%s\n", dtype_name(v->dtype), shape_text(&v->shape, s, sizeof s));
		}
	bool *seen = calloc((size_t)cg->n_data + 1, sizeof *seen);
	if (seen == NULL)
		t.failed = true;
	for (int k = 0; k < g->n_nodes && seen; k++) {
		const Node *n = g->nodes[k];
		const Value *w = layer_weight(n);
		char enc[64] = "-", ws[128] = "-", kernel[128];
		int64_t elems = 0, nnz = 0;
		if (w) {
			encoding_text(&w->enc, enc, sizeof enc);
			shape_text(&w->shape, ws, sizeof ws);
			elems = shape_numel(&w->shape);
			nnz = value_nnz(w);
		}
		put(&t, "layer", 5);
		field(&t, n->name);
		putf(&t, "\t%s\t%s\t%s\t%s\t%lld\t%lld\t%lld", op_name(n->op), shape_text(&n->out[0]->shape, s, sizeof s), ws,
		     enc, (long long)elems, (long long)nnz, (long long)node_data_bytes(cg, k, seen));
		field(&t, cpu_node_kernel(cg, k, kernel, sizeof kernel));
		field(&t, shared_with[k] >= 0 ? g->nodes[shared_with[k]]->name : "-");
		/* the cost model's choice: kind, predicted seconds of it and of dense */
		CpuLayer cl;
		layer_choice(cg, k, &cl);
		putf(&t, "\t%s\t%.6g\t%.6g\n", cl.choice ? cl.choice : "-", cl.predicted_s, cl.dense_s);
	}
	free(seen);
	if (t.failed) {
		free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}

/* The blob: header, text, zeros up to a multiple of 8. */
static unsigned char *make_blob(const char *text, size_t len, size_t *bytes)
{
	size_t n = (CPU_INFO_HEADER + len + 7) / 8 * 8;
	unsigned char *b = calloc(n, 1);
	if (b == NULL)
		return NULL;
	memcpy(b, CPU_INFO_MAGIC, 8);
	cpu_put_u32(b + 8, CPU_INFO_VERSION);
	cpu_put_u32(b + 12, (uint32_t)len);
	memcpy(b + CPU_INFO_HEADER, text, len);
	*bytes = n;
	return b;
}

size_t cpu_metadata_blob_bytes(size_t len) { return (CPU_INFO_HEADER + len + 7) / 8 * 8; }

int cpu_emit_metadata(Cg *cg, const char *text, size_t len)
{
	if (len > UINT32_MAX / 2)
		return diag_error(cg->d, "the model's metadata is too large");
	size_t n;
	unsigned char *blob = make_blob(text, len, &n);
	if (blob == NULL)
		return diag_error(cg->d, "out of memory");
	LLVMValueRef init = LLVMConstStringInContext2(cg->ctx, (const char *)blob, n, 1);
	free(blob);
	LLVMValueRef gv = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), "nnzc.info");
	LLVMSetInitializer(gv, init);
	LLVMSetGlobalConstant(gv, 1);
	LLVMSetLinkage(gv, LLVMPrivateLinkage);
	LLVMSetSection(gv, CPU_INFO_SECTION);
	LLVMSetAlignment(gv, 8);
	/* nothing refers to it: llvm.used keeps it through GlobalDCE */
	LLVMValueRef used = LLVMAddGlobal(cg->mod, LLVMArrayType2(cg->t_ptr, 1), "llvm.used");
	LLVMSetLinkage(used, LLVMAppendingLinkage);
	LLVMSetSection(used, "llvm.metadata");
	LLVMSetInitializer(used, LLVMConstArray2(cg->t_ptr, &gv, 1));
	return 0;
}

/* ---------------------------------------------------------------- the weights file */

int cpu_write_weights(Cg *cg, const char *text, size_t len)
{
	size_t blob_n;
	unsigned char *blob = make_blob(text, len, &blob_n);
	if (blob == NULL)
		return diag_error(cg->d, "out of memory");
	unsigned char head[CPU_WEIGHTS_HEADER] = {0};
	memcpy(head, CPU_WEIGHTS_MAGIC, 8);
	cpu_put_u32(head + 8, CPU_WEIGHTS_VERSION);
	cpu_put_u32(head + 12, CPU_WEIGHTS_HEADER);
	cpu_put_u64(head + 16, (uint64_t)cg->payload_bytes);
	cpu_put_u64(head + 24, cg->fingerprint);
	cpu_put_u64(head + 32, (uint64_t)(CPU_WEIGHTS_HEADER + cg->payload_bytes));
	cpu_put_u64(head + 40, (uint64_t)blob_n);
	OutFile out;
	if (outfile_open(&out, cg->opt->weights_file, cg->d) < 0) {
		free(blob);
		return -1;
	}
	bool *used = used_data(cg);
	bool ok = used != NULL && fwrite(head, 1, sizeof head, out.f) == sizeof head;
	static const unsigned char zeros[64];
	int64_t at = 0;
	for (int i = 0; i < cg->n_data && ok; i++) {
		if (!used[i])
			continue;
		const CgData *dt = &cg->data[i];
		assert(dt->offset == at);
		size_t padded = (size_t)round64(dt->size ? (int64_t)dt->size : 1);
		ok = (dt->size == 0 || fwrite(dt->bytes, 1, dt->size, out.f) == dt->size) &&
		     fwrite(zeros, 1, padded - dt->size, out.f) == padded - dt->size;
		at += (int64_t)padded;
	}
	ok = ok && at == cg->payload_bytes && fwrite(blob, 1, blob_n, out.f) == blob_n;
	free(used);
	free(blob);
	if (!ok) {
		outfile_abort(&out);
		return diag_error(cg->d, "%s: cannot write the weights", cg->opt->weights_file);
	}
	return outfile_commit(&out, cg->d);
}

/* ---------------------------------------------------------------- the report */

int cpu_fill_report(Cg *cg, const int *shared_with, int n_functions, CpuReport *r)
{
	const Graph *g = cg->g;
	double seconds[CPU_PHASES];
	memcpy(seconds, r->seconds, sizeof seconds);
	cpu_report_free(r);
	memcpy(r->seconds, seconds, sizeof seconds);
	r->layers = calloc((size_t)g->n_nodes + 1, sizeof *r->layers);
	bool *seen = calloc((size_t)cg->n_data + 1, sizeof *seen);
	bool *used = used_data(cg);
	if (!r->layers || !seen || !used) {
		free(seen);
		free(used);
		return diag_error(cg->d, "out of memory");
	}
	r->n_layers = g->n_nodes;
	for (int k = 0; k < g->n_nodes; k++) {
		char kernel[128];
		CpuLayer *l = &r->layers[k];
		l->kernel = strdup(cpu_node_kernel(cg, k, kernel, sizeof kernel));
		l->weight_bytes = node_data_bytes(cg, k, seen);
		l->flops = cpu_node_flops(g->nodes[k]);
		l->shared_with = shared_with[k];
		layer_choice(cg, k, l);
	}
	const CpuCostModel *cm = cpu_cost_model(cg);
	snprintf(r->cost_model, sizeof r->cost_model, "%s", cm->source);
	r->cost_threads = cm->threads;
	r->vlen = cg->vlen;
	for (int i = 0; i < cg->n_data; i++)
		if (used[i])
			r->weight_bytes += (int64_t)cg->data[i].size;
	free(seen);
	free(used);
	r->weights_in_file = cg->external ? cg->payload_bytes : 0;
	r->workspace = cg->plan.size;
	r->naive_workspace = cg->plan.naive_size;
	r->n_buffers = cg->plan.n_buffers;
	r->n_tasks = cg->n_tasks;
	r->n_functions = n_functions;
	return 0;
}

void cpu_report_free(CpuReport *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < r->n_layers; i++)
		free((char *)r->layers[i].kernel);
	free(r->layers);
	memset(r, 0, sizeof *r);
}
