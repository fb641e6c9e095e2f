/* The cpu target's data-movement and elementwise emitters against the reference interpreter, on
 * what the ONNX node tests do not reach: tensors large enough to be split over threads and to
 * fill vectors with tails (each case is compiled for the host, for haswell and for generic
 * x86-64, i.e. 16, 8 and 4 lanes, and run with 1 and 3 threads), parameters the node tests feed
 * at run time (so their shapes are not static) given as constants, shape ops that survive
 * because no pass ran, extreme values (NaN, infinities, out-of-range casts, INT64_MIN / -1),
 * every dtype crossing the entry point, and the documented behaviour of a run-time Gather index
 * out of range (a slice of zeros), where the interpreter reports an error instead.
 *
 * Graphs are written in the text IR; constants are written without their "nnz=" field, which
 * with_nnz() fills in. Results must match to rtol 1e-3 (floats; NaN matches NaN) or exactly. */
#include "testutil.h"
#include "nnzc/ir.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Case {
	const char *ir;
	bool special;      /* sprinkle extreme values into the inputs */
	int64_t ilo, ihi;  /* integer inputs are drawn from [ilo, ihi] (then wrapped to their dtype) */
} Case;

static const Case cases[] = {
	/* ---------------- movement */
	{.ir = "graph \"transpose_last_moves\" opset 17 {\n"
	 "  input %x: f32[8,64,33,17]\n"
	 "  t = Transpose(%x) {perm=[0,2,3,1]} -> %y: f32[8,33,17,64]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"transpose_rows_stay\" opset 17 {\n"
	 "  input %x: i64[6,40,50,3]\n"
	 "  t = Transpose(%x) {perm=[2,0,1,3]} -> %y: i64[50,6,40,3]\n"
	 "  output %y\n}\n", .special = false, .ilo = -1000, .ihi = 1000},
	{.ir = "graph \"transpose_tiled\" opset 17 {\n"
	 "  input %x: f32[2,48,40,24]\n  input %m: i64[512,320]\n"
	 "  t = Transpose(%x) {perm=[0,3,1,2]} -> %y: f32[2,24,48,40]\n"
	 "  u = Transpose(%m) -> %n: i64[320,512]\n"
	 "  output %y\n  output %n\n}\n", .ilo = -1000000, .ihi = 1000000},
	{.ir = "graph \"transpose_default_perm\" opset 17 {\n"
	 "  input %x: f32[3,400,50]\n"
	 "  t = Transpose(%x) -> %y: f32[50,400,3]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"slice_steps\" opset 17 {\n"
	 "  input %x: f32[64,70,40]\n"
	 "  const %s: i64[3] = [1, -5, 3]\n"
	 "  const %e: i64[3] = [60, 0, 40]\n"
	 "  const %a: i64[3] = [0, 1, 2]\n"
	 "  const %st: i64[3] = [2, -3, 1]\n"
	 "  sl = Slice(%x, %s, %e, %a, %st) -> %y: f32[30,22,37]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"slice_reverse_rows\" opset 17 {\n"
	 "  input %x: f32[300,257]\n"
	 "  const %s: i64[1] = [-1]\n"
	 "  const %e: i64[1] = [-1000]\n"
	 "  const %a: i64[1] = [1]\n"
	 "  const %st: i64[1] = [-1]\n"
	 "  sl = Slice(%x, %s, %e, %a, %st) -> %y: f32[300,257]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"concat_mid_axis\" opset 17 {\n"
	 "  input %a: f32[4,7,300]\n  input %b: f32[4,1,300]\n  input %c: f32[4,20,300]\n"
	 "  input %d: f32[4,3,300]\n  input %e: f32[4,9,300]\n"
	 "  const %k: f32[4,2,300] = elided\n"
	 "  cc = Concat(%a, %b, %k, %c, %d, %e) {axis=1} -> %y: f32[4,42,300]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"concat_flat_big\" opset 17 {\n"
	 "  input %a: i64[70000]\n  input %b: i64[3]\n  input %c: i64[40000]\n"
	 "  cc = Concat(%a, %b, %c) {axis=0} -> %y: i64[110003]\n"
	 "  output %y\n}\n", .special = false, .ilo = -5, .ihi = 5},
	{.ir = "graph \"concat_last_axis\" opset 17 {\n"
	 "  input %a: f32[5000,2]\n  input %b: f32[5000,1]\n"
	 "  cc = Concat(%a, %b) {axis=-1} -> %y: f32[5000,3]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"split_parts\" opset 17 {\n"
	 "  input %x: f32[6,1000,37]\n"
	 "  const %s: i64[3] = [100, 400, 500]\n"
	 "  sp = Split(%x, %s) {axis=1} -> %y0: f32[6,100,37], %y1: f32[6,400,37], %y2: f32[6,500,37]\n"
	 "  output %y0\n  output %y1\n  output %y2\n}\n"},
	{.ir = "graph \"gather_const_indices\" opset 17 {\n"
	 "  input %x: f32[16,50,64]\n"
	 "  const %i: i64[2,4] = [3, -1, 0, 7, 7, 49, -50, 20]\n"
	 "  g = Gather(%x, %i) {axis=1} -> %y: f32[16,2,4,64]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"gather_runtime_rows\" opset 17 {\n"
	 "  input %x: f32[100,333]\n  input %i: i64[5,30]\n"
	 "  g = Gather(%x, %i) -> %y: f32[5,30,333]\n"
	 "  output %y\n}\n", .special = false, .ilo = -100, .ihi = 99},
	{.ir = "graph \"gather_runtime_last_axis\" opset 17 {\n"
	 "  input %x: i64[40,50,20]\n  input %i: i32[7]\n"
	 "  g = Gather(%x, %i) {axis=2} -> %y: i64[40,50,7]\n"
	 "  output %y\n}\n", .special = false, .ilo = -20, .ihi = 19},
	{.ir = "graph \"gather_scalar_index\" opset 17 {\n"
	 "  input %x: f32[10,3000]\n"
	 "  const %i: i64[] = [4]\n"
	 "  g = Gather(%x, %i) -> %y: f32[3000]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"expand\" opset 17 {\n"
	 "  input %x: f32[1,300,1]\n"
	 "  const %s: i64[3] = [50, 300, 20]\n"
	 "  e = Expand(%x, %s) -> %y: f32[50,300,20]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"tile\" opset 17 {\n"
	 "  input %x: i64[7,11,13]\n"
	 "  const %r: i64[3] = [3, 20, 5]\n"
	 "  t = Tile(%x, %r) -> %y: i64[21,220,65]\n"
	 "  output %y\n}\n", .special = false, .ilo = -9, .ihi = 9},
	{.ir = "graph \"pad_constant_crop\" opset 17 {\n"
	 "  input %x: f32[2,3,50,60]\n  input %v: f32[]\n"
	 "  const %p: i64[8] = [0, 1, 3, -2, 0, 2, 4, 5]\n"
	 "  pd = Pad(%x, %p, %v) -> %y: f32[2,6,57,63]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"pad_reflect\" opset 17 {\n"
	 "  input %x: f32[2,3,50,60]\n"
	 "  const %p: i64[8] = [0, 0, 7, 9, 0, 0, 4, -3]\n"
	 "  pd = Pad(%x, %p) {mode=reflect} -> %y: f32[2,3,61,66]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"pad_edge\" opset 17 {\n"
	 "  input %x: i64[4,5,300]\n"
	 "  const %p: i64[6] = [1, 2, 30, 2, 0, 17]\n"
	 "  pd = Pad(%x, %p) {mode=edge} -> %y: i64[7,7,347]\n"
	 "  output %y\n}\n", .special = false, .ilo = -100, .ihi = 100},
	{.ir = "graph \"pad_wrap\" opset 17 {\n"
	 "  input %x: f32[3,40,70]\n"
	 "  const %p: i64[6] = [0, 45, 3, 0, 2, 80]\n"
	 "  pd = Pad(%x, %p) {mode=wrap} -> %y: f32[3,87,153]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"resize_nearest_up\" opset 17 {\n"
	 "  input %x: f32[1,8,40,40]\n"
	 "  const %s: f32[4] = [1, 1, 2, 3]\n"
	 "  r = Resize(%x, _, %s) -> %y: f32[1,8,80,120]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"resize_linear_down\" opset 17 {\n"
	 "  input %x: f32[2,4,100,90]\n"
	 "  const %z: i64[4] = [2, 4, 37, 61]\n"
	 "  r = Resize(%x, _, _, %z) {mode=linear} -> %y: f32[2,4,37,61]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"resize_cubic_align\" opset 17 {\n"
	 "  input %x: f32[3,33,47]\n"
	 "  const %s: f32[3] = [1, 2.5, 1.7]\n"
	 "  r = Resize(%x, _, %s) {mode=cubic, coordinate_transformation_mode=align_corners, cubic_coeff_a=-0.5, "
	 "exclude_outside=1} -> %y: f32[3,82,79]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"resize_crop\" opset 17 {\n"
	 "  input %x: f32[2,30,40]\n"
	 "  const %roi: f32[6] = [0, -0.2, 0.3, 1, 0.9, 1.4]\n"
	 "  const %z: i64[3] = [2, 50, 45]\n"
	 "  r = Resize(%x, %roi, _, %z) {mode=linear, coordinate_transformation_mode=tf_crop_and_resize, "
	 "extrapolation_value=7.5} -> %y: f32[2,50,45]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"resize_crop_nearest\" opset 17 {\n"
	 "  input %x: f32[2,30,40]\n"
	 "  const %roi: f32[6] = [0, -0.2, 0.3, 1, 0.9, 1.4]\n"
	 "  const %z: i64[3] = [2, 50, 45]\n"
	 "  r = Resize(%x, %roi, _, %z) {coordinate_transformation_mode=tf_crop_and_resize, "
	 "extrapolation_value=-3} -> %y: f32[2,50,45]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"resize_u8_linear\" opset 17 {\n"
	 "  input %x: u8[1,3,20,30]\n"
	 "  const %s: f32[4] = [1, 1, 1.5, 0.7]\n"
	 "  r = Resize(%x, _, %s) {mode=linear, coordinate_transformation_mode=pytorch_half_pixel} -> %y: u8[1,3,30,20]\n"
	 "  output %y\n}\n", .special = false, .ilo = 0, .ihi = 255},
	{.ir = "graph \"resize_long_rows\" opset 17 {\n"
	 "  input %x: f32[2,3,40000]\n"
	 "  const %z: i64[3] = [2, 5, 30001]\n"
	 "  r = Resize(%x, _, _, %z) {mode=linear, coordinate_transformation_mode=align_corners} -> %y: f32[2,5,30001]\n"
	 "  output %y\n}\n"},
	{.ir = "graph \"resize_last_axis_only\" opset 17 {\n"
	 "  input %x: f32[4,50,64]\n  input %u: u8[1,3,20,30]\n"
	 "  const %z: i64[3] = [4, 50, 100]\n"
	 "  const %s: f32[4] = [1, 1, 1, 0.7]\n"
	 "  r = Resize(%x, _, _, %z) {mode=cubic} -> %y: f32[4,50,100]\n"
	 "  q = Resize(%u, _, %s) {mode=linear, coordinate_transformation_mode=asymmetric} -> %v: u8[1,3,20,20]\n"
	 "  output %y\n  output %v\n}\n", .ilo = 0, .ihi = 255},
	{.ir = "graph \"shape_ops_unfolded\" opset 17 {\n"
	 "  input %x: f32[3,5,7]\n"
	 "  s = Shape(%x) {start=1} -> %sh: i64[2]\n"
	 "  z = Size(%x) -> %sz: i64[]\n"
	 "  c = ConstantOfShape(%sh) {value=f32:2.5} -> %k: f32[5,7]\n"
	 "  a = Add(%x, %k) -> %y: f32[3,5,7]\n"
	 "  output %sh\n  output %sz\n  output %y\n}\n"},
	{.ir = "graph \"range_unfolded\" opset 17 {\n"
	 "  const %s: f32[] = [-3.25]\n  const %l: f32[] = [4000]\n  const %d: f32[] = [0.75]\n"
	 "  const %si: i64[] = [100]\n  const %li: i64[] = [-50000]\n  const %di: i64[] = [-7]\n"
	 "  input %x: f32[2]\n"
	 "  r = Range(%s, %l, %d) -> %y: f32[5338]\n"
	 "  ri = Range(%si, %li, %di) -> %yi: i64[7158]\n"
	 "  output %y\n  output %yi\n  output %x\n}\n"},

	/* ---------------- elementwise */
	{.ir = "graph \"cast_float_to_all\" opset 17 {\n"
	 "  input %x: f32[4000]\n"
	 "  c0 = Cast(%x) {to=i8} -> %a: i8[4000]\n"
	 "  c1 = Cast(%x) {to=u8} -> %b: u8[4000]\n"
	 "  c2 = Cast(%x) {to=i16} -> %c: i16[4000]\n"
	 "  c3 = Cast(%x) {to=u16} -> %d: u16[4000]\n"
	 "  c4 = Cast(%x) {to=i32} -> %e: i32[4000]\n"
	 "  c5 = Cast(%x) {to=u32} -> %f: u32[4000]\n"
	 "  c6 = Cast(%x) {to=i64} -> %g: i64[4000]\n"
	 "  c7 = Cast(%x) {to=u64} -> %h: u64[4000]\n"
	 "  c8 = Cast(%x) {to=bool} -> %i: bool[4000]\n"
	 "  c9 = Cast(%x) {to=f16} -> %j: f16[4000]\n"
	 "  ca = Cast(%x) {to=bf16} -> %k: bf16[4000]\n"
	 "  cb = Cast(%x) {to=f64} -> %l: f64[4000]\n"
	 "  output %a\n  output %b\n  output %c\n  output %d\n  output %e\n  output %f\n  output %g\n"
	 "  output %h\n  output %i\n  output %j\n  output %k\n  output %l\n}\n", .special = true},
	{.ir = "graph \"cast_int_to_all\" opset 17 {\n"
	 "  input %x: i64[3000]\n  input %u: u64[3000]\n"
	 "  c0 = Cast(%x) {to=i8} -> %a: i8[3000]\n"
	 "  c1 = Cast(%x) {to=u16} -> %b: u16[3000]\n"
	 "  c2 = Cast(%x) {to=f16} -> %c: f16[3000]\n"
	 "  c3 = Cast(%x) {to=f32} -> %d: f32[3000]\n"
	 "  c4 = Cast(%u) {to=f32} -> %e: f32[3000]\n"
	 "  c5 = Cast(%x) {to=bool} -> %f: bool[3000]\n"
	 "  c6 = Cast(%x) {to=bf16} -> %g: bf16[3000]\n"
	 "  output %a\n  output %b\n  output %c\n  output %d\n  output %e\n  output %f\n  output %g\n}\n",
	 true, -100000, 100000},
	{.ir = "graph \"io_dtypes\" opset 17 {\n"
	 "  input %a: u8[33,17]\n  input %b: f16[33,17]\n  input %c: bool[33,17]\n  input %d: i16[17]\n"
	 "  input %e: bf16[33,1]\n  input %f: bf16[33,17]\n  input %h: i16[33,17]\n  input %g: f64[33,17]\n"
	 "  ca = Cast(%a) {to=f16} -> %af: f16[33,17]\n"
	 "  m = Mul(%af, %b) -> %y: f16[33,17]\n"
	 "  w = Where(%c, %h, %d) -> %z: i16[33,17]\n"
	 "  s = Sub(%e, %f) -> %v: bf16[33,17]\n  ng = Neg(%g) -> %gn: f64[33,17]\n"
	 "  n = Not(%c) -> %nc: bool[33,17]\n"
	 "  output %y\n  output %z\n  output %nc\n  output %v\n  output %c\n  output %gn\n  output %g\n}\n",
	 .special = false, .ilo = -300, .ihi = 300},
	{.ir = "graph \"where_broadcast\" opset 17 {\n"
	 "  input %c: bool[1,50,1]\n  input %x: f32[40,1,30]\n  input %y: f32[30]\n"
	 "  w = Where(%c, %x, %y) -> %z: f32[40,50,30]\n"
	 "  output %z\n}\n"},
	{.ir = "graph \"clip_runtime_and_const\" opset 17 {\n"
	 "  input %x: i64[20,500]\n  input %lo: i64[]\n"
	 "  const %hi: i64[] = [30]\n"
	 "  c = Clip(%x, %lo, %hi) -> %y: i64[20,500]\n"
	 "  input %f: f32[20,500]\n  const %fhi: f32[1] = [0.5]\n"
	 "  cf = Clip(%f, _, %fhi) -> %g: f32[20,500]\n"
	 "  output %y\n  output %g\n}\n", .special = true, .ilo = -100, .ihi = 100},
	{.ir = "graph \"int_arith\" opset 17 {\n"
	 "  input %a: i64[50,80]\n  input %b: i64[80]\n  input %s: i8[50,80]\n  input %t: i8[50,80]\n"
	 "  d = Div(%a, %b) -> %q: i64[50,80]\n"
	 "  p = Pow(%a, %b) -> %pw: i64[50,80]\n"
	 "  ad = Add(%s, %t) -> %w: i8[50,80]\n"
	 "  mu = Mul(%s, %t) -> %mw: i8[50,80]\n"
	 "  pr = PRelu(%a, %b) -> %pr: i64[50,80]\n"
	 "  sg = Sign(%a) -> %sg: i64[50,80]\n"
	 "  me = Mean(%a, %b, %a) -> %me: i64[50,80]\n"
	 "  output %q\n  output %pw\n  output %w\n  output %mw\n  output %pr\n  output %sg\n  output %me\n}\n",
	 true, -6, 6},
	{.ir = "graph \"float_math\" opset 17 {\n"
	 "  input %a: f32[37,129]\n  input %b: f32[129]\n  input %i: i32[129]\n"
	 "  p = Pow(%a, %b) -> %pw: f32[37,129]\n"
	 "  const %two: f32[] = [2]\n"
	 "  sq = Pow(%a, %two) -> %sq: f32[37,129]\n"
	 "  pi = Pow(%a, %i) -> %pi: f32[37,129]\n"
	 "  e = Erf(%a) -> %er: f32[37,129]\n"
	 "  fl = Floor(%a) -> %fl: f32[37,129]\n"
	 "  ce = Ceil(%a) -> %ce: f32[37,129]\n"
	 "  ro = Round(%a) -> %ro: f32[37,129]\n"
	 "  sg = Sign(%a) -> %sg: f32[37,129]\n"
	 "  si = Sin(%a) -> %si: f32[37,129]\n"
	 "  co = Cos(%a) -> %co: f32[37,129]\n"
	 "  el = Elu(%a) {alpha=0.7} -> %el: f32[37,129]\n"
	 "  se = Selu(%a) -> %se: f32[37,129]\n"
	 "  sp = Softplus(%a) -> %sp: f32[37,129]\n"
	 "  ss = Softsign(%a) -> %ss: f32[37,129]\n"
	 "  pr = PRelu(%a, %b) -> %pr: f32[37,129]\n"
	 "  su = Sum(%a, %b, %a, %b) -> %su: f32[37,129]\n"
	 "  me = Mean(%a, %b) -> %me: f32[37,129]\n"
	 "  output %pw\n  output %sq\n  output %pi\n  output %er\n  output %fl\n  output %ce\n  output %ro\n"
	 "  output %sg\n  output %si\n  output %co\n  output %el\n  output %se\n  output %sp\n  output %ss\n"
	 "  output %pr\n  output %su\n  output %me\n}\n", .special = true, .ilo = -3, .ihi = 3},
	{.ir = "graph \"int_float_pow\" opset 17 {\n"
	 "  input %a: i32[300]\n  input %b: f32[300]\n"
	 "  p = Pow(%a, %b) -> %pw: i32[300]\n"
	 "  output %pw\n}\n", .special = true, .ilo = -40, .ihi = 40},
	{.ir = "graph \"compare_logic\" opset 17 {\n"
	 "  input %a: f32[33,65]\n  input %b: f32[65]\n  input %i: i64[33,65]\n  input %j: i64[33,1]\n"
	 "  input %p: bool[33,65]\n  input %q: bool[65]\n"
	 "  e = Equal(%a, %b) -> %e: bool[33,65]\n"
	 "  l = Less(%a, %b) -> %l: bool[33,65]\n"
	 "  g = Greater(%i, %j) -> %g: bool[33,65]\n"
	 "  le = LessOrEqual(%a, %b) -> %le: bool[33,65]\n"
	 "  ge = GreaterOrEqual(%i, %j) -> %ge: bool[33,65]\n"
	 "  an = And(%p, %q) -> %an: bool[33,65]\n"
	 "  o = Or(%p, %q) -> %o: bool[33,65]\n"
	 "  ei = Equal(%i, %j) -> %ei: bool[33,65]\n"
	 "  output %e\n  output %l\n  output %g\n  output %le\n  output %ge\n  output %an\n  output %o\n"
	 "  output %ei\n}\n", .special = true, .ilo = -2, .ihi = 2},
};

