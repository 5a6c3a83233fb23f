package table

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// maxThriftDepth is the deepest nesting of structs and containers that Parquet
// metadata needs, with room to spare.
const maxThriftDepth = 32

// errThriftShort is metadata that claims more than the bytes it has.
var errThriftShort = errors.New("the metadata claims more than it holds")

// checkThrift walks the struct at the start of b, in Thrift's compact protocol,
// and returns its length. Parquet's decoder allocates every list at the size
// its header claims before reading an element, so a footer of kilobytes can
// ask for terabytes; no valid list has more elements than bytes left, since
// each element takes one at least, and that is what this checks, with strings
// and nesting.
func checkThrift(b []byte) (int, error) {
	t := thriftWalk{b: b}
	if err := t.value(12, 0); err != nil {
		return 0, fmt.Errorf("metadata at byte %d: %w", t.off, err)
	}
	return t.off, nil
}

type thriftWalk struct {
	b   []byte
	off int
}

func (t *thriftWalk) byte() (byte, error) {
	if t.off >= len(t.b) {
		return 0, errThriftShort
	}
	t.off++
	return t.b[t.off-1], nil
}

func (t *thriftWalk) uvarint() (uint64, error) {
	v, n := binary.Uvarint(t.b[t.off:])
	if n <= 0 {
		return 0, errThriftShort
	}
	t.off += n
	return v, nil
}

// size reads a count of things that take a byte each at least.
func (t *thriftWalk) size() (int, error) {
	n, err := t.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(t.b)-t.off) {
		return 0, fmt.Errorf("%d elements or bytes claimed, %d bytes left: %w", n, len(t.b)-t.off, errThriftShort)
	}
	return int(n), nil
}

// value skips a value of compact type typ. Booleans (1 and 2) take a byte in
// a container; as a field, its type is its value.
func (t *thriftWalk) value(typ byte, depth int) error {
	if depth > maxThriftDepth {
		return fmt.Errorf("nested deeper than %d", maxThriftDepth)
	}
	switch typ {
	case 1, 2, 3:
		_, err := t.byte()
		return err
	case 4, 5, 6:
		_, err := t.uvarint()
		return err
	case 7:
		if len(t.b)-t.off < 8 {
			return errThriftShort
		}
		t.off += 8
		return nil
	case 8:
		n, err := t.size()
		t.off += n
		return err
	case 9, 10:
		h, err := t.byte()
		if err != nil {
			return err
		}
		n := int(h >> 4)
		if n == 15 {
			if n, err = t.size(); err != nil {
				return err
			}
		} else if n > len(t.b)-t.off {
			return errThriftShort
		}
		for range n {
			if err := t.value(h&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case 11:
		n, err := t.size()
		if err != nil || n == 0 {
			return err
		}
		kv, err := t.byte()
		if err != nil {
			return err
		}
		for range n {
			if err := t.value(kv>>4, depth+1); err != nil {
				return err
			}
			if err := t.value(kv&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case 12:
		for {
			h, err := t.byte()
			if err != nil {
				return err
			}
			if h == 0 {
				return nil
			}
			if h>>4 == 0 {
				if _, err := t.uvarint(); err != nil {
					return err
				}
			}
			if typ := h & 0x0f; typ != 1 && typ != 2 {
				if err := t.value(typ, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return fmt.Errorf("unknown type %d", typ)
}
