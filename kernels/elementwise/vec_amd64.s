//go:build !purego

#include "textflag.h"

// Constants of Expf (Cephes expf), one float32 each, broadcast into registers.
DATA expconst<>+0(SB)/4, $-100.0          // clamp low
DATA expconst<>+4(SB)/4, $100.0           // clamp high
DATA expconst<>+8(SB)/4, $1.44269504088896341   // log2(e)
DATA expconst<>+12(SB)/4, $0.693359375    // c1
DATA expconst<>+16(SB)/4, $-2.12194440e-4 // c2
DATA expconst<>+20(SB)/4, $1.9875691500e-4
DATA expconst<>+24(SB)/4, $1.3981999507e-3
DATA expconst<>+28(SB)/4, $8.3334519073e-3
DATA expconst<>+32(SB)/4, $4.1665795894e-2
DATA expconst<>+36(SB)/4, $1.6666665459e-1
DATA expconst<>+40(SB)/4, $5.0000001201e-1
DATA expconst<>+44(SB)/4, $1.0
DATA expconst<>+48(SB)/4, $-87.33654     // below: e^x is not a normal float32, flushed to 0
GLOBL expconst<>(SB), RODATA|NOPTR, $52

// func expAVX512(dst, src *float32, n int, shift, scale float32)   (n a multiple of 16)
// dst = e^(src − shift) · scale.
// e^x per lane: n = round(x·log2e) on x clamped to ±100, r = x − n·ln2 (two parts),
// p = 1 + r + r²·P(r), result p·2^n by VSCALEFPS (which overflows to +Inf correctly). Results
// that would be subnormal are flushed to 0 (subnormals make later arithmetic very slow). NaN
// propagates through the clamp.
TEXT ·expAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS shift+24(FP), Z30
	VBROADCASTSS scale+28(FP), Z31
	SHRQ $4, CX
	JEQ  expdone
	LEAQ expconst<>(SB), AX
	VBROADCASTSS 0(AX), Z16
	VBROADCASTSS 4(AX), Z17
	VBROADCASTSS 8(AX), Z18
	VBROADCASTSS 12(AX), Z19
	VBROADCASTSS 16(AX), Z20
	VBROADCASTSS 20(AX), Z21
	VBROADCASTSS 24(AX), Z22
	VBROADCASTSS 28(AX), Z23
	VBROADCASTSS 32(AX), Z24
	VBROADCASTSS 36(AX), Z25
	VBROADCASTSS 40(AX), Z26
	VBROADCASTSS 44(AX), Z27
	VBROADCASTSS 48(AX), Z28

exploop:
	VMOVUPS (SI), Z0
	VSUBPS  Z30, Z0, Z0          // x − shift
	VMAXPS  Z0, Z16, Z1          // max(lo, x): a NaN x is kept
	VMINPS  Z1, Z17, Z1          // min(hi, ·)
	VMULPS  Z18, Z1, Z2
	VRNDSCALEPS $0, Z2, Z2       // n = round to nearest even
	VMOVAPS Z1, Z3
	VFNMADD231PS Z19, Z2, Z3     // r = x − n·c1
	VFNMADD231PS Z20, Z2, Z3     // r −= n·c2
	VMOVAPS Z21, Z4
	VFMADD213PS Z22, Z3, Z4      // p = p·r + c
	VFMADD213PS Z23, Z3, Z4
	VFMADD213PS Z24, Z3, Z4
	VFMADD213PS Z25, Z3, Z4
	VFMADD213PS Z26, Z3, Z4
	VMULPS  Z3, Z3, Z5           // z = r²
	VFMADD213PS Z3, Z5, Z4       // p·z + r
	VADDPS  Z27, Z4, Z4          // + 1
	VSCALEFPS Z2, Z4, Z4         // · 2^n
	VCMPPS  $5, Z28, Z0, K1      // not (x < −87.34): also true for NaN
	VMOVAPS.Z Z4, K1, Z4         // flush the rest to 0
	VMULPS  Z31, Z4, Z4          // · scale
	VMOVUPS Z4, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNE  exploop

expdone:
	VZEROUPPER
	RET

// func sumAVX512(x *float32, n int) float32   (n a multiple of 64, > 0)
// Four ZMM partial sums over 64-wide blocks, then a fixed-order horizontal sum.
TEXT ·sumAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	SHRQ $6, CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

sumloop:
	VADDPS (SI), Z0, Z0
	VADDPS 64(SI), Z1, Z1
	VADDPS 128(SI), Z2, Z2
	VADDPS 192(SI), Z3, Z3
	ADDQ $256, SI
	DECQ CX
	JNE  sumloop

	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X1, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func maxAVX512(x *float32, n int) (m float32, nan bool)   (n a multiple of 64, > 0)