/* ---------------------------------------------------------------- helpers */

/* The case's text with "nnz=K (0%)" inserted into every const line ("elided" constants get
 * deterministic values instead: the parser needs them to run the graph). */
static char *with_nnz(const char *ir)
{
	size_t cap = strlen(ir) * 4 + 65536, len = 0;
	char *out = malloc(cap);
	const char *p = ir;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p + 1) : strlen(p);
		const char *eq = strstr(p, " = ");
		if (strncmp(p, "  const ", 8) == 0 && eq && eq < p + n) {
			len += (size_t)snprintf(out + len, cap - len, "%.*s", (int)(eq - p), p);
			const char *vals = eq + 3;
			if (strncmp(vals, "elided", 6) == 0) {
				/* numel from the type's dims */
				const char *lb = strchr(p, '[');
				int64_t numel = 1;
				for (const char *q = lb + 1; *q != ']';) {
					numel *= strtoll(q, (char **)&q, 10);
					if (*q == ',')
						q++;
				}
				len += (size_t)snprintf(out + len, cap - len, " nnz=%lld (0%%) = [", (long long)numel);
				for (int64_t i = 0; i < numel; i++)
					len += (size_t)snprintf(out + len, cap - len, "%s%g", i ? ", " : "", (double)(i % 13) + 0.5);
				len += (size_t)snprintf(out + len, cap - len, "]\n");
			} else {
				int nnz = 0;
				for (const char *q = vals + 1; *q && *q != ']';) {
					double v = strtod(q, (char **)&q);
					nnz += v != 0;
					while (*q == ',' || *q == ' ')
						q++;
				}
				len += (size_t)snprintf(out + len, cap - len, " nnz=%d (0%%)%.*s", nnz, (int)(p + n - eq), eq);
			}
		} else {
			len += (size_t)snprintf(out + len, cap - len, "%.*s", (int)n, p);
		}
		p += n;
	}
	return out;
}

