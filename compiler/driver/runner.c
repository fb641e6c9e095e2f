/* One way for run and bench to execute a compiled graph, whatever the target. The accel
 * target compiles the graph to a .nnza in memory, loads it through the runtime's validating
 * loader and executes it with nnzrt_accel_run (functional result and modeled cost). */
#include "driver.h"
#include "nnzrt_accel.h"
#include "targets/accel/accel.h"

#include <stdlib.h>
#include <string.h>

int accel_load_config(const DriverOptions *o, nnzrt_accel_config *cfg, Diag *d)
{
	const char *name = o->accel_config ? o->accel_config : "dense";
	if (nnzrt_accel_config_load(name, cfg) != NNZRT_OK)
		return diag_error(d, "--accel-config %s: %s", name, nnzrt_errmsg());
	return 0;
}

int accel_prepare(Graph *g, const nnzrt_accel_config *cfg, Diag *d)
{
	int before = g->n_remarks;
	if (accel_fit_weights(g, cfg, d) < 0)
		return -1;
	for (int i = before; i < g->n_remarks; i++) {
		const Remark *r = &g->remarks[i];
		fprintf(stderr, "remark: %s: node '%s' (%s): %s\n", r->pass, r->node ? r->node : "", r->op ? r->op : "",
			r->text);
	}
	return 0;
}

int accel_build(const Graph *g, const nnzrt_accel_config *cfg, unsigned char **bytes, size_t *len, Diag *d)
{
	NnzaBuilder b;
	memset(&b, 0, sizeof b);
	int rc = accel_lower(g, cfg, &b, d);
	if (rc == 0)
		rc = nnza_serialize(&b, true, bytes, len, d);
	nnza_builder_free(&b);
	return rc;
}

/* The program for g, or for its longest prefix the engine runs when a later node has no
 * lowering (those nodes run on the host: targets/ref, counted apart from the modeled cost). */
static int accel_open(Runner *r, const Graph *g, const DriverOptions *o, Diag *d)
{
	nnzrt_accel_config cfg;
	if (accel_load_config(o, &cfg, d) < 0)
		return -1;
	/* the weights were fitted to cfg by the caller (accel_prepare), which owns the graph */
	r->host_first = g->n_nodes;
	unsigned char *bytes = NULL;
	size_t len = 0;
	int rc;
	for (;;) {
		NnzaBuilder b;
		memset(&b, 0, sizeof b);
		int failed = -1;
		rc = accel_lower_prefix(g, &cfg, r->host_first, &b, &failed, d);
		if (rc == 0)
			rc = nnza_serialize(&b, true, &bytes, &len, d);
		nnza_builder_free(&b);
		if (rc == 0 || failed <= 0 || failed >= r->host_first)
			break;
		const Node *n = g->nodes[failed];
		fprintf(stderr, "accel: node '%s' (%s) and the %d node%s after it run on the host (targets/ref): no lowering\n",
			n->name, op_name(n->op), g->n_nodes - failed - 1, g->n_nodes - failed - 1 == 1 ? "" : "s");
		diag_clear(d);
		r->host_first = failed;
	}
	if (rc < 0)
		return -1;
	int st = nnzrt_accel_load(bytes, len, &r->accel);
	free(bytes);
	if (st != NNZRT_OK)
		return diag_error(d, "accel: the runtime refused the program: %s", nnzrt_errmsg());
	return 0;
}

int runner_open(Runner *r, const Graph *g, const DriverOptions *o, Diag *d)
{
	memset(r, 0, sizeof *r);
	r->g = g;
	r->threads = o->threads;
	if (strcmp(o->target, "ref") == 0)
		return 0;
	if (strcmp(o->target, "cpu") == 0) {
		CpuOptions co;
		driver_cpu_options(o, &co);
		co.prefix = NULL;
		r->cpu = cpu_load(g, &co, d);
		return r->cpu ? 0 : -1;
	}
	if (strcmp(o->target, "accel") == 0)
		return accel_open(r, g, o, d);
	return diag_error(d, "--target %s: not available in this build (ref, cpu, accel)", o->target);
}

