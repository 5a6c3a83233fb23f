// Package table reads the data files that checks run on — CSV (RFC 4180) and
// Parquet — into typed columns, keeping of each column only what its checks need,
// and counting nulls, unparsable values and failed tests with the rows they occur
// in. Large CSV files are read once, in blocks parsed on every core.
package table

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/modelgate/modelgate/checks/internal/floats"
)

// Type is what the values of a column are.
type Type uint8

// The column types of a data contract.
const (
	Float Type = iota + 1
	Int
	Bool
	String
)

// ParseType parses a contract's type name.
func ParseType(s string) (Type, error) {
	switch s {
	case "float":
		return Float, nil
	case "int":
		return Int, nil
	case "bool":
		return Bool, nil
	case "string":
		return String, nil
	}
	return 0, fmt.Errorf("unknown column type %q (want float, int, bool or string)", s)
}

func (t Type) String() string {
	switch t {
	case Float:
		return "float"
	case Int:
		return "int"
	case Bool:
		return "bool"
	case String:
		return "string"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Numeric reports whether values of the type are numbers.
func (t Type) Numeric() bool { return t == Float || t == Int }

// Keep says what to keep of a column's values.
type Keep uint8

const (
	// Values keeps one value per row: Column.Floats for numeric columns,
	// Column.Codes for bool and string columns.
	Values Keep = 1 << iota
	// Distinct keeps the distinct values of a bool or string column with their
	// counts, in Column.Dict. Values implies it.
	Distinct
	// Hashes keeps a hash of every row's value, in Column.Hashes.
	Hashes
)

// A Test is a rule for the non-null values of a column; Column.Failed counts the
// values that fail it. Tests run concurrently and must be safe for that.
type Test struct {
	Number func(float64) bool // for float and int columns
	Text   func([]byte) bool  // for string and bool columns; bools are "true" or "false"
}

// Spec asks for one column of a file.
type Spec struct {
	Name  string
	Type  Type
	Keep  Keep
	Tests []Test
}

// TallyRows is how many row numbers a Tally lists.
const TallyRows = 5

// Tally counts rows with something in common, and lists the first few of them.
// Rows are numbered from 1, the first row after the header.
type Tally struct {
	Count   int
	Rows    []int
	Example string // the first offending value, where there is one
}

func (t *Tally) add(row int, example []byte) {
	if t.Count == 0 && example != nil {
		t.Example = string(example)
	}
	t.Count++
	if len(t.Rows) < TallyRows {
		t.Rows = append(t.Rows, row)
	}
}

// merge adds o, a tally of a block whose rows are counted from 0 and follow
// offset rows.
func (t *Tally) merge(o *Tally, offset int) {
	if o.Count == 0 {
		return
	}
	if t.Count == 0 {
		t.Example = o.Example
	}
	t.Count += o.Count
	for _, r := range o.Rows {
		if len(t.Rows) == TallyRows {
			break
		}
		t.Rows = append(t.Rows, r+offset+1)
	}
}

// Entry is a distinct value of a column.
type Entry struct {
	Value string
	Count int
	Rows  []int // the first few rows that hold it
}

// Column is what was kept of one column.
type Column struct {
	Spec
	// Floats holds a numeric column's values, NaN where a row has none.
	Floats []float64
	// Codes holds indexes into Dict, -1 where a row has no value. A bool column's
	// Dict is always ["false", "true"], so its codes are 0 and 1.
	Codes []int32
	Dict  []Entry
	// Hashes holds HashText or HashNumber of each row's value, 0 where a row has none.
	Hashes  []uint64
	Nulls   Tally // empty fields
	Invalid Tally // fields that are not a value of the column's type
	Failed  []Tally
}

// Table is what was read of a file.
type Table struct {
	Path   string
	Header []string
	Rows   int
	SHA256 string
	// Ragged counts the rows whose number of fields differs from the header's.
	// Their values count as missing, not as nulls.
	Ragged  Tally
	columns map[string]*Column
}

// Column returns the column, or nil if the file has no column of that name.
func (t *Table) Column(name string) *Column { return t.columns[name] }

var seed = maphash.MakeSeed()

// HashText is the hash that Hashes keeps of a string, or of a bool as "true" or
// "false". Equal values have equal hashes; unequal ones rarely do.
func HashText(b []byte) uint64 { return nonZero(maphash.Bytes(seed, b)) }

// HashNumber is the hash that Hashes keeps of a number.
func HashNumber(v float64) uint64 { return nonZero(maphash.Comparable(seed, v)) }

func nonZero(h uint64) uint64 { return max(h, 1) }

// ParseNumber parses a finite decimal number — optional sign, digits with an
// optional fraction, optional exponent — between optional spaces, correctly
// rounded. NaN, infinities, hexadecimal and digit separators are not numbers.
func ParseNumber(b []byte) (float64, bool) { return floats.Parse(b) }

// ParseInt parses a number that is a whole number ("3", "3.0", "3e2").
func ParseInt(b []byte) (float64, bool) {
	v, ok := ParseNumber(b)
	return v, ok && v == math.Trunc(v)
}

// ParseBool parses true or false in any case, or a number that is 1 or 0.
func ParseBool(b []byte) (value, ok bool) {
	if v, ok := boolName(b); ok {
		return v, true
	}
	b = trimSpace(b)
	if v, ok := boolName(b); ok {
		return v, true
	}
	// A flag written by a tool that holds it as a number: "1.0".
	v, ok := ParseNumber(b)
	return v == 1, ok && (v == 0 || v == 1)
}

// boolName parses 1, 0, true or false in any case, and nothing else.
func boolName(b []byte) (value, ok bool) {
	switch len(b) {
	case 1:
		return b[0] == '1', b[0] == '1' || b[0] == '0'
	case 4:
		return true, binary.LittleEndian.Uint32(b)|caseBits == trueWord
	case 5:
		return false, binary.LittleEndian.Uint32(b)|caseBits == falseWord && b[4]|0x20 == 'e'
	}
	return false, false
}

// Setting bit 5 of each byte makes a capital letter small and leaves a small
// one as it is; no byte but the two cases of a letter becomes that letter, so
// four bytes so set are "true" or "fals" only if they were in some case.
const (
	caseBits  = 0x20202020
	trueWord  = 't' | 'r'<<8 | 'u'<<16 | 'e'<<24
	falseWord = 'f' | 'a'<<8 | 'l'<<16 | 's'<<24
)

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

var boolText = [2][]byte{[]byte("false"), []byte("true")}

// part is what one block of rows contributes to a column. Row numbers in its
// tallies and dictionary are 0-based within the block.
type part struct {
	spec   *Spec
	floats []float64
	codes  []int32
	hashes []uint64
	index  map[string]int32
	dict   []Entry
	// slots finds the entries of a small dictionary of at most eight bytes by
	// their word and length: a multiply and a compare of numbers, where a
	// search entry by entry mispredicts a branch on most values.
	slots   [dictSlots]slot
	nulls   Tally
	invalid Tally
	failed  []Tally
	// verdicts caches the tests' verdicts on each dictionary entry, which a
	// category repeated on a million rows would otherwise take a million times.
	verdicts []verdict
}

// verdict is which tests a value fails, once known.
type verdict struct {
	known bool
	fails []int
}

func newPart(s *Spec, rows int) *part {
	p := &part{spec: s, failed: make([]Tally, len(s.Tests))}
	p.reset()
	if s.Keep&Values != 0 {
		if s.Type.Numeric() {
			p.floats = floatPool.get(rows)
		} else {
			p.codes = codePool.get(rows)
		}
	}
	if s.Keep&Hashes != 0 {
		p.hashes = hashPool.get(rows)
	}
	if s.Type == String && s.Keep&(Values|Distinct) != 0 {
		p.index = make(map[string]int32)
	}
	return p
}

// Pools of the slices of parts, reused from file to file: fresh memory costs a
// page fault per page on first use.
var (
	floatPool slicePool[float64]
	codePool  slicePool[int32]
	hashPool  slicePool[uint64]
)

// slicePool holds empty slices for reuse.
type slicePool[T any] struct{ pool sync.Pool }

// get returns an empty slice, with room for n elements if it is new; a slice
// from the pool may be smaller and grows as appended to.
func (p *slicePool[T]) get(n int) []T {
	if s, ok := p.pool.Get().([]T); ok {
		return s[:0]
	}
	return make([]T, 0, n)
}

func (p *slicePool[T]) put(s []T) {
	if s != nil {
		p.pool.Put(s[:0])
	}
}

// recycle gives the part's memory back to the pools.
func (p *part) recycle() {
	floatPool.put(p.floats)
	codePool.put(p.codes)
	hashPool.put(p.hashes)
}

// reset empties the part for another block, keeping its memory.
func (p *part) reset() {
	p.floats = p.floats[:0]
	p.codes = p.codes[:0]
	p.hashes = p.hashes[:0]
	clear(p.index)
	p.dict, p.verdicts = p.dict[:0], p.verdicts[:0]
	clear(p.slots[:])
	if p.spec.Type == Bool {
		p.enter("false")
		p.enter("true")
	}
	p.nulls, p.invalid = Tally{}, Tally{}
	clear(p.failed)
}

// reserve makes room for n more values, doubling what is kept so that a column
// read in many pages is copied about once, but never past most values.
func (p *part) reserve(n, most int) {
	p.floats = reserve(p.floats, n, most)
	p.codes = reserve(p.codes, n, most)
	p.hashes = reserve(p.hashes, n, most)
}

func reserve[T any](s []T, n, most int) []T {
	if s == nil || cap(s)-len(s) >= n {
		return s
	}
	return slices.Grow(s, min(max(2*cap(s), len(s)+n), most)-len(s))
}

// missing records that a row has no value: it is null, unparsable or ragged.
// The slices of what is kept are never nil.
func (p *part) missing() {
	if p.floats != nil {
		p.floats = append(p.floats, math.NaN())
	}
	if p.codes != nil {
		p.codes = append(p.codes, -1)
	}
	if p.hashes != nil {
		p.hashes = append(p.hashes, 0)
	}
}

// add records field as row r's value.
func (p *part) add(r int, field []byte) {
	switch p.spec.Type {
	case Float, Int:
		p.addNumberField(r, field)
	case Bool:
		p.addBoolField(r, field)
	default:
		p.addTextField(r, field)
	}
}

// addFields records field f of each record of a plain block as its value, a
// loop for each type so that the work is the same from one value to the next.
func (p *part) addFields(b *plainBlock, f int) {
	switch p.spec.Type {
	case Float, Int:
		for r, field := range b.column(f) {
			p.addNumberField(r, field)
		}
	case Bool:
		for r, field := range b.column(f) {
			p.addBoolField(r, field)
		}
	default:
		for r, field := range b.column(f) {
			p.addTextField(r, field)
		}
	}
}

func (p *part) addNumberField(r int, field []byte) {
	if len(field) == 0 {
		p.nulls.add(r, nil)
		p.missing()
		return
	}
	var v float64
	var ok bool
	if p.spec.Type == Int {
		v, ok = ParseInt(field)
	} else {
		v, ok = ParseNumber(field)
	}
	if !ok {
		p.invalid.add(r, field)
		p.missing()
		return
	}
	p.number(r, v)
}

func (p *part) addBoolField(r int, field []byte) {
	if len(field) == 0 {
		p.nulls.add(r, nil)
		p.missing()
		return
	}
	b, ok := ParseBool(field)
	if !ok {
		p.invalid.add(r, field)
		p.missing()
		return
	}
	code := int32(0)
	if b {
		code = 1
	}
	p.text(r, boolText[code], code)
}

func (p *part) addTextField(r int, field []byte) {
	if len(field) == 0 {
		p.nulls.add(r, nil)
		p.missing()
		return
	}
	code := int32(-1)
	if p.index != nil {
		code = p.lookup(field)
	}
	p.text(r, field, code)
}

// smallDict is the size up to which looking a value up in the dictionary beats
// hashing its bytes: sensitive attributes and categories are that small.
const smallDict = 8

// dictSlots is the size of a small dictionary's table of slots: eight times
// its entries, so that two seldom share a slot.
const dictSlots = 64

// slot is an entry of a small dictionary's table; length 0 is an empty slot, as
// no value is empty.
type slot struct {
	word   uint64
	length int32
	code   int32
}

// slotOf is where a value of n bytes whose word is w is looked for first.
func slotOf(w uint64, n int) int {
	return int((w ^ uint64(n)<<59) * 0x9e3779b97f4a7c15 >> 58)
}

// lookup returns the code of a string in the block's dictionary, adding it.
func (p *part) lookup(field []byte) int32 {
	switch n := len(field); {
	case len(p.dict) > smallDict:
		if code, ok := p.index[string(field)]; ok {
			return code
		}
	case n <= 8:
		w := word(field)
		for i := slotOf(w, n); ; i = (i + 1) % dictSlots {
			s := &p.slots[i]
			if s.length == int32(n) && s.word == w {
				return s.code
			}
			if s.length == 0 {
				break
			}
		}
	default:
		for i := range p.dict {
			if p.dict[i].Value == string(field) {
				return int32(i)
			}
		}
	}
	code := p.enter(string(field))
	p.index[p.dict[code].Value] = code
	return code
}

// enter adds an entry for value to the block's dictionary and returns its code.
func (p *part) enter(value string) int32 {
	code := int32(len(p.dict))
	p.dict = append(p.dict, Entry{Value: value})
	p.verdicts = append(p.verdicts, verdict{})
	if n := len(value); n <= 8 && len(p.dict) <= smallDict {
		w := word([]byte(value))
		i := slotOf(w, n)
		for p.slots[i].length != 0 {
			i = (i + 1) % dictSlots
		}
		p.slots[i] = slot{word: w, length: int32(n), code: code}
	}
	return code
}

// word packs a value of one to eight bytes into a number that tells it from
// every other value of its length: its first and last four bytes, which overlap
// below eight, or below four its first, middle and last.
func word(b []byte) uint64 {
	n := len(b)
	if n >= 4 {
		return uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<32
	}
	return uint64(b[0]) | uint64(b[n/2])<<8 | uint64(b[n-1])<<16
}

// number records a parsed number as row r's value.
func (p *part) number(r int, v float64) {
	if p.floats != nil {
		p.floats = append(p.floats, v)
	}
	if p.hashes != nil {
		p.hashes = append(p.hashes, HashNumber(v))
	}
	for i, t := range p.spec.Tests {
		if t.Number != nil && !t.Number(v) {
			p.failed[i].add(r, strconv.AppendFloat(nil, v, 'g', -1, 64))
		}
	}
}

// text records a string or bool as row r's value; code is its index in the
// block's dictionary, or -1 when none is kept.
func (p *part) text(r int, b []byte, code int32) {
	if p.codes != nil {
		p.codes = append(p.codes, code)
	}
	if p.hashes != nil {
		p.hashes = append(p.hashes, HashText(b))
	}
	if code < 0 {
		p.test(r, b, nil)
		return
	}
	e := &p.dict[code]
	e.Count++
	if len(e.Rows) < TallyRows {
		e.Rows = append(e.Rows, r)
	}
	if v := &p.verdicts[code]; !v.known || len(v.fails) > 0 {
		p.test(r, b, v)
	}
}

// test runs the tests on row r's text, or takes the verdict on its dictionary
// entry where there is one, and counts what fails.
func (p *part) test(r int, b []byte, v *verdict) {
	if v == nil {
		for i, t := range p.spec.Tests {
			if t.Text != nil && !t.Text(b) {
				p.failed[i].add(r, b)
			}
		}
		return
	}
	if !v.known {
		v.known = true
		for i, t := range p.spec.Tests {
			if t.Text != nil && !t.Text(b) {
				v.fails = append(v.fails, i)
			}
		}
	}
	for _, i := range v.fails {
		p.failed[i].add(r, b)
	}
}

// column gathers the parts of a column in file order.
type column struct {
	Column
	index map[string]int32
	remap []int32
}

func newColumn(s Spec, estimate int) *column {
	c := &column{Column: Column{Spec: s, Failed: make([]Tally, len(s.Tests))}}
	if s.Keep&Values != 0 {
		if s.Type.Numeric() {
			c.Floats = make([]float64, 0, estimate)
		} else {
			c.Codes = make([]int32, 0, estimate)
		}
	}
	if s.Keep&Hashes != 0 {
		c.Hashes = make([]uint64, 0, estimate)
	}
	if s.Type == Bool {
		c.Dict = []Entry{{Value: "false"}, {Value: "true"}}
	}
	c.index = make(map[string]int32)
	return c
}

// merge appends a block's part; the block follows offset rows.
func (c *column) merge(p *part, offset int) {
	c.Floats = append(c.Floats, p.floats...)
	c.Hashes = append(c.Hashes, p.hashes...)
	c.Nulls.merge(&p.nulls, offset)
	c.Invalid.merge(&p.invalid, offset)
	for i := range c.Failed {
		c.Failed[i].merge(&p.failed[i], offset)
	}
	c.remap = c.remap[:0]
	for i, e := range p.dict {
		code := int32(i)
		if c.Type != Bool {
			var ok bool
			if code, ok = c.index[e.Value]; !ok {
				code = int32(len(c.Dict))
				c.index[e.Value] = code
				c.Dict = append(c.Dict, Entry{Value: e.Value})
			}
		}
		c.remap = append(c.remap, code)
		g := &c.Dict[code]
		g.Count += e.Count
		for _, r := range e.Rows {
			if len(g.Rows) == TallyRows {
				break
			}
			g.Rows = append(g.Rows, r+offset+1)
		}
	}
	if identity(c.remap) {
		// A bool column's codes, and a dictionary that met its values in the
		// order the file did so far: copied as they are.
		c.Codes = append(c.Codes, p.codes...)
		return
	}
	for _, code := range p.codes {
		if code >= 0 {
			code = c.remap[code]
		}
		c.Codes = append(c.Codes, code)
	}
}

// identity reports whether remap maps every code to itself.
func identity(remap []int32) bool {
	for i, code := range remap {
		if code != int32(i) {
			return false
		}
	}
	return true
}

// Describe is a value quoted for a message, cut if it is long.
func Describe(v string) string {
	const limit = 40
	if len(v) > limit {
		return strconv.Quote(strings.ToValidUTF8(v[:limit], "")) + "…"
	}
	return strconv.Quote(v)
}

// Replace puts c in the place of the column of the same name.
func (t *Table) Replace(c *Column) {
	if c != nil {
		t.columns[c.Name] = c
	}
}
