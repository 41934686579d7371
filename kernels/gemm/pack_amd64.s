//go:build !purego

#include "textflag.h"

#define LOADROW(z) VMOVUPS (SI), z; ADDQ R8, SI

#define PHASE(a, b, c, d, p) \
	VSHUFF32X4 $0x44, b, a, Z16; \
	VSHUFF32X4 $0xEE, b, a, Z17; \
	VSHUFF32X4 $0x44, d, c, Z18; \
	VSHUFF32X4 $0xEE, d, c, Z19; \
	VSHUFF32X4 $0x88, Z18, Z16, Z20; \
	VSHUFF32X4 $0xDD, Z18, Z16, Z21; \
	VSHUFF32X4 $0x88, Z19, Z17, Z22; \
	VSHUFF32X4 $0xDD, Z19, Z17, Z23; \
	MOVQ DI, AX; \
	ADDQ R10, AX; \
	VMOVUPS Z20, (AX); \
	ADDQ R11, AX; \
	VMOVUPS Z21, (AX); \
	ADDQ R11, AX; \
	VMOVUPS Z22, (AX); \
	ADDQ R11, AX; \
	VMOVUPS Z23, (AX); \
	ADDQ R9, R10

// func transpose16(dst *float32, dstStride int, src *float32, srcStride int)
// dst[k·dstStride + r] = src[r·srcStride + k] for r, k < 16 (AVX-512: 64 shuffles per block).
TEXT ·transpose16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R9
	SHLQ $2, R9                  // one dst row, bytes
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), R8
	SHLQ $2, R8
	LOADROW(Z0)
	LOADROW(Z1)
	LOADROW(Z2)
	LOADROW(Z3)
	LOADROW(Z4)
	LOADROW(Z5)
	LOADROW(Z6)
	LOADROW(Z7)
	LOADROW(Z8)
	LOADROW(Z9)
	LOADROW(Z10)
	LOADROW(Z11)
	LOADROW(Z12)
	LOADROW(Z13)
	LOADROW(Z14)
	LOADROW(Z15)
	// Interleave row pairs (32-bit).
	VUNPCKLPS Z1, Z0, Z16
	VUNPCKHPS Z1, Z0, Z17
	VUNPCKLPS Z3, Z2, Z18
	VUNPCKHPS Z3, Z2, Z19
	VUNPCKLPS Z5, Z4, Z20
	VUNPCKHPS Z5, Z4, Z21
	VUNPCKLPS Z7, Z6, Z22
	VUNPCKHPS Z7, Z6, Z23
	VUNPCKLPS Z9, Z8, Z24
	VUNPCKHPS Z9, Z8, Z25
	VUNPCKLPS Z11, Z10, Z26
	VUNPCKHPS Z11, Z10, Z27
	VUNPCKLPS Z13, Z12, Z28
	VUNPCKHPS Z13, Z12, Z29
	VUNPCKLPS Z15, Z14, Z30
	VUNPCKHPS Z15, Z14, Z31
	// Interleave pairs of pairs (64-bit): Z(4g+p) holds rows 4g..4g+3 at k ≡ p (mod 4) per lane.
	VUNPCKLPD Z18, Z16, Z0
	VUNPCKHPD Z18, Z16, Z1
	VUNPCKLPD Z19, Z17, Z2
	VUNPCKHPD Z19, Z17, Z3
	VUNPCKLPD Z22, Z20, Z4
	VUNPCKHPD Z22, Z20, Z5
	VUNPCKLPD Z23, Z21, Z6
	VUNPCKHPD Z23, Z21, Z7
	VUNPCKLPD Z26, Z24, Z8
	VUNPCKHPD Z26, Z24, Z9
	VUNPCKLPD Z27, Z25, Z10
	VUNPCKHPD Z27, Z25, Z11
	VUNPCKLPD Z30, Z28, Z12
	VUNPCKHPD Z30, Z28, Z13
	VUNPCKLPD Z31, Z29, Z14
	VUNPCKHPD Z31, Z29, Z15
	// Gather the 128-bit lanes: phase p writes dst rows p, p+4, p+8, p+12.
	MOVQ R9, R11
	SHLQ $2, R11                 // four dst rows, bytes
	XORQ R10, R10                // phase offset: p dst rows
	PHASE(Z0, Z4, Z8, Z12, 0)
	PHASE(Z1, Z5, Z9, Z13, 1)
	PHASE(Z2, Z6, Z10, Z14, 2)
	PHASE(Z3, Z7, Z11, Z15, 3)
	VZEROUPPER
	RET
