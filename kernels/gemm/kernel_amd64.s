//go:build !purego

#include "textflag.h"

// Micro-kernels: C[MR×NR] (+)= Ã·B̃ for one kc-deep chunk, B̃ packed [kc][NR] and Ã read
// in place: element (i, k) at a + i·aRow + k·aK (floats) — packed strips have aRow = 1,
// aK = MR; a row-major A is read directly with aRow = its row stride, aK = 1. The chunk is summed in sub-blocks of 32 k-steps: within a
// sub-block, even and odd steps go to two accumulator sets (fused multiply-adds from zero), the
// sub-block's value is set0 + set1 and is added to the chunk's total (from zero); the total is
// stored to C (acc == 0) or added to it. This fixed order — the same in every kernel and in the
// Go code — depends on kc only, and is more accurate than one long chain.

// AVX-512: MR = 4 rows, NR = 32 columns (two ZMM). Totals Z0–Z7, even set Z8–Z15, odd set
// Z16–Z23, B̃ rows Z24–Z27, broadcasts Z28/Z29.
#define ZERO8(a, b, c, d, e, f, g, h) \
	VPXORD a, a, a; VPXORD b, b, b; VPXORD c, c, c; VPXORD d, d, d; \
	VPXORD e, e, e; VPXORD f, f, f; VPXORD g, g, g; VPXORD h, h, h

// STEP512(boff, b0, b1, s0..s7): one k-step into the set s0..s7; Ã rows at AX, AX+R10,
// AX+R11, AX+R12; AX then advances by one k (R13 bytes).
#define STEP512(boff, b0, b1, s0, s1, s2, s3, s4, s5, s6, s7) \
	VMOVUPS boff(BX), b0; \
	VMOVUPS boff+64(BX), b1; \
	VBROADCASTSS (AX), Z28; \
	VBROADCASTSS (AX)(R10*1), Z29; \
	VFMADD231PS b0, Z28, s0; \
	VFMADD231PS b1, Z28, s1; \
	VFMADD231PS b0, Z29, s2; \
	VFMADD231PS b1, Z29, s3; \
	VBROADCASTSS (AX)(R11*1), Z28; \
	VBROADCASTSS (AX)(R12*1), Z29; \
	VFMADD231PS b0, Z28, s4; \
	VFMADD231PS b1, Z28, s5; \
	VFMADD231PS b0, Z29, s6; \
	VFMADD231PS b1, Z29, s7; \
	ADDQ R13, AX

#define STORE512(r0, r1) \
	VMOVUPS r0, (DI); \
	VMOVUPS r1, 64(DI); \
	ADDQ DX, DI

#define ACC512(r0, r1) \
	VADDPS (DI), r0, r0; \
	VADDPS 64(DI), r1, r1; \
	VMOVUPS r0, (DI); \
	VMOVUPS r1, 64(DI); \
	ADDQ DX, DI

// func kernel4x32(kc int, a, b, c *float32, ldc int, acc bool, aRow, aK int)
TEXT ·kernel4x32(SB), NOSPLIT, $0-64
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX
	MOVQ aRow+48(FP), R10
	SHLQ $2, R10
	LEAQ (R10)(R10*1), R11
	LEAQ (R11)(R10*1), R12
	MOVQ aK+56(FP), R13
	SHLQ $2, R13
	ZERO8(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)