static const float special_f[] = {
	NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 1e30f, -1e30f, 127.9f, 128.5f,
	-128.7f, 255.9f, 256.0f, 65535.5f, 65536.0f, 4294967295.0f, 4294967296.0f, -2147483649.0f, 9.3e18f,
	-9.3e18f, 1.8e19f, 2e19f, 1e-40f, 65520.0f, 3.0f, -3.0f,
};
static const int64_t special_i[] = {INT64_MIN, INT64_MAX, 0, -1, 1, 255, 256, -129, 65535, 4294967296LL, -7};

static void fill_input(const Case *c, Tensor *t)
{
	int64_t n = tensor_numel(t);
	if (dtype_is_float(t->dtype)) {
		float *f = t->data;
		for (int64_t i = 0; i < n; i++) {
			f[i] = (float)((double)(test_xorshift() % 2000001) / 250000.0 - 4.0);
			if (c->special && test_xorshift() % 8 == 0)
				f[i] = special_f[test_xorshift() % (sizeof special_f / sizeof *special_f)];
		}
	} else {
		int64_t *q = t->data;
		for (int64_t i = 0; i < n; i++) {
			q[i] = c->ilo + (int64_t)(test_xorshift() % (uint64_t)(c->ihi - c->ilo + 1));
			if (c->special && test_xorshift() % 8 == 0)
				q[i] = special_i[test_xorshift() % (sizeof special_i / sizeof *special_i)];
		}
	}
	/* what the dtype holds, so the caller's buffer (declared dtype) carries the same value */
	if (n > 0)
		dtype_round(t->dtype, t->data, (size_t)n);
}

