# One gather-scatter product on the gs preset (16 rows x 64 columns, 16 banks) with a known
# number of bank conflicts. y[16,64] = S · x, S in ELL form: 2 slots per row, values 1.
#   slot 0: row r gathers x row r              16 distinct banks: 1 cycle
#   slot 1: row r gathers x row 16r mod 64     rows 0, 16, 32, 48, all in bank 0: 4 cycles,
#                                              3 conflicts
# So y[r] = x[r] + x[16r mod 64]; the mm takes 5 cycles. Used by
# tests/unit/test_accel_timing.c (gs_conflict_program).
.nnza 1.0
.config gs
.arena 5120
.input "x" f32 [64,64] @0
.output "y" f32 [16,64] @4096
.layer "gather" "MatMul" 0 9
.const 64
f1 f1 f1 f1 f1 f1 f1 f1 f1 f1 f1 f1 f1 f1 f1 f1
f1 f1 f1 f1 f1 f1 f1 f1 f1 f1 f1 f1 f1 f1 f1 f1
0 0 1 16 2 32 3 48 4 0 5 16 6 32 7 48
8 0 9 16 10 32 11 48 12 0 13 16 14 32 15 48
.code
ld fmt=gs part=val buf=W rows=16 cols=2 space=const dram=0
ld fmt=gs part=idx buf=X rows=16 cols=2 space=const dram=32
ld fmt=dense buf=I rows=64 cols=64 space=arena dram=0
sync units=ld
mm mode=gs sbuf=W dbuf=I m=16 n=64 k=64 nz=2
sync units=mx
st fmt=dense buf=O rows=16 cols=64 space=arena dram=4096
sync units=st
end
