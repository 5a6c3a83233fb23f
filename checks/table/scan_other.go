//go:build !amd64

package table

func separatorsOf(data []byte, masks []uint64) (int, bool) {
	return separatorsSWAR(data, masks)
}
