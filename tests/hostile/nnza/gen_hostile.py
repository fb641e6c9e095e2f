#!/usr/bin/env python3
"""Writes the hostile .nnza corpus (corpus/*.nnza) and cases.txt from a valid program.

    nnzc asm seed.s -o /tmp/seed.nnza && python3 gen_hostile.py /tmp/seed.nnza

Each case corrupts one thing and, unless it is about checksums, recomputes the checksums
(zlib's CRC-32, as the container uses) so that the loader's deeper checks are reached."""
import os, struct, sys, zlib

base = open(sys.argv[1], 'rb').read()
here = os.path.dirname(os.path.abspath(__file__))
os.makedirs(os.path.join(here, 'corpus'), exist_ok=True)

def sec(b, kind):  # (offset, size) of section kind 1..5
    e = 64 + (kind - 1) * 32
    return struct.unpack_from('<QQ', b, e + 8)

def fix(b, sections=True):
    b = bytearray(b)
    if sections:
        for k in range(1, 6):
            e = 64 + (k - 1) * 32
            if e + 32 > len(b):
                break
            off, size = struct.unpack_from('<QQ', b, e + 8)
            if off <= len(b) and size <= len(b) - off:
                struct.pack_into('<I', b, e + 24, zlib.crc32(bytes(b[off:off + size])))
    if len(b) >= 64:
        struct.pack_into('<I', b, 44, 0)
        struct.pack_into('<I', b, 44, zlib.crc32(bytes(b)))
    return bytes(b)

def put(b, off, fmt, v):
    b = bytearray(b)
    struct.pack_into(fmt, b, off, v)
    return bytes(b)

code, _ = sec(base, 2)
def insn_word(b, i, w, v):  # instruction i, word w
    return put(b, code + 32 * i + 4 * w, '<I', v)

cases = []
def case(name, data, *expect):
    open(os.path.join(here, 'corpus', name), 'wb').write(data)
    cases.append((name, expect))

