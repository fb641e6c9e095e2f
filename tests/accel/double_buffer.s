# A K-tiled GEMM y[32,64] = w[32,64] · x[64,64] on the dense preset, double-buffered: the second
# K tile loads into the other halves of W and I while the matrix unit works on the first.
# Used by tests/unit/test_accel_timing.c (double_buffered_program); cycles by hand:
#   0 ld W tile 0   32x32 values, 2048 B at 64 B/cycle        [0, 32)
#   1 ld I tile 0   32x64 values, 4096 B                      [32, 96)
#   2 sync ld                                                 fence 96
#   3 mm            32 + 64 + 62 (load, stream, fill/drain)   [96, 254)
#   4 ld W tile 1                                             [96, 128)   under the mm
#   5 ld I tile 1                                             [128, 192)  under the mm
#   6 sync ld|mx                                              fence 254
#   7 mma                                                     [254, 412)
#   8 sync mx                                                 fence 412
#   9 st O          2048 accumulators: 4096 B DRAM (64 cycles), 8192 B from O (128 cycles)
#                                                             [412, 540)
# Total 540 cycles; without the overlap 636.
.nnza 1.0
.config dense
.arena 8192
.input "w" f32 [32,64] @0
.input "x" f32 [64,64] @2048
.output "y" f32 [32,64] @6144
.layer "gemm" "MatMul" 0 11
.code
ld fmt=dense buf=W rows=32 cols=32 space=arena dram=0 stride=64
ld fmt=dense buf=I rows=32 cols=64 space=arena dram=2048
sync units=ld
mm mode=dense sbuf=W dbuf=I m=32 n=64 k=32
ld fmt=dense buf=W addr=1024 rows=32 cols=32 space=arena dram=32 stride=64
ld fmt=dense buf=I addr=2048 rows=32 cols=64 space=arena dram=4096
sync units=ld|mx
mma mode=dense sbuf=W dbuf=I m=32 n=64 k=32 saddr=1024 daddr=2048
sync units=mx
st fmt=dense buf=O rows=32 cols=64 space=arena dram=6144
end