sub512:
	TESTQ CX, CX
	JEQ   store512
	MOVQ  $16, R8
	CMPQ  CX, R8
	CMOVQLT CX, R8               // R8 = steps in this sub-block
	SUBQ  R8, CX
	ZERO8(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	ZERO8(Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	MOVQ  R8, R9
	SHRQ  $1, R9                 // pairs
	JEQ   odd512

pair512:
	STEP512(0, Z24, Z25, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	STEP512(128, Z26, Z27, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	ADDQ $256, BX
	DECQ R9
	JNE  pair512

odd512:
	TESTQ $1, R8
	JEQ   fold512
	STEP512(0, Z24, Z25, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	ADDQ $128, BX

fold512:
	VADDPS Z16, Z8, Z8
	VADDPS Z17, Z9, Z9
	VADDPS Z18, Z10, Z10
	VADDPS Z19, Z11, Z11
	VADDPS Z20, Z12, Z12
	VADDPS Z21, Z13, Z13
	VADDPS Z22, Z14, Z14
	VADDPS Z23, Z15, Z15
	VADDPS Z8, Z0, Z0
	VADDPS Z9, Z1, Z1
	VADDPS Z10, Z2, Z2
	VADDPS Z11, Z3, Z3
	VADDPS Z12, Z4, Z4
	VADDPS Z13, Z5, Z5
	VADDPS Z14, Z6, Z6
	VADDPS Z15, Z7, Z7
	JMP    sub512

store512:
	MOVBQZX acc+40(FP), SI
	TESTQ   SI, SI
	JNE     accumulate512
	STORE512(Z0, Z1)
	STORE512(Z2, Z3)
	STORE512(Z4, Z5)
	STORE512(Z6, Z7)
	VZEROUPPER
	RET

accumulate512:
	ACC512(Z0, Z1)
	ACC512(Z2, Z3)
	ACC512(Z4, Z5)
	ACC512(Z6, Z7)
	VZEROUPPER
	RET

// AVX2 + FMA: MR = 2 rows, NR = 16 columns (two YMM). Totals Y0–Y3, even set Y4–Y7, odd set
// Y8–Y11, B̃ rows Y12/Y13, broadcast Y14.
#define STEP256(boff, s0, s1, s2, s3) \
	VMOVUPS boff(BX), Y12; \
	VMOVUPS boff+32(BX), Y13; \
	VBROADCASTSS (AX), Y14; \
	VFMADD231PS Y12, Y14, s0; \
	VFMADD231PS Y13, Y14, s1; \
	VBROADCASTSS (AX)(R10*1), Y14; \
	VFMADD231PS Y12, Y14, s2; \
	VFMADD231PS Y13, Y14, s3; \
	ADDQ R13, AX

#define STORE256(r0, r1) \
	VMOVUPS r0, (DI); \
	VMOVUPS r1, 32(DI); \
	ADDQ DX, DI

#define ACC256(r0, r1) \
	VADDPS (DI), r0, r0; \
	VADDPS 32(DI), r1, r1; \
	VMOVUPS r0, (DI); \
	VMOVUPS r1, 32(DI); \
	ADDQ DX, DI

// func kernel2x16(kc int, a, b, c *float32, ldc int, acc bool, aRow, aK int)
TEXT ·kernel2x16(SB), NOSPLIT, $0-64
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX
	MOVQ aRow+48(FP), R10
	SHLQ $2, R10
	MOVQ aK+56(FP), R13
	SHLQ $2, R13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

sub256:
	TESTQ CX, CX
	JEQ   store256
	MOVQ  $16, R8
	CMPQ  CX, R8
	CMOVQLT CX, R8
	SUBQ  R8, CX
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	MOVQ  R8, R9
	SHRQ  $1, R9
	JEQ   odd256

pair256:
	STEP256(0, Y4, Y5, Y6, Y7)
	STEP256(64, Y8, Y9, Y10, Y11)
	ADDQ $128, BX
	DECQ R9
	JNE  pair256

odd256:
	TESTQ $1, R8
	JEQ   fold256
	STEP256(0, Y4, Y5, Y6, Y7)
	ADDQ $64, BX

fold256:
	VADDPS Y8, Y4, Y4
	VADDPS Y9, Y5, Y5
	VADDPS Y10, Y6, Y6
	VADDPS Y11, Y7, Y7
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	JMP    sub256

store256:
	MOVBQZX acc+40(FP), SI
	TESTQ   SI, SI
	JNE     accumulate256
	STORE256(Y0, Y1)
	STORE256(Y2, Y3)
	VZEROUPPER
	RET

accumulate256:
	ACC256(Y0, Y1)
	ACC256(Y2, Y3)
	VZEROUPPER
	RET

// Exact micro-kernels for short products (K < exactK): the same packed operands and layout
// as above, but every element is summed in float64 (fused multiply-adds of the exact float64
// products, in k order) and rounded to float32 once at the end (added to C when acc != 0). The
// float64 sum is exact to ~K·2⁻⁵³, so the float32 result is the correctly rounded value of the
// exact sum in practice, whatever the order of k.

// AVX-512: MR = 4, NR = 32 — row i's 32 sums in Z(4i)..Z(4i+3) (8 doubles each); B̃ row
// converted to doubles in Z16–Z19; Ã element converted and broadcast in Z20.
#define STEPD512(r0, r1, r2, r3, aoff) \
	VBROADCASTSS aoff, Y20; \
	VCVTPS2PD Y20, Z20; \
	VFMADD231PD Z16, Z20, r0; \
	VFMADD231PD Z17, Z20, r1; \
	VFMADD231PD Z18, Z20, r2; \
	VFMADD231PD Z19, Z20, r3

#define STORED512(r0, r1, r2, r3) \
	VCVTPD2PS r0, Y24; \
	VCVTPD2PS r1, Y25; \
	VCVTPD2PS r2, Y26; \
	VCVTPD2PS r3, Y27; \
	VMOVUPS Y24, (DI); \
	VMOVUPS Y25, 32(DI); \
	VMOVUPS Y26, 64(DI); \
	VMOVUPS Y27, 96(DI); \
	ADDQ DX, DI

#define ACCD512(r0, r1, r2, r3) \
	VCVTPD2PS r0, Y24; \
	VCVTPD2PS r1, Y25; \
	VCVTPD2PS r2, Y26; \
	VCVTPD2PS r3, Y27; \
	VADDPS (DI), Y24, Y24; \
	VADDPS 32(DI), Y25, Y25; \
	VADDPS 64(DI), Y26, Y26; \
	VADDPS 96(DI), Y27, Y27; \
	VMOVUPS Y24, (DI); \
	VMOVUPS Y25, 32(DI); \
	VMOVUPS Y26, 64(DI); \
	VMOVUPS Y27, 96(DI); \
	ADDQ DX, DI

// func kernel4x32d(kc int, a, b, c *float32, ldc int, acc bool, aRow, aK int)
TEXT ·kernel4x32d(SB), NOSPLIT, $0-64
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX
	MOVQ aRow+48(FP), R10
	SHLQ $2, R10
	LEAQ (R10)(R10*1), R11
	LEAQ (R11)(R10*1), R12
	MOVQ aK+56(FP), R13
	SHLQ $2, R13
	ZERO8(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	ZERO8(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	TESTQ CX, CX
	JEQ   stored512

loopd512:
	VCVTPS2PD (BX), Z16
	VCVTPS2PD 32(BX), Z17
	VCVTPS2PD 64(BX), Z18
	VCVTPS2PD 96(BX), Z19
	STEPD512(Z0, Z1, Z2, Z3, (AX))
	STEPD512(Z4, Z5, Z6, Z7, (AX)(R10*1))
	STEPD512(Z8, Z9, Z10, Z11, (AX)(R11*1))
	STEPD512(Z12, Z13, Z14, Z15, (AX)(R12*1))
	ADDQ R13, AX
	ADDQ $128, BX
	DECQ CX
	JNE  loopd512

stored512:
	MOVBQZX acc+40(FP), SI
	TESTQ   SI, SI
	JNE     accumulated512
	STORED512(Z0, Z1, Z2, Z3)
	STORED512(Z4, Z5, Z6, Z7)
	STORED512(Z8, Z9, Z10, Z11)
	STORED512(Z12, Z13, Z14, Z15)
	VZEROUPPER
	RET

accumulated512:
	ACCD512(Z0, Z1, Z2, Z3)
	ACCD512(Z4, Z5, Z6, Z7)
	ACCD512(Z8, Z9, Z10, Z11)
	ACCD512(Z12, Z13, Z14, Z15)
	VZEROUPPER
	RET

// AVX2 + FMA: MR = 2, NR = 16 — row i's sums in Y(4i)..Y(4i+3) (4 doubles each); B̃ row as
// doubles in Y8–Y11; Ã element in Y12.
#define STEPD256(r0, r1, r2, r3, aoff) \
	VBROADCASTSS aoff, X12; \
	VCVTPS2PD X12, Y12; \
	VFMADD231PD Y8, Y12, r0; \
	VFMADD231PD Y9, Y12, r1; \
	VFMADD231PD Y10, Y12, r2; \
	VFMADD231PD Y11, Y12, r3

#define STORED256(r0, r1, r2, r3) \
	VCVTPD2PSY r0, X13; \
	VCVTPD2PSY r1, X14; \
	VMOVUPS X13, (DI); \
	VMOVUPS X14, 16(DI); \
	VCVTPD2PSY r2, X13; \
	VCVTPD2PSY r3, X14; \
	VMOVUPS X13, 32(DI); \
	VMOVUPS X14, 48(DI); \
	ADDQ DX, DI

#define ACCD256(r0, r1, r2, r3) \
	VCVTPD2PSY r0, X13; \
	VCVTPD2PSY r1, X14; \
	VADDPS (DI), X13, X13; \
	VADDPS 16(DI), X14, X14; \
	VMOVUPS X13, (DI); \
	VMOVUPS X14, 16(DI); \
	VCVTPD2PSY r2, X13; \
	VCVTPD2PSY r3, X14; \
	VADDPS 32(DI), X13, X13; \
	VADDPS 48(DI), X14, X14; \
	VMOVUPS X13, 32(DI); \
	VMOVUPS X14, 48(DI); \
	ADDQ DX, DI

// func kernel2x16d(kc int, a, b, c *float32, ldc int, acc bool, aRow, aK int)
TEXT ·kernel2x16d(SB), NOSPLIT, $0-64
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX
	MOVQ aRow+48(FP), R10
	SHLQ $2, R10
	MOVQ aK+56(FP), R13
	SHLQ $2, R13
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	TESTQ CX, CX
	JEQ   stored256

loopd256:
	VCVTPS2PD (BX), Y8
	VCVTPS2PD 16(BX), Y9
	VCVTPS2PD 32(BX), Y10
	VCVTPS2PD 48(BX), Y11
	STEPD256(Y0, Y1, Y2, Y3, (AX))
	STEPD256(Y4, Y5, Y6, Y7, (AX)(R10*1))
	ADDQ R13, AX
	ADDQ $64, BX
	DECQ CX
	JNE  loopd256

stored256:
	MOVBQZX acc+40(FP), SI
	TESTQ   SI, SI
	JNE     accumulated256
	STORED256(Y0, Y1, Y2, Y3)
	STORED256(Y4, Y5, Y6, Y7)
	VZEROUPPER
	RET

accumulated256:
	ACCD256(Y0, Y1, Y2, Y3)
	ACCD256(Y4, Y5, Y6, Y7)
	VZEROUPPER
	RET
