/* A structure-aware mutator for fuzz_import: half of the mutations decode the input as an ONNX
 * ModelProto (protobuf-c), change one field of the graph to a value at the edge of its range,
 * and encode it again, so the result is still a well-formed model and reaches shape inference,
 * constant folding and the passes; the other half (and every input that does not decode) are
 * libFuzzer's own byte-level mutations, which exercise the decoder itself.
 *
 * protobuf-c decodes nested messages recursively, so an input nested thousands deep (the fuzzer
 * makes those) would overflow the stack here rather than in the code under test: the wire format
 * is checked for depth first, without recursion past the limit.
 *
 * Memory: the decoded message is freed with protobuf-c's free_unpacked, which frees repeated
 * strings always and singular strings unless they are the field's static default; replaced
 * strings are therefore malloc'd, and an old singular string is freed only when it is heap. */
#include "onnx.pb-c.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: a cheap deterministic stream from libFuzzer's seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static size_t pick(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static int64_t edge_int(void)
{
	static const int64_t v[] = {
		0, 1, -1, 2, -2, 3, 4, 7, 8, 16, 255, 256, 65536, INT32_MAX, INT32_MIN, (int64_t)1 << 31,
		(int64_t)1 << 32, (int64_t)1 << 40, (int64_t)1 << 62, INT64_MAX, INT64_MIN, INT64_MIN + 1,
	};
	if (rnd() % 4 == 0)
		return (int64_t)pick(10) - 3;
	return v[pick(sizeof v / sizeof v[0])];
}

static float edge_float(void)
{
	static const float v[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 1e-30f, 1e30f, 3.4e38f, -3.4e38f, 1e-45f};
	switch (pick(4)) {
	case 0:
		return NAN;
	case 1:
		return rnd() % 2 ? INFINITY : -INFINITY;
	default:
		return v[pick(sizeof v / sizeof v[0])];
	}
}

static const char *const op_names[] = {
	"Add", "Mul", "Relu", "Conv", "ConvTranspose", "MatMul", "Gemm", "Reshape", "Transpose", "Concat",
	"Split", "Slice", "Gather", "Shape", "Size", "ConstantOfShape", "Expand", "Tile", "Range", "Pad",
	"Resize", "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization", "Softmax",
	"ReduceMean", "ReduceSum", "ArgMax", "Squeeze", "Unsqueeze", "Flatten", "Cast", "Clip", "Where",
	"Dropout", "Identity", "LayerNormalization", "InstanceNormalization", "Constant", "Sum", "Pow",
	"Det", "Loop",
};

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

static void replace_singular(char **field, const char *s)
{
	char *p = dup_str(s);
	if (p == NULL)
		return;
	if (*field != NULL && *field != protobuf_c_empty_string)
		free(*field);
	*field = p;
}

static void replace_repeated(char **slot, const char *s)
{
	char *p = dup_str(s);
	if (p == NULL)
		return;
	free(*slot);
	*slot = p;
}

static void mutate_dims(Onnx__TensorProto *t)
{
	if (t->n_dims == 0)
		return;
	if (rnd() % 5 == 0)
		t->n_dims--; /* drop the last dim: the payload no longer fits */
	else
		t->dims[pick(t->n_dims)] = edge_int();
}

static void mutate_attribute(Onnx__AttributeProto *a)
{
	if (a->n_ints > 0 && rnd() % 2) {
		a->ints[pick(a->n_ints)] = edge_int();
	} else if (a->n_floats > 0 && rnd() % 2) {
		a->floats[pick(a->n_floats)] = edge_float();
	} else if (a->t != NULL) {
		mutate_dims(a->t);
	} else if (a->has_i) {
		a->i = edge_int();
	} else if (a->has_f) {
		a->f = edge_float();
	} else if (a->n_ints > 0) {
		a->n_ints--; /* one element fewer than the op expects */
	}
}

