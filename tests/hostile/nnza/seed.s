# A 2:4 fully-connected layer on the stc preset: y[4,8] = relu(W[4,8] x[8,8] + b), W 2:4-sparse.
.nnza 1.0
.config stc
.arena 128
.input "x" f32 [8,8] @0
.output "y" f32 [4,8] @64
.layer "fc" "Gemm" 0 11
.const 36
f1 f2 f-1 f0.5  f3 f1 f2 f2  f-2 f1 f1 f1  f0.25 f4 f1 f-3   # values: 4 rows x 2 groups x 2
0 2 1 3  0 1 2 3  1 2 0 3  0 3 1 2                            # indices within each group of 4
f0.5 f-0.5 f1 f0                                              # bias, one per row
.code
ld fmt=nm part=val buf=W rows=4 cols=4 space=const dram=0 n=2 m=4
ld fmt=nm part=idx buf=X rows=4 cols=4 space=const dram=16 n=2 m=4
ld fmt=dense part=val buf=W addr=64 rows=1 cols=4 space=const dram=32
ld fmt=dense buf=I rows=8 cols=8 space=arena dram=0
sync units=ld
mm mode=nm sbuf=W dbuf=I m=4 n=8 k=8 nz=2 grp=4
sync units=mx
vec func=add bcast=row dbuf=O abuf=O bbuf=W baddr=64 rows=4 cols=8
vec func=relu dbuf=O abuf=O rows=4 cols=8
sync units=vx
st fmt=dense buf=O rows=4 cols=8 space=arena dram=64
end
