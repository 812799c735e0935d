//go:build amd64 && !purego

#include "textflag.h"

// Within each 128-bit lane: bytes 0, 4, 8, 12 (the low byte of each dword)
// to positions 0..3, zeros elsewhere.
DATA shufmask<>+0(SB)/8, $0x808080800c080400
DATA shufmask<>+8(SB)/8, $0x8080808080808080
DATA shufmask<>+16(SB)/8, $0x808080800c080400
DATA shufmask<>+24(SB)/8, $0x8080808080808080
GLOBL shufmask<>(SB), RODATA|NOPTR, $32

// dwords 0 and 4 (the packed bytes of each lane) to dwords 0 and 1.
DATA permidx<>+0(SB)/8, $0x0000000400000000
DATA permidx<>+8(SB)/8, $0
DATA permidx<>+16(SB)/8, $0
DATA permidx<>+24(SB)/8, $0
GLOBL permidx<>(SB), RODATA|NOPTR, $32

// func absmaxAVX2(src *float32, n int) uint32
// n is a positive multiple of 32. Max of the bits of |x| (unsigned).
TEXT ·absmaxAVX2(SB), NOSPLIT, $0-20
	MOVQ src+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0x7fffffff, AX
	MOVQ AX, X15
	VPBROADCASTD X15, Y15
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
absloop:
	VPAND (SI), Y15, Y4
	VPAND 32(SI), Y15, Y5
	VPAND 64(SI), Y15, Y6
	VPAND 96(SI), Y15, Y7
	VPMAXUD Y4, Y0, Y0
	VPMAXUD Y5, Y1, Y1
	VPMAXUD Y6, Y2, Y2
	VPMAXUD Y7, Y3, Y3
	ADDQ $128, SI
	SUBQ $32, CX
	JNZ absloop
	VPMAXUD Y1, Y0, Y0
	VPMAXUD Y3, Y2, Y2
	VPMAXUD Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0xb1, X0, X1
	VPMAXUD X1, X0, X0
	MOVQ X0, AX
	MOVL AX, ret+16(FP)
	VZEROUPPER
	RET

// func quantizeAVX2(dst *byte, src *float32, n int, inv float32)
// n is a positive multiple of 8. dst[i] = low byte of float32(src[i]*inv) + (2^23+128).
TEXT ·quantizeAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS inv+24(FP), Y15
	MOVL $0x4b000080, AX
	MOVQ AX, X14
	VPBROADCASTD X14, Y14
	VMOVDQU shufmask<>(SB), Y13
	VMOVDQU permidx<>(SB), Y12
q32:
	CMPQ CX, $32
	JLT q8
	VMULPS (SI), Y15, Y0
	VMULPS 32(SI), Y15, Y1
	VMULPS 64(SI), Y15, Y2
	VMULPS 96(SI), Y15, Y3
	VADDPS Y14, Y0, Y0
	VADDPS Y14, Y1, Y1
	VADDPS Y14, Y2, Y2
	VADDPS Y14, Y3, Y3
	VPSHUFB Y13, Y0, Y0
	VPSHUFB Y13, Y1, Y1
	VPSHUFB Y13, Y2, Y2
	VPSHUFB Y13, Y3, Y3
	VPERMD Y0, Y12, Y0
	VPERMD Y1, Y12, Y1
	VPERMD Y2, Y12, Y2
	VPERMD Y3, Y12, Y3
	VMOVQ X0, (DI)
	VMOVQ X1, 8(DI)
	VMOVQ X2, 16(DI)
	VMOVQ X3, 24(DI)
	ADDQ $128, SI
	ADDQ $32, DI
	SUBQ $32, CX
	JMP q32
q8:
	TESTQ CX, CX
	JZ qdone
qloop:
	VMULPS (SI), Y15, Y0
	VADDPS Y14, Y0, Y0
	VPSHUFB Y13, Y0, Y0
	VPERMD Y0, Y12, Y0
	VMOVQ X0, (DI)
	ADDQ $32, SI
	ADDQ $8, DI
	SUBQ $8, CX
	JNZ qloop
qdone:
	VZEROUPPER
	RET

// func dequantAVX2(dst *float32, src *byte, n int, scale float32, mode uint8)
// n is a positive multiple of 8. v = float32(u-128)*scale; dst = v
// (dqSet), dst + v (dqAdd), or v with non-temporal stores (dqStream: dst
// 32-byte aligned; the result goes to memory without first reading its
// cache lines, see dequantize).
TEXT ·dequantAVX2(SB), NOSPLIT, $0-29
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS scale+24(FP), Y15
	MOVL $0x43000000, AX
	MOVQ AX, X14
	VPBROADCASTD X14, Y14
	MOVBLZX mode+28(FP), DX
	CMPQ DX, $1
	JEQ addloop
	CMPQ DX, $2
	JEQ streamloop
setloop:
	VPMOVZXBD (SI), Y0
	VCVTDQ2PS Y0, Y0
	VSUBPS Y14, Y0, Y0
	VMULPS Y15, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $8, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ setloop
	VZEROUPPER
	RET
addloop:
	VPMOVZXBD (SI), Y0
	VCVTDQ2PS Y0, Y0
	VSUBPS Y14, Y0, Y0
	VMULPS Y15, Y0, Y0
	VADDPS (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $8, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ addloop
	VZEROUPPER
	RET
streamloop:
	VPMOVZXBD (SI), Y0
	VCVTDQ2PS Y0, Y0
	VSUBPS Y14, Y0, Y0
	VMULPS Y15, Y0, Y0
	VMOVNTPS Y0, (DI)
	ADDQ $8, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ streamloop
	SFENCE
	VZEROUPPER
	RET
