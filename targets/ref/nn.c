/* The fused epilogue's activation, shared by nnzc.FusedConv and nnzc.FusedGemm (and so by Conv
 * and Gemm, which are the fused kernels with no activation). The formulas are those of the
 * standalone Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid and HardSwish kernels
 * (elementwise.c), written the same way so that fusing never changes a result. */
#include "nn.h"

#include <math.h>

static inline float sigmoid1(float v)
{
	/* exp of a non-positive argument only, so neither branch overflows */
	if (v >= 0)
		return 1.0f / (1.0f + expf(-v));
	float e = expf(v);
	return e / (1.0f + e);
}

static inline float hard_sigmoid1(float v, float alpha, float beta)
{
	float t = alpha * v + beta;
	return t < 0 ? 0 : t > 1 ? 1 : t;
}

NN_HOT void act_apply(const Activation *act, float *x, int64_t n)
{
	float a = act->alpha, b = act->beta;
	switch ((ActKind)act->kind) {
	case ACT_NONE:
		break;
	case ACT_RELU:
		for (int64_t i = 0; i < n; i++)
			x[i] = x[i] < 0 ? 0.0f : x[i]; /* NaN stays NaN */
		break;
	case ACT_LEAKY_RELU:
		for (int64_t i = 0; i < n; i++)
			x[i] = x[i] < 0 ? a * x[i] : x[i];
		break;
	case ACT_CLIP:
		/* [alpha, beta] = [min, max]; max applied last, as Clip does when min > max */
		for (int64_t i = 0; i < n; i++) {
			float v = x[i] < a ? a : x[i];
			x[i] = v > b ? b : v;
		}
		break;
	case ACT_SIGMOID:
		for (int64_t i = 0; i < n; i++)
			x[i] = sigmoid1(x[i]);
		break;
	case ACT_TANH:
		for (int64_t i = 0; i < n; i++)
			x[i] = tanhf(x[i]);
		break;
	case ACT_HARD_SIGMOID:
		for (int64_t i = 0; i < n; i++)
			x[i] = hard_sigmoid1(x[i], a, b);
		break;
	case ACT_HARD_SWISH:
		for (int64_t i = 0; i < n; i++)
			x[i] = x[i] * hard_sigmoid1(x[i], 1.0f / 6.0f, 0.5f);
		break;
	}
}
