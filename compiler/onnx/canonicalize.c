/* Opset canonicalisation: every op leaves the frontend in the one form ops.def describes
 * (ONNX opset 17 semantics, with later opsets' inputs-instead-of-attributes), whatever opset
 * 7..21 the file was written for. What changed between versions, op by op, and what is done:
 *
 *   Clip < 11           min/max attributes        -> constant inputs (dtype of x when known)
 *   Pad < 11            pads/value attributes     -> constant inputs
 *   Slice < 10          starts/ends/axes attrs    -> constant inputs
 *   Squeeze, Unsqueeze < 13, Split < 13 (split), ReduceSum < 13, other Reduce* < 18:
 *                       axes/split attribute      -> constant input
 *   Dropout < 12        ratio                     -> ignored (Dropout is the identity at inference)
 *   Softmax, LogSoftmax < 13: default axis 1 and "coerce to 2-D" semantics -> kept when the axis
 *                       is provably the last one, else Flatten(axis) -> op(axis=-1) -> Reshape(Shape(x))
 *   Upsample 7 (scales attribute), 9 (scales input), Resize 10 -> Resize 13 form with
 *                       coordinate_transformation_mode=asymmetric and nearest_mode=floor (Resize-10
 *                       computes out = floor(in * scale) and maps back by x_out / scale, which is
 *                       what ONNX's own 10 -> 11 version converter writes)
 *   Resize 11, 12       tf_half_pixel_for_nn (nearest only) -> half_pixel with the nearest_mode
 *                       shifted by half a pixel (see canon_resize)
 *   Resize >= 18        axes (unsupported: error), keep_aspect_ratio_policy (only matters with
 *                       sizes; other than stretch there: error), antialias (kept in the table)
 *   BatchNormalization  < 9 spatial must be 1; training_mode = 1 (>= 14) is an error
 *   MaxPool             a second (Indices) output is an error
 * Attributes added in later opsets and carried by the AttrDesc tables (Shape start/end at 15,
 * Reshape allowzero at 14, Split num_outputs at 18, Cast saturate at 19, AveragePool dilations
 * at 19, Resize antialias at 18, Pad mode wrap at 19) need no rewrite. */
#include "onnx_internal.h"

#include <string.h>

static bool is(const char *a, const char *b) { return strcmp(a, b) == 0; }

static bool is_reduce(Op op)
{
	switch (op) {
	case OP_ReduceMean: case OP_ReduceSum: case OP_ReduceMax: case OP_ReduceMin: case OP_ReduceProd:
	case OP_ReduceSumSquare: case OP_ReduceL1: case OP_ReduceL2: case OP_ReduceLogSumExp:
		return true;
	default:
		return false;
	}
}

static bool is_upsample(const NodeBuild *b) { return b->np->op_type && is(b->np->op_type, "Upsample"); }

/* Resize-11's tf_half_pixel_for_nn (gone in 13): x_in = (x_out + 0.5) / scale. */
static bool tf_half_pixel_for_nn(const NodeBuild *b)
{
	static const char mode[] = "tf_half_pixel_for_nn";
	const Onnx__AttributeProto *a = onnx_attr_find(b->np, "coordinate_transformation_mode");
	return a && a->has_s && a->s.len == sizeof mode - 1 && memcmp(a->s.data, mode, sizeof mode - 1) == 0;
}