case('empty.nnza', b'', 'too short for a .nnza header')
case('magic.nnza', b'NNZB' + base[4:], 'bad magic')
case('random.nnza', bytes((i * 7919 + 13) & 0xff for i in range(600)), 'bad magic')
case('truncated_header.nnza', base[:40], 'too short')
case('truncated.nnza', base[:len(base) // 2], 'truncated or padded')
case('truncated_fixed.nnza', fix(put(base[:len(base) - 8], 16, '<Q', len(base) - 8)), 'runs past the end of the file')
case('padded.nnza', fix(put(base + b'\0' * 16, 16, '<Q', len(base) + 16)), 'bytes after the last section')
case('bad_file_crc.nnza', put(base, 44, '<I', 0xdeadbeef), 'file checksum mismatch')
case('flipped_byte.nnza', base[:700] + bytes([base[700] ^ 0x10]) + base[701:], 'file checksum mismatch')
case('bad_section_crc.nnza', fix(put(base, 64 + 32 + 24, '<I', 1), sections=False), 'section code: checksum mismatch')
case('version.nnza', fix(put(base, 4, '<H', 7)), 'version 7.0')
case('flags.nnza', fix(put(base, 8, '<I', 4)), 'header flags')
case('sections_count.nnza', fix(put(base, 40, '<I', 0xffffffff)), 'sections, expected 5')
case('absurd_arena.nnza', fix(put(base, 32, '<Q', 1 << 63)), 'arena of')
case('absurd_section_size.nnza', fix(put(base, 64 + 32 + 16, '<Q', (1 << 64) - 1)), 'runs past the end of the file')
case('absurd_section_offset.nnza', fix(put(base, 64 + 8, '<Q', (1 << 64) - 16)), 'section config at offset')
case('fingerprint.nnza', fix(put(base, 24, '<Q', 42)), 'config fingerprint mismatch')
io, _ = sec(base, 4)
case('absurd_io_count.nnza', fix(put(base, io, '<I', 0xffffffff)), 'tensors do not fit')
case('absurd_dims.nnza', fix(put(base, io + 24, '<Q', 1 << 62)), 'element count overflows')
case('io_outside_arena.nnza', fix(put(base, io + 16, '<Q', 1 << 40)), 'exceed the arena')
ly, _ = sec(base, 5)
case('layer_range.nnza', fix(put(base, ly + 12, '<I', 0xffffffff)), 'past the')
case('layer_name_len.nnza', fix(put(base, ly + 16, '<I', 0x7fffffff)), 'name of 2147483647 bytes')
# instructions (seed.s: 0 ld nm val, 1 ld nm idx, 2 ld bias, 3 ld x, 4 sync, 5 mm, 6 sync, 7 vec add,
# 8 vec relu, 9 sync, 10 st, 11 end)
case('opcode.nnza', fix(insn_word(base, 4, 0, 0xee)), 'instruction 4: unknown opcode 238')
case('reserved_bits.nnza', fix(insn_word(base, 4, 5, 1)), 'reserved bits')
case('buffer_oob.nnza', fix(insn_word(base, 0, 2, 0xffffff)), 'exceeds the 131072 elements of buffer W')
case('index_buffer_oob.nnza', fix(insn_word(base, 5, 5, 0xfffff0)), 'buffer X')
case('dram_oob.nnza', fix(insn_word(base, 3, 3, 0xfffffff0)), 'DRAM arena')
case('const_oob.nnza', fix(insn_word(base, 0, 4, 0xffffffff)), 'DRAM const')
case('store_to_const.nnza', fix(insn_word(base, 10, 2, 0)), 'stores go to the arena')
case('mode_1_4_on_stc.nnza', fix(insn_word(base, 5, 3, 1 | 4 << 16)), "mode nm 1:4 is not a sparsity mode of config 'stc'")
case('gs_on_stc.nnza', fix(insn_word(base, 5, 0, 5 | 2 << 8)), "mode gs is not a sparsity mode of config 'stc'")
case('dma_format_on_stc.nnza', fix(insn_word(base, 1, 5, 8 | 1 << 16)), "format nm 1:4 is not a sparsity mode of config 'stc'")
case('no_end.nnza', fix(insn_word(base, 11, 0, 2 | 1 << 8)), 'the last instruction is not end')
case('early_end.nnza', fix(insn_word(base, 4, 0, 1)), 'end before the last instruction')
case('code_size.nnza', fix(put(put(base, 64 + 32 + 16, '<Q', 31), 64 + 32 * 2 + 8, '<Q', code + 32)),
     'section io at offset')
# the config: a sparse mode on the dense preset, with the fingerprint recomputed
cfg, csize = sec(base, 1)
text = base[cfg:cfg + csize].replace(b'modes = dense nm:2:4', b'modes = dense nm:2:5')
b2 = put(base[:cfg] + text + base[cfg + csize:], 24, '<Q', 0)
h = 0xcbf29ce484222325
for c in text:
    h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
case('config_changed_mode.nnza', fix(put(b2, 24, '<Q', h)), 'format nm 2:4 is not a sparsity mode')
text2 = base[cfg:cfg + csize].replace(b'array_rows = 32', b'array_rows = 99999'[:15])
case('config_bad_value.nnza', fix(put(base[:cfg] + text2 + base[cfg + csize:], 24, '<Q', 0)), 'fingerprint mismatch')

with open(os.path.join(here, 'cases.txt'), 'w') as f:
    f.write('# FILE<TAB>substrings the one-line error of `nnzc disasm FILE` and `nnzc info FILE` must contain\n')
    f.write('# (written by gen_hostile.py; every case must exit 1 with one stderr line, no sanitizer report)\n')
    for name, expect in cases:
        f.write('\t'.join((name,) + expect) + '\n')
print(len(cases), 'cases')
