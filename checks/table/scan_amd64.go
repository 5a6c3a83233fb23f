package table

import "golang.org/x/sys/cpu"

// separatorsAVX2 is separators for whole chunks of data, 32 bytes an
// instruction.
//
//go:noescape
func separatorsAVX2(data *byte, chunks int, masks *uint64) (newlines int, quotes bool)

func separatorsOf(data []byte, masks []uint64) (int, bool) {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasPOPCNT {
		return separatorsSWAR(data, masks)
	}
	return separatorsAVX2(&data[0], len(masks), &masks[0])
}