// The maximum, and whether any element is NaN (then m is meaningless).
TEXT ·maxAVX512(SB), NOSPLIT, $0-21
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	SHRQ $6, CX
	VMOVUPS (SI), Z0
	VMOVUPS Z0, Z1
	VMOVUPS Z0, Z2
	VMOVUPS Z0, Z3
	KXORW K1, K1, K1

maxloop:
	VMOVUPS (SI), Z4
	VMOVUPS 64(SI), Z5
	VMOVUPS 128(SI), Z6
	VMOVUPS 192(SI), Z7
	VMAXPS Z4, Z0, Z0
	VMAXPS Z5, Z1, Z1
	VMAXPS Z6, Z2, Z2
	VMAXPS Z7, Z3, Z3
	VCMPPS $3, Z4, Z4, K2       // unordered: NaN lanes
	KORW K2, K1, K1
	VCMPPS $3, Z5, Z5, K2
	KORW K2, K1, K1
	VCMPPS $3, Z6, Z6, K2
	KORW K2, K1, K1
	VCMPPS $3, Z7, Z7, K2
	KORW K2, K1, K1
	ADDQ $256, SI
	DECQ CX
	JNE  maxloop

	VMAXPS Z1, Z0, Z0
	VMAXPS Z3, Z2, Z2
	VMAXPS Z2, Z0, Z0
	VEXTRACTF32X8 $1, Z0, Y1
	VMAXPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VMOVHLPS X0, X1, X1
	VMAXPS X1, X0, X0
	VMOVSHDUP X0, X1
	VMAXSS X1, X0, X0
	VMOVSS X0, m+16(FP)
	KMOVW K1, AX
	TESTW AX, AX
	SETNE nan+20(FP)
	VZEROUPPER
	RET

// Binary arithmetic, 16 lanes at a time (n a multiple of 16): d = x op y with both vectors
// (VV), y a scalar broadcast from *y (VS) or x a scalar from *x (SV).
#define BINLOOP(name, inst, loadx, loady) \
name: \
	loadx; \
	loady; \
	inst Z1, Z0, Z2; \
	VMOVUPS Z2, (DI); \
	ADDQ $64, DI; \
	ADDQ R8, SI; \
	ADDQ R9, DX; \
	DECQ CX; \
	JNE name; \
	VZEROUPPER; \
	RET

#define LX VMOVUPS (SI), Z0
#define LY VMOVUPS (DX), Z1

// func binAVX512(op, mode int, d, x, y *float32, n int)
// op: 0 Add, 1 Sub, 2 Mul, 3 Div; mode: 0 VV, 1 VS, 2 SV.
TEXT ·binAVX512(SB), NOSPLIT, $0-48
	MOVQ op+0(FP), AX
	MOVQ mode+8(FP), BX
	MOVQ d+16(FP), DI
	MOVQ x+24(FP), SI
	MOVQ y+32(FP), DX
	MOVQ n+40(FP), CX
	SHRQ $4, CX
	JEQ  bindone
	MOVQ $64, R8                 // x advance
	MOVQ $64, R9                 // y advance
	CMPQ BX, $1
	JNE  notvs
	VBROADCASTSS (DX), Z1
	MOVQ $0, R9
	JMP  dispatch
notvs:
	CMPQ BX, $2
	JNE  dispatch
	VBROADCASTSS (SI), Z0
	MOVQ $0, R8
dispatch:
	// Z0 = x, Z1 = y; reload only the vector operands.
	CMPQ BX, $0
	JEQ  vv
	CMPQ BX, $1
	JEQ  vs
	// SV
	CMPQ AX, $0
	JEQ  svadd
	CMPQ AX, $1
	JEQ  svsub
	CMPQ AX, $2
	JEQ  svmul
	JMP  svdiv
vs:
	CMPQ AX, $0
	JEQ  vsadd
	CMPQ AX, $1
	JEQ  vssub
	CMPQ AX, $2
	JEQ  vsmul
	JMP  vsdiv
vv:
	CMPQ AX, $0
	JEQ  vvadd
	CMPQ AX, $1
	JEQ  vvsub
	CMPQ AX, $2
	JEQ  vvmul
	JMP  vvdiv

	BINLOOP(vvadd, VADDPS, LX, LY)
	BINLOOP(vvsub, VSUBPS, LX, LY)
	BINLOOP(vvmul, VMULPS, LX, LY)
	BINLOOP(vvdiv, VDIVPS, LX, LY)
	BINLOOP(vsadd, VADDPS, LX, NOP)
	BINLOOP(vssub, VSUBPS, LX, NOP)
	BINLOOP(vsmul, VMULPS, LX, NOP)
	BINLOOP(vsdiv, VDIVPS, LX, NOP)
	BINLOOP(svadd, VADDPS, NOP, LY)
	BINLOOP(svsub, VSUBPS, NOP, LY)
	BINLOOP(svmul, VMULPS, NOP, LY)
	BINLOOP(svdiv, VDIVPS, NOP, LY)

bindone:
	VZEROUPPER
	RET