static bool same_float(float a, float b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	if (!isfinite(a) || !isfinite(b))
		return a == b;
	return fabsf(a - b) <= 1e-5f + 1e-3f * fabsf(b);
}

static void compare(const char *what, const Tensor *got, const Tensor *want)
{
	ck_assert_msg(shape_equal(&got->shape, &want->shape), "%s: shape differs", what);
	int64_t n = tensor_numel(want);
	for (int64_t i = 0; i < n; i++) {
		if (dtype_is_float(want->dtype)) {
			float a = ((const float *)got->data)[i], b = ((const float *)want->data)[i];
			ck_assert_msg(same_float(a, b), "%s: element %lld is %.9g, expected %.9g", what, (long long)i, a, b);
		} else {
			int64_t a = ((const int64_t *)got->data)[i], b = ((const int64_t *)want->data)[i];
			ck_assert_msg(a == b, "%s: element %lld is %lld, expected %lld", what, (long long)i, (long long)a,
				      (long long)b);
		}
	}
}

static Graph *parse_case(const char *ir)
{
	char *text = with_nnz(ir);
	Diag d = {0};
	Graph *g = graph_parse(text, "case", &d);
	free(text);
	ck_assert_msg(g != NULL, "parse: %s", d.msg);
	return g;
}

static Tensor *make_inputs(const Case *c, const Graph *g)
{
	Tensor *in = calloc((size_t)g->n_inputs + 1, sizeof *in);
	Diag d = {0};
	for (int i = 0; i < g->n_inputs; i++) {
		ck_assert_int_eq(tensor_alloc(&in[i], g->inputs[i]->dtype, &g->inputs[i]->shape, &d), 0);
		fill_input(c, &in[i]);
	}
	return in;
}