AttrRole canon_attr_role(const NodeBuild *b, int64_t opset, const char *name)
{
	switch (b->op) {
	case OP_Clip:
		if (opset < 11 && (is(name, "min") || is(name, "max")))
			return ATTR_LEGACY;
		break;
	case OP_Pad:
		if (opset < 11 && (is(name, "pads") || is(name, "value")))
			return ATTR_LEGACY;
		break;
	case OP_Slice:
		if (opset < 10 && (is(name, "starts") || is(name, "ends") || is(name, "axes")))
			return ATTR_LEGACY;
		break;
	case OP_Squeeze:
	case OP_Unsqueeze:
		if (opset < 13 && is(name, "axes"))
			return ATTR_LEGACY;
		break;
	case OP_Split:
		if (opset < 13 && is(name, "split"))
			return ATTR_LEGACY;
		break;
	case OP_Dropout:
		if (opset < 12 && is(name, "ratio"))
			return ATTR_IGNORED; /* inference: Dropout passes x through whatever the ratio */
		break;
	case OP_Resize:
		if (is_upsample(b) && is(name, "scales"))
			return ATTR_LEGACY;
		if (!is_upsample(b) && opset >= 18 && (is(name, "axes") || is(name, "keep_aspect_ratio_policy")))
			return ATTR_LEGACY;
		if (opset < 13 && is(name, "coordinate_transformation_mode") && tf_half_pixel_for_nn(b))
			return ATTR_LEGACY;
		break;
	default:
		if (is_reduce(b->op) && is(name, "axes") && opset < (b->op == OP_ReduceSum ? 13 : 18))
			return ATTR_LEGACY;
		break;
	}
	return ATTR_TABLE;
}

static const char *helper_name(Importer *im, const NodeBuild *b, const char *suffix)
{
	return arena_printf(im->g->arena, "%s_%s", b->name, suffix);
}

/* The input at position i, padding with omitted inputs as needed. */
static void set_input(Importer *im, NodeBuild *b, int i, Value *v)
{
	while (b->n_in <= i)
		build_push_input(im, b, NULL);
	b->in[i] = v;
}

/* Legacy ints attribute -> 1-D int64 constant input at position pos (if the attribute is there). */
static int ints_to_input(Importer *im, NodeBuild *b, const char *attr, int pos, bool required)
{
	const Onnx__AttributeProto *a = onnx_attr_find(b->np, attr);
	if (a == NULL)
		return required ? build_error(im, b, "missing required attribute '%s'", attr) : 0;
	int64_t v[2 * NNZC_MAX_RANK];
	int n;
	if (attr_get_ints(im, b, a, v, 2 * NNZC_MAX_RANK, &n) < 0)
		return -1;
	Value *c = import_const_i64(im, helper_name(im, b, attr), v, n);
	if (c == NULL)
		return -1;
	set_input(im, b, pos, c);
	return 0;
}

/* Float dtype for constants that must match x: x's when known, else f32 (the old opsets only
 * allowed float types there, and all of them compute in f32). */
static DType float_dtype_of(const Value *x)
{
	return x && x->dtype != DT_UNDEFINED && dtype_is_float(x->dtype) ? x->dtype : DT_F32;
}

static int float_to_input(Importer *im, NodeBuild *b, const char *attr, int pos)
{
	const Onnx__AttributeProto *a = onnx_attr_find(b->np, attr);
	if (a == NULL)
		return 0;
	float v;
	if (attr_get_float(im, b, a, &v) < 0)
		return -1;
	Value *c = import_const_f(im, helper_name(im, b, attr), float_dtype_of(b->in[0]), &v, 1, true);
	if (c == NULL)
		return -1;
	set_input(im, b, pos, c);
	return 0;
}