/* Nodes [r->host_first, ...) on targets/ref, from the program's outputs t (by value id). */
static int host_run(const Runner *r, Tensor *t, bool *have, Diag *d)
{
	const Graph *g = r->g;
	for (int i = r->host_first; i < g->n_nodes; i++) {
		const Node *n = g->nodes[i];
		Tensor *in[NNZC_MAX_INTS * 4] = {0}, tmp[NNZC_MAX_INTS * 4];
		Tensor *out[NNZC_MAX_INTS * 4] = {0};
		if (n->n_in > (int)(sizeof in / sizeof in[0]) || n->n_out > (int)(sizeof out / sizeof out[0]))
			return node_error(d, n, "too many operands for the host fallback");
		for (int k = 0; k < n->n_in; k++) {
			const Value *v = n->in[k];
			if (v == NULL)
				continue;
			if (have[v->id]) {
				in[k] = &t[v->id];
			} else if (v->data) {
				tmp[k] = value_tensor(v);
				in[k] = &tmp[k];
			} else {
				return node_error(d, n, "host fallback: input '%s' has no value", v->name);
			}
		}
		for (int k = 0; k < n->n_out; k++) {
			const Value *v = n->out[k];
			if (v == NULL)
				continue;
			if (tensor_alloc(&t[v->id], v->dtype, &v->shape, d) < 0)
				return -1;
			have[v->id] = true;
			out[k] = &t[v->id];
		}
		if (op_info[n->op].ref(n, in, out, d) < 0)
			return -1;
	}
	return 0;
}

static int accel_run(Runner *r, const Tensor *inputs, Tensor *outputs, Diag *d)
{
	const Graph *g = r->g;
	int nio = nnzrt_accel_program_num_io(r->accel), n_out = nio - g->n_inputs;
	const float **in = calloc((size_t)g->n_inputs + 1, sizeof *in);
	float **out = calloc((size_t)(n_out > 0 ? n_out : 0) + 1, sizeof *out);
	Tensor *t = calloc((size_t)g->n_values + 1, sizeof *t); /* by value id: program outputs, host values */
	bool *have = calloc((size_t)g->n_values + 1, sizeof *have);
	int rc = -1;
	if (in == NULL || out == NULL || t == NULL || have == NULL) {
		diag_error(d, "out of memory");
		goto done;
	}
	for (int i = 0; i < g->n_inputs; i++) {
		if (!dtype_is_float(inputs[i].dtype) || tensor_numel(&inputs[i]) != shape_numel(&g->inputs[i]->shape)) {
			diag_error(d, "accel: input '%s' is not a float tensor of the compiled shape", g->inputs[i]->name);
			goto done;
		}
		in[i] = inputs[i].data;
		t[g->inputs[i]->id] = inputs[i]; /* borrowed: not freed below */
		have[g->inputs[i]->id] = true;
	}
	for (int i = 0; i < n_out; i++) {
		const nnzrt_accel_io *io = nnzrt_accel_program_io(r->accel, g->n_inputs + i);
		const Value *v = graph_find_value(g, io->name);
		if (v == NULL || have[v->id]) {
			diag_error(d, "accel: program output '%s' is not a value of the graph", io->name);
			goto done;
		}
		if (tensor_alloc(&t[v->id], v->dtype, &v->shape, d) < 0)
			goto done;
		have[v->id] = true;
		out[i] = t[v->id].data;
	}
	if (r->stats == NULL && (r->stats = calloc(1, sizeof *r->stats)) == NULL) {
		diag_error(d, "out of memory");
		goto done;
	}
	nnzrt_accel_stats_free(r->stats);
	memset(r->stats, 0, sizeof *r->stats);
	if (nnzrt_accel_run(r->accel, in, out, 0, r->stats) != NNZRT_OK) {
		diag_error(d, "accel: %s", nnzrt_errmsg());
		goto done;
	}
	if (host_run(r, t, have, d) < 0)
		goto done;
	/* the graph outputs, moved out of t */
	for (int i = 0; i < g->n_outputs; i++) {
		const Value *v = g->outputs[i];
		if (!have[v->id] || graph_is_input(g, v)) {
			diag_error(d, "accel: no value for output '%s'", v->name);
			goto done;
		}
		outputs[i] = t[v->id];
		memset(&t[v->id], 0, sizeof t[v->id]);
		have[v->id] = false;
	}
	rc = 0;
done:
	if (rc < 0 && outputs)
		for (int i = 0; i < g->n_outputs; i++)
			if (t == NULL || outputs[i].data != NULL)
				tensor_free(&outputs[i]);
	if (t && have)
		for (int i = 0; i < g->n_values; i++)
			if (have[i] && !(g->values[i]->producer == NULL && !value_is_const(g->values[i])))
				tensor_free(&t[i]);
	free(t);
	free(have);
	free(in);
	free(out);
	return rc;
}