static void free_tensors(Tensor *t, int n)
{
	for (int i = 0; i < n; i++)
		tensor_free(&t[i]);
	free(t);
}

/* ---------------------------------------------------------------- tests */

START_TEST(test_case_matches_reference)
{
	const Case *c = &cases[_i];
	Graph *g = parse_case(c->ir);
	test_rng_state = 0x9e3779b97f4a7c15ULL + (uint64_t)_i;
	Tensor *in = make_inputs(c, g);
	Tensor *want = calloc((size_t)g->n_outputs + 1, sizeof *want);
	Diag d = {0};
	ck_assert_msg(ref_run(g, in, want, &d) == 0, "%s: ref: %s", g->name, d.msg);
	static const char *const cpus[] = {NULL, "haswell", "generic"};
	for (int k = 0; k < 3; k++) {
		CpuOptions opt = {.cpu = cpus[k], .opt_level = 2};
		CpuModel *m = cpu_load(g, &opt, &d);
		ck_assert_msg(m != NULL, "%s: cpu %s: %s", g->name, cpus[k] ? cpus[k] : "host", d.msg);
		for (int threads = 1; threads <= 3; threads += 2) {
			Tensor *got = calloc((size_t)g->n_outputs + 1, sizeof *got);
			ck_assert_int_eq(cpu_model_run(m, in, got, threads, &d), 0);
			/* then again into the same outputs, spoilt first: the rerun writes every element */
			for (int pass = 0; pass < 2; pass++) {
				if (pass == 1) {
					for (int i = 0; i < g->n_outputs; i++)
						memset(got[i].data, 0xff, tensor_nbytes(&got[i]));
					ck_assert_msg(cpu_model_rerun(m, in, got, threads, &d) == 0, "%s", d.msg);
				}
				for (int i = 0; i < g->n_outputs; i++) {
					char what[256];
					snprintf(what, sizeof what, "%s, cpu %s, %d threads, output '%s'%s", g->name,
						 cpus[k] ? cpus[k] : "host", threads, g->outputs[i]->name,
						 pass ? ", rerun" : "");
					compare(what, &got[i], &want[i]);
				}
			}
			free_tensors(got, g->n_outputs);
		}
		cpu_model_free(m);
	}
	free_tensors(want, g->n_outputs);
	free_tensors(in, g->n_inputs);
	graph_free(g);
}
END_TEST