/* Softmax/LogSoftmax before 13 flatten x to 2-D at `axis` (default 1). */
static int canon_softmax(Importer *im, NodeBuild *b)
{
	int64_t axis = onnx_attr_find(b->np, "axis") ? b->attr.axis.axis : 1;
	if (b->n_in != 1 || b->n_out != 1)
		return 0; /* arity error reported by import_emit */
	Value *x = b->in[0];
	int rank = x->shape.rank;
	if (rank >= 0) {
		int ax;
		if (shape_axis(axis, rank == 0 ? 1 : rank, &ax, NULL) < 0)
			return build_error(im, b, "axis %lld out of range for rank %d", (long long)axis, rank);
	}
	if (axis == -1 || (rank >= 0 && (axis == rank - 1 || rank <= 1))) {
		b->attr.axis.axis = -1; /* coerce-to-2-D at the last axis is plain softmax on that axis */
		return 0;
	}
	Node *flat = import_helper(im, OP_Flatten, helper_name(im, b, "flatten"), 1, &x, 1);
	flat->attr.axis.axis = axis;
	Node *shape = import_helper(im, OP_Shape, helper_name(im, b, "shape"), 1, &x, 1);
	Value *sm_out = graph_add_value(im->g, helper_name(im, b, "2d"), DT_UNDEFINED, NULL);
	NodeBuild sm = *b;
	sm.in = NULL;
	sm.n_in = sm.cap_in = 0;
	build_push_input(im, &sm, flat->out[0]);
	sm.out = arena_alloc(im->g->arena, sizeof *sm.out);
	sm.out[0] = sm_out;
	sm.n_out = 1;
	sm.attr.axis.axis = -1;
	if (import_emit(im, &sm) == NULL)
		return -1;
	NodeBuild rs = {.np = b->np, .index = b->index, .name = helper_name(im, b, "reshape"), .op = OP_Reshape};
	attrs_init(OP_Reshape, &rs.attr);
	build_push_input(im, &rs, sm_out);
	build_push_input(im, &rs, shape->out[0]);
	rs.out = b->out;
	rs.n_out = 1;
	if (import_emit(im, &rs) == NULL)
		return -1;
	b->emitted = true;
	return 0;
}

static int canon_resize(Importer *im, NodeBuild *b)
{
	bool legacy = is_upsample(b) || im->opset < 11;
	if (legacy) {
		/* Upsample-7: (X) + scales attribute; Upsample-9/10, Resize-10: (X, scales) */
		Value *x = b->n_in > 0 ? b->in[0] : NULL;
		Value *scales = NULL;
		if (is_upsample(b) && im->opset < 9) {
			if (b->n_in != 1)
				return build_error(im, b, "has %d inputs, expects 1", b->n_in);
			const Onnx__AttributeProto *a = onnx_attr_find(b->np, "scales");
			if (a == NULL)
				return build_error(im, b, "missing required attribute 'scales'");
			float v[NNZC_MAX_RANK];
			int n;
			if (attr_get_floats(im, b, a, v, NNZC_MAX_RANK, &n) < 0)
				return -1;
			if ((scales = import_const_f(im, helper_name(im, b, "scales"), DT_F32, v, n, false)) == NULL)
				return -1;
		} else {
			if (onnx_attr_find(b->np, "scales"))
				return build_error(im, b, "attribute 'scales' is not valid in opset %lld (it is an input)",
						   (long long)im->opset);
			if (b->n_in != 2 || x == NULL || b->in[1] == NULL)
				return build_error(im, b, "has %d inputs, expects 2 (X, scales)", b->n_in);
			scales = b->in[1];
		}
		b->n_in = 0;
		build_push_input(im, b, x);
		build_push_input(im, b, NULL); /* roi */
		build_push_input(im, b, scales);
		b->attr.resize.coordinate_transformation_mode = COORD_ASYMMETRIC;
		b->attr.resize.nearest_mode = NEAREST_FLOOR;
		return 0;
	}
	if (im->opset < 13 && tf_half_pixel_for_nn(b)) {
		/* With y = (x_out + 0.5) / scale and half_pixel's y - 0.5:
		 * round_prefer_floor(y) = ceil(y - 0.5) and floor(y) = round_prefer_ceil(y - 0.5),
		 * so nearest resizing maps exactly onto half_pixel; nothing else does. */
		ResizeAttrs *r = &b->attr.resize;
		if (r->mode != RESIZE_NEAREST ||
		    (r->nearest_mode != NEAREST_ROUND_PREFER_FLOOR && r->nearest_mode != NEAREST_FLOOR))
			return build_error(im, b, "coordinate_transformation_mode tf_half_pixel_for_nn is only supported with mode nearest and nearest_mode round_prefer_floor or floor");
		r->nearest_mode = r->nearest_mode == NEAREST_FLOOR ? NEAREST_ROUND_PREFER_CEIL : NEAREST_CEIL;
		r->coordinate_transformation_mode = COORD_HALF_PIXEL;
		return 0;
	}
	if (im->opset >= 18) {
		if (onnx_attr_find(b->np, "axes"))
			return build_error(im, b, "attribute 'axes' is not supported (give scales or sizes for every axis)");
		const Onnx__AttributeProto *a = onnx_attr_find(b->np, "keep_aspect_ratio_policy");
		char policy[32];
		if (a) {
			if (attr_get_string(im, b, a, policy, sizeof policy) < 0)
				return -1;
			if (!is(policy, "stretch") && !is(policy, "not_larger") && !is(policy, "not_smaller"))
				return build_error(im, b, "attribute 'keep_aspect_ratio_policy' has value '%s', expected one of: stretch, not_larger, not_smaller",
						   policy);
			/* the policy only applies to the sizes input */
			if (!is(policy, "stretch") && b->n_in >= 4 && b->in[3] != NULL)
				return build_error(im, b, "keep_aspect_ratio_policy '%s' is not supported", policy);
		}
	}
	return 0;
}