static void json_cost(const nnzrt_accel_cost *c, FILE *f)
{
	fprintf(f, "\"cycles\": %llu, \"utilisation\": ", (unsigned long long)c->cycles);
	json_print_number(c->utilisation, f);
	fprintf(f, ", \"macs\": %llu, \"dram_bytes\": %llu, \"sram_bytes\": %llu, \"insns\": %llu",
		(unsigned long long)c->macs, (unsigned long long)c->dram_bytes, (unsigned long long)c->sram_bytes,
		(unsigned long long)c->insns);
	fprintf(f, ", \"busy\": {\"ld\": %llu, \"st\": %llu, \"mx\": %llu, \"vx\": %llu}",
		(unsigned long long)c->busy[NNZRT_ACCEL_UNIT_LD], (unsigned long long)c->busy[NNZRT_ACCEL_UNIT_ST],
		(unsigned long long)c->busy[NNZRT_ACCEL_UNIT_MX], (unsigned long long)c->busy[NNZRT_ACCEL_UNIT_VX]);
	fprintf(f, ", \"energy_uj\": ");
	json_print_number(c->energy_pj * 1e-6, f);
	fprintf(f, ", \"seconds\": ");
	json_print_number(c->seconds, f);
	fprintf(f, ", \"edp\": ");
	json_print_number(c->edp, f);
}

int accel_write_report(const DriverOptions *o, const Runner *r, Diag *d)
{
	if (r->accel == NULL || r->stats == NULL)
		return diag_error(d, "--report: no accelerator run to report");
	OutFile out;
	if (outfile_open(&out, o->report, d) < 0)
		return -1;
	FILE *f = out.f;
	const nnzrt_accel_config *cfg = nnzrt_accel_program_config(r->accel);
	fprintf(f, "{\"model\": ");
	json_print_string(r->g->name, f);
	fprintf(f, ", \"target\": \"accel\", \"config\": ");
	json_print_string(cfg->name, f);
	fprintf(f, ", \"insns\": %u, \"total\": {", nnzrt_accel_program_num_insns(r->accel));
	json_cost(&r->stats->total, f);
	fprintf(f, "},\n\"layers\": [");
	for (int i = 0; i < r->stats->n_layers; i++) {
		const nnzrt_accel_layer_stats *l = &r->stats->layers[i];
		fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
		json_print_string(l->name, f);
		fprintf(f, ", \"op\": ");
		json_print_string(l->op, f);
		fprintf(f, ", ");
		json_cost(&l->cost, f);
		fputc('}', f);
	}
	fprintf(f, "],\n\"host_layers\": [");
	for (int i = r->host_first; i < r->g->n_nodes; i++) {
		fprintf(f, "%s{\"name\": ", i > r->host_first ? ", " : "");
		json_print_string(r->g->nodes[i]->name, f);
		fprintf(f, ", \"op\": \"%s\"}", op_name(r->g->nodes[i]->op));
	}
	fprintf(f, "]}\n");
	return outfile_commit(&out, d);
}

int runner_run(Runner *r, const Tensor *inputs, Tensor *outputs, Diag *d)
{
	if (r->cpu)
		return cpu_model_run(r->cpu, inputs, outputs, r->threads, d);
	if (r->accel)
		return accel_run(r, inputs, outputs, d);
	return ref_run(r->g, inputs, outputs, d);
}

int runner_rerun(Runner *r, const Tensor *inputs, Tensor *outputs, Diag *d)
{
	if (r->cpu)
		return cpu_model_rerun(r->cpu, inputs, outputs, r->threads, d);
	for (int i = 0; i < r->g->n_outputs; i++)
		tensor_free(&outputs[i]);
	return runner_run(r, inputs, outputs, d);
}

void runner_close(Runner *r)
{
	cpu_model_free(r->cpu);
	r->cpu = NULL;
	nnzrt_accel_free(r->accel);
	r->accel = NULL;
	if (r->stats)
		nnzrt_accel_stats_free(r->stats);
	free(r->stats);
	r->stats = NULL;
}
