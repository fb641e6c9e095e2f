/* Element types: names, ONNX numbering, and conversion between the little-endian storage layout
 * of files and the two compute classes (float32, int64) that everything inside nnzc uses. */
#include "nnzc/ir.h"

#include <math.h>
#include <string.h>

typedef struct DTypeInfo {
	const char *name;
	int onnx;          /* TensorProto.DataType */
	size_t storage;    /* bytes per element in files */
	bool is_float;
} DTypeInfo;

static const DTypeInfo dtypes[DT_COUNT] = {
	[DT_UNDEFINED] = {"undefined", 0, 0, false},
	[DT_F32] = {"f32", 1, 4, true},
	[DT_F16] = {"f16", 10, 2, true},
	[DT_BF16] = {"bf16", 16, 2, true},
	[DT_F64] = {"f64", 11, 8, true},
	[DT_I8] = {"i8", 3, 1, false},
	[DT_I16] = {"i16", 5, 2, false},
	[DT_I32] = {"i32", 6, 4, false},
	[DT_I64] = {"i64", 7, 8, false},
	[DT_U8] = {"u8", 2, 1, false},
	[DT_U16] = {"u16", 4, 2, false},
	[DT_U32] = {"u32", 12, 4, false},
	[DT_U64] = {"u64", 13, 8, false},
	[DT_BOOL] = {"bool", 9, 1, false},
};

static const char *const onnx_type_names[] = {
	"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING", "BOOL",
	"FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16",
	"FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4",
};

const char *dtype_name(DType t) { return (unsigned)t < DT_COUNT ? dtypes[t].name : "invalid"; }

DType dtype_from_name(const char *name)
{
	for (int t = 1; t < DT_COUNT; t++)
		if (strcmp(dtypes[t].name, name) == 0)
			return (DType)t;
	return DT_UNDEFINED;
}

DType dtype_from_onnx(int onnx_type)
{
	for (int t = 1; t < DT_COUNT; t++)
		if (dtypes[t].onnx == onnx_type)
			return (DType)t;
	return DT_UNDEFINED;
}

int dtype_to_onnx(DType t) { return dtypes[t].onnx; }

const char *dtype_onnx_name(int onnx_type)
{
	if (onnx_type >= 0 && (size_t)onnx_type < sizeof onnx_type_names / sizeof *onnx_type_names)
		return onnx_type_names[onnx_type];
	return "UNKNOWN";
}

bool dtype_is_float(DType t) { return dtypes[t].is_float; }
size_t dtype_storage_size(DType t) { return dtypes[t].storage; }
size_t dtype_compute_size(DType t) { return dtypes[t].is_float ? 4 : 8; }

float f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
	if (exp == 0) {
		if (mant == 0) {
			bits = sign;
		} else { /* subnormal: normalise */
			int e = -1;
			do {
				e++;
				mant <<= 1;
			} while ((mant & 0x400) == 0);
			bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
		}
	} else if (exp == 31) {
		bits = sign | 0x7f800000u | (mant << 13);
	} else {
		bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
	}
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t f32_to_f16(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint32_t sign = (x >> 16) & 0x8000;
	uint32_t absx = x & 0x7fffffffu;
	if (absx >= 0x7f800000u) /* inf or nan */
		return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
	if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
		return (uint16_t)(sign | 0x7c00);
	if (absx < 0x33000001u) /* below half the smallest subnormal */
		return (uint16_t)sign;
	int exp = (int)(absx >> 23) - 127 + 15;
	uint32_t mant = (absx & 0x7fffff) | 0x800000;
	int shift = exp <= 0 ? 14 - exp : 13;
	uint32_t half = mant >> shift;
	uint32_t rest = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
	if (rest > mid || (rest == mid && (half & 1)))
		half++; /* round to nearest even; may carry into the exponent, which is right */
	if (exp <= 0)
		return (uint16_t)(sign | half);
	return (uint16_t)(sign | (((uint32_t)exp << 10) + (half - 0x400)));
}

static float bf16_to_f32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