int canon_node(Importer *im, NodeBuild *b)
{
	int64_t opset = im->opset;
	switch (b->op) {
	case OP_Clip:
		if (opset < 11) {
			if (b->n_in != 1)
				return build_error(im, b, "has %d inputs, Clip-6 takes 1", b->n_in);
			if (float_to_input(im, b, "min", 1) < 0 || float_to_input(im, b, "max", 2) < 0)
				return -1;
		}
		return 0;
	case OP_Pad:
		if (opset < 11) {
			if (b->n_in != 1)
				return build_error(im, b, "has %d inputs, Pad-2 takes 1", b->n_in);
			if (ints_to_input(im, b, "pads", 1, true) < 0 || float_to_input(im, b, "value", 2) < 0)
				return -1;
		}
		return 0;
	case OP_Slice:
		if (opset < 10) {
			if (b->n_in != 1)
				return build_error(im, b, "has %d inputs, Slice-1 takes 1", b->n_in);
			if (ints_to_input(im, b, "starts", 1, true) < 0 || ints_to_input(im, b, "ends", 2, true) < 0 ||
			    ints_to_input(im, b, "axes", 3, false) < 0)
				return -1;
		}
		return 0;
	case OP_Squeeze:
	case OP_Unsqueeze:
		if (opset < 13) {
			if (b->n_in != 1)
				return build_error(im, b, "has %d inputs, expects 1 before opset 13", b->n_in);
			return ints_to_input(im, b, "axes", 1, b->op == OP_Unsqueeze);
		}
		return 0;
	case OP_Split:
		if (opset < 13) {
			if (b->n_in != 1)
				return build_error(im, b, "has %d inputs, expects 1 before opset 13", b->n_in);
			return ints_to_input(im, b, "split", 1, false);
		}
		return 0;
	case OP_Softmax:
	case OP_LogSoftmax:
		return opset < 13 ? canon_softmax(im, b) : 0;
	case OP_Resize:
		return canon_resize(im, b);
	case OP_BatchNormalization:
		if (b->attr.batch_norm.spatial != 1)
			return build_error(im, b, "spatial=%lld is not supported (only spatial=1)",
					   (long long)b->attr.batch_norm.spatial);
		if (b->attr.batch_norm.training_mode != 0)
			return build_error(im, b, "training_mode=%lld is not supported (nnzc compiles for inference)",
					   (long long)b->attr.batch_norm.training_mode);
		if (opset < 9) {
			/* BatchNormalization-7 lists mean/var/saved_mean/saved_var outputs that are
			 * only meaningful in training; an inference graph must not use them */
			if (b->n_out > 1)
				return build_error(im, b, "has %d outputs; only Y is supported (inference)", b->n_out);
		}
		return 0;
	case OP_MaxPool:
		if (b->n_out > 1)
			return build_error(im, b, "the Indices output is not supported");
		return 0;
	default:
		if (is_reduce(b->op) && opset < (b->op == OP_ReduceSum ? 13 : 18)) {
			if (b->n_in != 1)
				return build_error(im, b, "has %d inputs, expects 1 in opset %lld", b->n_in, (long long)opset);
			return ints_to_input(im, b, "axes", 1, false);
		}
		return 0;
	}
}
