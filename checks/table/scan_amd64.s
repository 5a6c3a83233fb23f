#include "textflag.h"

// func separatorsAVX2(data *byte, chunks int, masks *uint64) (newlines int, quotes bool)
//
// Each 64 bytes: compare both halves with a comma, a newline and a quote; the
// byte masks of commas and newlines become masks[w], the newlines are counted
// and the quotes gathered into Y7.
TEXT ·separatorsAVX2(SB), NOSPLIT, $0-33
	MOVQ data+0(FP), SI
	MOVQ chunks+8(FP), CX
	MOVQ masks+16(FP), DI
	XORQ R9, R9
	MOVQ $0x2c2c2c2c2c2c2c2c, AX
	MOVQ AX, X4
	VPBROADCASTQ X4, Y4
	MOVQ $0x0a0a0a0a0a0a0a0a, AX
	MOVQ AX, X5
	VPBROADCASTQ X5, Y5
	MOVQ $0x2222222222222222, AX
	MOVQ AX, X6
	VPBROADCASTQ X6, Y6
	VPXOR Y7, Y7, Y7
	TESTQ CX, CX
	JZ done

loop:
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y1
	VPCMPEQB Y5, Y0, Y2
	VPCMPEQB Y5, Y1, Y3
	VPMOVMSKB Y2, AX
	VPMOVMSKB Y3, BX
	SHLQ $32, BX
	ORQ BX, AX
	POPCNTQ AX, DX
	ADDQ DX, R9
	VPCMPEQB Y4, Y0, Y8
	VPCMPEQB Y4, Y1, Y9
	VPOR Y8, Y2, Y2
	VPOR Y9, Y3, Y3
	VPMOVMSKB Y2, AX
	VPMOVMSKB Y3, BX
	SHLQ $32, BX
	ORQ BX, AX
	MOVQ AX, (DI)
	VPCMPEQB Y6, Y0, Y8
	VPCMPEQB Y6, Y1, Y9
	VPOR Y8, Y7, Y7
	VPOR Y9, Y7, Y7
	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNZ loop

done:
	MOVQ R9, newlines+24(FP)
	VPTEST Y7, Y7
	SETNE quotes+32(FP)
	VZEROUPPER
	RET