static uint16_t f32_to_bf16(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	if ((x & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((x >> 16) | 0x40);
	x += 0x7fff + ((x >> 16) & 1); /* round to nearest even */
	return (uint16_t)(x >> 16);
}

void dtype_load(DType t, const void *storage, void *compute, size_t n)
{
	const unsigned char *s = storage;
	float *f = compute;
	int64_t *q = compute;
	for (size_t i = 0; i < n; i++) {
		switch (t) {
		case DT_F32: memcpy(&f[i], s + 4 * i, 4); break;
		case DT_F16: { uint16_t h; memcpy(&h, s + 2 * i, 2); f[i] = f16_to_f32(h); break; }
		case DT_BF16: { uint16_t h; memcpy(&h, s + 2 * i, 2); f[i] = bf16_to_f32(h); break; }
		case DT_F64: { double v; memcpy(&v, s + 8 * i, 8); f[i] = (float)v; break; }
		case DT_I8: q[i] = (int8_t)s[i]; break;
		case DT_U8: q[i] = s[i]; break;
		case DT_BOOL: q[i] = s[i] != 0; break;
		case DT_I16: { int16_t v; memcpy(&v, s + 2 * i, 2); q[i] = v; break; }
		case DT_U16: { uint16_t v; memcpy(&v, s + 2 * i, 2); q[i] = v; break; }
		case DT_I32: { int32_t v; memcpy(&v, s + 4 * i, 4); q[i] = v; break; }
		case DT_U32: { uint32_t v; memcpy(&v, s + 4 * i, 4); q[i] = v; break; }
		case DT_I64: memcpy(&q[i], s + 8 * i, 8); break;
		case DT_U64: { uint64_t v; memcpy(&v, s + 8 * i, 8); q[i] = (int64_t)v; break; }
		default: break;
		}
	}
}

void dtype_store(DType t, const void *compute, void *storage, size_t n)
{
	unsigned char *s = storage;
	const float *f = compute;
	const int64_t *q = compute;
	for (size_t i = 0; i < n; i++) {
		switch (t) {
		case DT_F32: memcpy(s + 4 * i, &f[i], 4); break;
		case DT_F16: { uint16_t h = f32_to_f16(f[i]); memcpy(s + 2 * i, &h, 2); break; }
		case DT_BF16: { uint16_t h = f32_to_bf16(f[i]); memcpy(s + 2 * i, &h, 2); break; }
		case DT_F64: { double v = f[i]; memcpy(s + 8 * i, &v, 8); break; }
		case DT_I8: case DT_U8: s[i] = (unsigned char)(uint64_t)q[i]; break;
		case DT_BOOL: s[i] = q[i] != 0; break;
		case DT_I16: case DT_U16: { uint16_t v = (uint16_t)(uint64_t)q[i]; memcpy(s + 2 * i, &v, 2); break; }
		case DT_I32: case DT_U32: { uint32_t v = (uint32_t)(uint64_t)q[i]; memcpy(s + 4 * i, &v, 4); break; }
		case DT_I64: case DT_U64: memcpy(s + 8 * i, &q[i], 8); break;
		default: break;
		}
	}
}

void dtype_round(DType t, void *compute, size_t n)
{
	float *f = compute;
	int64_t *q = compute;
	for (size_t i = 0; i < n; i++) {
		switch (t) {
		case DT_F16: f[i] = f16_to_f32(f32_to_f16(f[i])); break;
		case DT_BF16: f[i] = bf16_to_f32(f32_to_bf16(f[i])); break;
		case DT_I8: q[i] = (int8_t)(uint8_t)(uint64_t)q[i]; break;
		case DT_U8: q[i] = (uint8_t)(uint64_t)q[i]; break;
		case DT_I16: q[i] = (int16_t)(uint16_t)(uint64_t)q[i]; break;
		case DT_U16: q[i] = (uint16_t)(uint64_t)q[i]; break;
		case DT_I32: q[i] = (int32_t)(uint32_t)(uint64_t)q[i]; break;
		case DT_U32: q[i] = (uint32_t)(uint64_t)q[i]; break;
		case DT_BOOL: q[i] = q[i] != 0; break;
		default: break;
		}
	}
}