/* A run-time index outside [-dim, dim) selects a slice of zeros (documented in
 * targets/cpu/emit_movement.c); the interpreter rejects it, so the expectation is written out. */
START_TEST(test_gather_out_of_range_gives_zeros)
{
	Graph *g = parse_case("graph \"gather_oob\" opset 17 {\n"
			      "  input %x: f32[10,6]\n  input %i: i64[5]\n"
			      "  g = Gather(%x, %i) -> %y: f32[5,6]\n"
			      "  output %y\n}\n");
	Diag d = {0};
	Tensor in[2];
	ck_assert_int_eq(tensor_alloc(&in[0], DT_F32, &g->inputs[0]->shape, &d), 0);
	ck_assert_int_eq(tensor_alloc(&in[1], DT_I64, &g->inputs[1]->shape, &d), 0);
	for (int i = 0; i < 60; i++)
		((float *)in[0].data)[i] = (float)i + 1;
	const int64_t idx[5] = {2, 10, -11, -1, INT64_MIN};
	memcpy(in[1].data, idx, sizeof idx);
	CpuOptions opt = {.opt_level = 2};
	CpuModel *m = cpu_load(g, &opt, &d);
	ck_assert_msg(m != NULL, "%s", d.msg);
	Tensor out;
	ck_assert_int_eq(cpu_model_run(m, in, &out, 1, &d), 0);
	const float *y = out.data;
	for (int j = 0; j < 6; j++) {
		ck_assert_float_eq(y[0 * 6 + j], (float)(2 * 6 + j + 1));
		ck_assert_float_eq(y[1 * 6 + j], 0.0f);
		ck_assert_float_eq(y[2 * 6 + j], 0.0f);
		ck_assert_float_eq(y[3 * 6 + j], (float)(9 * 6 + j + 1));
		ck_assert_float_eq(y[4 * 6 + j], 0.0f);
	}
	tensor_free(&out);
	cpu_model_free(m);
	tensor_free(&in[0]);
	tensor_free(&in[1]);
	graph_free(g);
}
END_TEST