static void mutate_value_info(Onnx__ValueInfoProto *vi)
{
	if (vi->type == NULL || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
		return;
	Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
	if (tt == NULL)
		return;
	if (rnd() % 4 == 0) {
		tt->has_elem_type = 1;
		tt->elem_type = (int32_t)pick(18);
		return;
	}
	if (tt->shape == NULL || tt->shape->n_dim == 0)
		return;
	Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[pick(tt->shape->n_dim)];
	/* dim_value and dim_param share a union: only a numeric dim can be changed in place without
	 * leaking the name */
	if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
		d->dim_value = edge_int();
}

/* One random change to the graph; 0 if the model offered nothing to change. */
static int mutate_model(Onnx__ModelProto *m)
{
	Onnx__GraphProto *g = m->graph;
	if (g == NULL)
		return 0;
	switch (pick(9)) {
	case 0: /* an attribute value */
		if (g->n_node > 0) {
			Onnx__NodeProto *n = g->node[pick(g->n_node)];
			if (n->n_attribute > 0) {
				mutate_attribute(n->attribute[pick(n->n_attribute)]);
				return 1;
			}
		}
		return 0;
	case 1: /* an initializer's dims */
		if (g->n_initializer > 0) {
			mutate_dims(g->initializer[pick(g->n_initializer)]);
			return 1;
		}
		return 0;
	case 2: /* an initializer's payload shortened */
		if (g->n_initializer > 0) {
			Onnx__TensorProto *t = g->initializer[pick(g->n_initializer)];
			if (t->has_raw_data && t->raw_data.len > 0) {
				t->raw_data.len = pick(t->raw_data.len);
				return 1;
			}
		}
		return 0;
	case 3: /* a graph input's dtype or dims */
		if (g->n_input > 0) {
			mutate_value_info(g->input[pick(g->n_input)]);
			return 1;
		}
		return 0;
	case 4: /* a node becomes another op */
		if (g->n_node > 0) {
			replace_singular(&g->node[pick(g->n_node)]->op_type, op_names[pick(sizeof op_names / sizeof op_names[0])]);
			return 1;
		}
		return 0;
	case 5: /* a node reads another value, or omits an optional input */
		if (g->n_node > 0) {
			Onnx__NodeProto *n = g->node[pick(g->n_node)];
			if (n->n_input == 0)
				return 0;
			const char *src = "";
			Onnx__NodeProto *o = g->node[pick(g->n_node)];
			if (rnd() % 4 != 0 && o->n_output > 0)
				src = o->output[pick(o->n_output)];
			else if (rnd() % 2 && g->n_initializer > 0)
				src = g->initializer[pick(g->n_initializer)]->name;
			if (src == NULL)
				return 0;
			replace_repeated(&n->input[pick(n->n_input)], src);
			return 1;
		}
		return 0;
	case 6: /* two nodes swap places (files need not be sorted) */
		if (g->n_node > 1) {
			size_t i = pick(g->n_node), j = pick(g->n_node);
			Onnx__NodeProto *t = g->node[i];
			g->node[i] = g->node[j];
			g->node[j] = t;
			return 1;
		}
		return 0;
	case 7: /* the opset */
		if (m->n_opset_import > 0) {
			Onnx__OperatorSetIdProto *o = m->opset_import[pick(m->n_opset_import)];
			o->has_version = 1;
			o->version = rnd() % 8 == 0 ? edge_int() : (int64_t)pick(24);
			return 1;
		}
		return 0;
	default: /* a node or an output dropped */
		if (g->n_node > 1 && rnd() % 2) {
			/* moved to the end and hidden from the encoder; free_unpacked never sees it, so
			 * free it here */
			size_t i = pick(g->n_node);
			Onnx__NodeProto *n = g->node[i];
			g->node[i] = g->node[g->n_node - 1];
			g->n_node--;
			onnx__node_proto__free_unpacked(n, NULL);
			return 1;
		}
		if (g->n_output > 1) {
			size_t i = pick(g->n_output);
			Onnx__ValueInfoProto *v = g->output[i];
			g->output[i] = g->output[g->n_output - 1];
			g->n_output--;
			onnx__value_info_proto__free_unpacked(v, NULL);
			return 1;
		}
		return 0;
	}
}

#define MAX_WIRE_DEPTH 48 /* ONNX nests Model > Graph > Node > Attribute > Graph ...: real models need ~10 */

static int get_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && *i < n; shift += 7) {
		uint8_t b = p[(*i)++];
		*v |= (uint64_t)(b & 0x7F) << shift;
		if (!(b & 0x80))
			return 1;
	}
	return 0;
}

/* 1: a well-formed message whose length-delimited fields, read as messages wherever they parse
 * as such, nest at most MAX_WIRE_DEPTH deep; 0: not a well-formed message; -1: too deep. */
static int wire_check(const uint8_t *p, size_t n, int depth)
{
	if (depth > MAX_WIRE_DEPTH)
		return -1;
	size_t i = 0;
	while (i < n) {
		uint64_t key, v;
		if (!get_varint(p, n, &i, &key) || key >> 3 == 0)
			return 0;
		switch (key & 7) {
		case 0:
			if (!get_varint(p, n, &i, &v))
				return 0;
			break;
		case 1:
			if (n - i < 8)
				return 0;
			i += 8;
			break;
		case 5:
			if (n - i < 4)
				return 0;
			i += 4;
			break;
		case 2:
			if (!get_varint(p, n, &i, &v) || v > n - i)
				return 0;
			if (wire_check(p + i, (size_t)v, depth + 1) < 0)
				return -1; /* a string that does not parse as a message is just bytes */
			i += (size_t)v;
			break;
		default:
			return 0; /* groups are not used by onnx.proto */
		}
	}
	return 1;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	rng_state = ((uint64_t)seed << 1) | 1;
	if (rnd() % 2 == 0 || wire_check(data, size, 0) != 1)
		return LLVMFuzzerMutate(data, size, max_size);
	Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
	if (m == NULL)
		return LLVMFuzzerMutate(data, size, max_size);
	size_t out = 0;
	int changed = 0;
	for (int tries = 0; tries < 4 && !changed; tries++)
		changed = mutate_model(m);
	if (changed) {
		size_t n = onnx__model_proto__get_packed_size(m);
		if (n <= max_size)
			out = onnx__model_proto__pack(m, data);
	}
	onnx__model_proto__free_unpacked(m, NULL);
	return out > 0 ? out : LLVMFuzzerMutate(data, size, max_size);
}