/* Parameters that are not constants cannot be compiled: one error naming the node. */
/* A rerun takes only the outputs of an earlier run: another shape (or none) is refused with the
 * output's name, and nothing is written. */
START_TEST(test_rerun_refuses_other_outputs)
{
	Graph *g = parse_case("graph \"rerun\" opset 17 {\n"
			      "  input %x: f32[4,3]\n"
			      "  r = Relu(%x) -> %y: f32[4,3]\n"
			      "  output %y\n}\n");
	Diag d = {0};
	Tensor in[1], out[1] = {{0}};
	ck_assert_int_eq(tensor_alloc(&in[0], DT_F32, &g->inputs[0]->shape, &d), 0);
	CpuOptions opt = {.opt_level = 2};
	CpuModel *m = cpu_load(g, &opt, &d);
	ck_assert_msg(m != NULL, "%s", d.msg);
	ck_assert_int_eq(cpu_model_rerun(m, in, out, 1, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.msg, "output 'y'"));
	ck_assert_int_eq(cpu_model_run(m, in, out, 1, &d), 0);
	out[0].shape.dim[0] = 3;
	d = (Diag){0};
	ck_assert_int_eq(cpu_model_rerun(m, in, out, 1, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.msg, "output 'y'"));
	out[0].shape.dim[0] = 4;
	ck_assert_msg(cpu_model_rerun(m, in, out, 1, &d) == 0, "%s", d.msg);
	tensor_free(&out[0]);
	tensor_free(&in[0]);
	cpu_model_free(m);
	graph_free(g);
}
END_TEST

START_TEST(test_runtime_slice_parameters_are_refused)
{
	Graph *g = parse_case("graph \"slice_rt\" opset 17 {\n"
			      "  input %x: f32[10,6]\n  input %s: i64[1]\n"
			      "  const %e: i64[1] = [5]\n"
			      "  sl = Slice(%x, %s, %e) -> %y: f32[?,6]\n"
			      "  output %y\n}\n");
	Diag d = {0};
	CpuOptions opt = {.opt_level = 2};
	CpuModel *m = cpu_load(g, &opt, &d);
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(d.msg, "non-static shape") != NULL, "%s", d.msg);
	graph_free(g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpu_cm");
	TCase *tc = tcase_create("movement_and_elementwise");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_case_matches_reference, 0, (int)(sizeof cases / sizeof *cases));
	tcase_add_test(tc, test_gather_out_of_range_gives_zeros);
	tcase_add_test(tc, test_runtime_slice_parameters_are_refused);
	tcase_add_test(tc, test_rerun_refuses_other_outputs);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
