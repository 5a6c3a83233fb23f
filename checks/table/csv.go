package table

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/bits"
	"runtime"
	"slices"
	"strconv"
	"sync"
)

const (
	// blockSize is how much of a file one worker parses at a time: large enough
	// that handing blocks around costs nothing, small enough to share the work.
	blockSize = 1 << 20
	// maxRecord bounds one record, so that a quote that is never closed is an
	// error rather than the whole file in memory.
	maxRecord = 64 << 20
)

// SyntaxError is a CSV record that breaks RFC 4180.
type SyntaxError struct {
	Path string
	Row  int // 1 is the first row after the header; 0 is the header or unknown
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Row == 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: row %d: %s", e.Path, e.Line, e.Row, e.Msg)
}

// recordParser splits CSV records. The fields it returns are views of the data,
// or of its scratch buffer for quoted fields with escaped quotes; they are valid
// until the next call.
type recordParser struct {
	fields  [][]byte
	scratch []byte
	// block splits whole blocks of plain records, before records are parsed
	// one at a time.
	block plainBlock
}

// recordError is a syntax error, newlines after the start of its record.
type recordError struct {
	newlines int
	msg      string
}

func (e *recordError) Error() string { return e.msg }

var (
	special = [256]bool{',': true, '\n': true, '"': true}
	newline = []byte{'\n'}
)

// parse parses the record at data[pos:], which ends at a newline or at the end of
// data, and returns where the next record starts and how many newlines it read.
// A blank line is a record without fields.
func (p *recordParser) parse(data []byte, pos int) (next, newlines int, err error) {
	p.fields = p.fields[:0]
	p.scratch = p.scratch[:0]
	if end, ok := lineEnd(data, pos); ok {
		return end, 1, nil
	}
	if next, newlines, ok := p.plain(data, pos); ok {
		return next, newlines, nil
	}
	return p.general(data, pos)
}

// general parses any record, quoted fields and all, one byte at a time.
func (p *recordParser) general(data []byte, pos int) (next, newlines int, err error) {
	p.fields = p.fields[:0]
	n := len(data)
	newlines = 0
	i := pos
	for {
		if i < n && data[i] == '"' {
			field, end, lines, err := p.quoted(data, i+1)
			newlines += lines
			if err != nil {
				return 0, 0, &recordError{newlines, err.Error()}
			}
			p.fields = append(p.fields, field)
			i = end
			if i == n {
				return n, newlines, nil
			}
			if data[i] == ',' {
				i++
				continue
			}
			if end, ok := lineEnd(data, i); ok {
				return end, newlines + 1, nil
			}
			return 0, 0, &recordError{newlines, fmt.Sprintf("field %d: %q after a closing quote (a quote inside a quoted field is written twice)", len(p.fields), data[i])}
		}
		start := i
		for i < n && !special[data[i]] {
			i++
		}
		if i < n && data[i] == '"' {
			return 0, 0, &recordError{newlines, fmt.Sprintf("field %d: a quote in a field that is not quoted (quote the field and write the quote twice)", len(p.fields)+1)}
		}
		end := i
		if (i == n || data[i] == '\n') && end > start && data[end-1] == '\r' {
			end--
		}
		p.fields = append(p.fields, data[start:end])
		switch {
		case i == n:
			return n, newlines, nil
		case data[i] == '\n':
			return i + 1, newlines + 1, nil
		}
		i++ // a comma
	}
}

// plain parses a record without quotes, as most are, in one pass over its
// bytes eight at a time. It reports false at a quote, having done nothing that
// general must undo.
func (p *recordParser) plain(data []byte, pos int) (next, newlines int, ok bool) {
	start, n := pos, len(data)
	for i := pos; i < n; i += 8 {
		var w uint64
		if i+8 <= n {
			w = binary.LittleEndian.Uint64(data[i:])
		} else {
			// The last bytes, padded with zeros, which are none of the three.
			var tail [8]byte
			copy(tail[:], data[i:])
			w = binary.LittleEndian.Uint64(tail[:])
		}
		for m := specials(w); m != 0; m &= m - 1 {
			j := i + bits.TrailingZeros64(m)>>3
			switch data[j] {
			case ',':
				p.fields = append(p.fields, data[start:j])
				start = j + 1
			case '\n':
				p.fields = append(p.fields, trimCR(data[start:j]))
				return j + 1, 1, true
			default:
				p.fields = p.fields[:0]
				return 0, 0, false
			}
		}
	}
	p.fields = append(p.fields, trimCR(data[start:]))
	return n, 0, true
}

// trimCR removes the carriage return of a line's last field.
func trimCR(f []byte) []byte {
	if len(f) > 0 && f[len(f)-1] == '\r' {
		return f[:len(f)-1]
	}
	return f
}

// specials sets the top bit of each byte of w that is a comma, a newline or a
// quote, and no other bit.
func specials(w uint64) uint64 {
	return zeroBytes(w^0x2c2c2c2c2c2c2c2c) | zeroBytes(w^0x0a0a0a0a0a0a0a0a) | zeroBytes(w^0x2222222222222222)
}

// zeroBytes sets the top bit of each zero byte of x, and no other bit: exact,
// unlike the usual test, which may also flag a byte after a zero one.
func zeroBytes(x uint64) uint64 {
	const low7 = 0x7f7f7f7f7f7f7f7f
	return ^((x&low7 + low7) | x | low7)
}

// lineEnd reports whether data[i:] starts with a line ending, and where it ends.
func lineEnd(data []byte, i int) (int, bool) {
	switch {
	case data[i] == '\n':
		return i + 1, true
	case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
		return i + 2, true
	case data[i] == '\r' && i+1 == len(data):
		return i + 1, true
	}
	return 0, false
}

// quoted parses a quoted field whose content starts at data[i]. It returns the
// field, the position after its closing quote, and the newlines in it.
func (p *recordParser) quoted(data []byte, i int) (field []byte, end, newlines int, err error) {
	start, from := i, len(p.scratch)
	escaped := false
	for {
		j := bytes.IndexByte(data[i:], '"')
		if j < 0 {
			return nil, 0, newlines, errors.New("a quoted field is not closed")
		}
		q := i + j
		newlines += bytes.Count(data[i:q], newline)
		if q+1 < len(data) && data[q+1] == '"' {
			p.scratch = append(p.scratch, data[start:q+1]...)
			escaped = true
			i, start = q+2, q+2
			continue
		}
		if !escaped {
			return data[start:q], q + 1, newlines, nil
		}
		p.scratch = append(p.scratch, data[start:q]...)
		return p.scratch[from:], q + 1, newlines, nil
	}
}

// lastBoundary returns the end of the last complete record in data, which starts
// at a record boundary, or 0 if there is none.
func lastBoundary(data []byte) int {
	if bytes.IndexByte(data, '"') < 0 {
		return bytes.LastIndexByte(data, '\n') + 1
	}
	// A newline ends a record unless it is inside quotes; an escaped quote toggles
	// twice, so parity tells. Input that breaks this is rejected by the parser.
	last, inQuotes := 0, false
	for i, c := range data {
		switch c {
		case '"':
			inQuotes = !inQuotes
		case '\n':
			if !inQuotes {
				last = i + 1
			}
		}
	}
	return last
}

// block is a run of whole records.
type block struct {
	index int
	data  []byte
}

// blockResult is what parsing a block found. Rows in it count from 0, and the
// lines of its error from the block's first.
type blockResult struct {
	index  int
	bytes  int
	rows   int
	lines  int // newlines in the block
	parts  []*part
	ragged Tally
	err    *SyntaxError
}

// csvReader reads one CSV file.
type csvReader struct {
	path      string
	specs     []Spec
	header    []string
	specField []int // for each spec, the index of its field, or -1
	firstLine int   // line number of the first row after the header
	hash      hash.Hash
	size      int64
	limits    Limits
	// spare holds the parts of merged blocks for reuse: allocating them anew for
	// every block costs more than parsing it.
	spare chan []*part
}

// readCSV reads a CSV file: the header, then blocks of records parsed
// concurrently, one worker per core, and merged in file order.
func readCSV(ctx context.Context, path string, r io.Reader, size int64, specs []Spec, limits Limits) (*Table, error) {
	c := &csvReader{path: path, specs: specs, hash: sha256.New(), size: size, limits: limits}
	rest, err := c.readHeader(r)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	workers := runtime.GOMAXPROCS(0)
	free := make(chan []byte, 2*workers)
	for range cap(free) {
		free <- c.buffer()
	}
	defer func() {
		for len(free) > 0 {
			if b := <-free; cap(b) == blockSize {
				buffers.Put(b)
			}
		}
	}()
	blocks := make(chan block, workers)
	results := make(chan *blockResult, workers)
	c.spare = make(chan []*part, 4*workers)
	defer c.recycle()

	var splitErr error
	var split, parsers sync.WaitGroup
	split.Go(func() {
		defer close(blocks)
		splitErr = c.split(ctx, r, rest, free, blocks)
	})
	for range workers {
		parsers.Go(func() {
			var rp recordParser
			for b := range blocks {
				res := c.parseBlock(&rp, b)
				select {
				case free <- b.data[:0]:
				default:
				}
				select {
				case results <- res:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() {
		parsers.Wait()
		close(results)
	}()

	t, lines, err := c.merge(ctx, results)
	cancel()
	for range results {
		// Drained so that every worker ends.
	}
	split.Wait()
	switch {
	case err != nil:
		return nil, err
	case splitErr != nil:
		// Its line counts from the end of the blocks that were merged.
		if se := (*SyntaxError)(nil); errors.As(splitErr, &se) {
			se.Line += c.firstLine + lines
		}
		return nil, splitErr
	}
	t.SHA256 = hex.EncodeToString(c.hash.Sum(nil))
	return t, nil
}

// buffers holds block buffers for reuse: fresh memory costs a page fault per
// page on first use, more than parsing what is read into it.
var buffers sync.Pool

// buffer returns an empty block buffer: of blockSize, or less for a small file.
func (c *csvReader) buffer() []byte {
	if c.size > 0 && c.size < blockSize {
		return make([]byte, 0, c.size+1)
	}
	if b, ok := buffers.Get().([]byte); ok {
		return b[:0]
	}
	return make([]byte, 0, blockSize)
}

// recycle gives the memory of the parts kept for reuse back to the pools.
func (c *csvReader) recycle() {
	for len(c.spare) > 0 {
		for _, p := range <-c.spare {
			if p != nil {
				p.recycle()
			}
		}
	}
}

// readHeader reads the header record. It returns what was read after it.
func (c *csvReader) readHeader(r io.Reader) ([]byte, error) {
	buf := c.buffer()
	defer func() {
		if cap(buf) == blockSize {
			buffers.Put(buf)
		}
	}()
	for {
		eof, err := c.fill(r, &buf)
		if err != nil {
			return nil, err
		}
		data := bytes.TrimPrefix(buf, []byte("\xef\xbb\xbf"))
		line := 1
		// Blank lines before the header are skipped, as they are everywhere else.
		for len(data) > 0 {
			end, ok := lineEnd(data, 0)
			if !ok {
				break
			}
			data = data[end:]
			line++
		}
		end := lastBoundary(data)
		if end == 0 && !eof {
			if len(buf) >= maxRecord {
				return nil, &SyntaxError{Path: c.path, Line: line, Msg: "header: longer than 64 MiB (is a quote not closed?)"}
			}
			buf = slices.Grow(buf, len(buf))
			continue
		}
		if len(data) == 0 {
			return nil, fmt.Errorf("%s: the file is empty; a CSV file starts with a header row", c.path)
		}
		if end == 0 {
			end = len(data)
		}
		var rp recordParser
		next, newlines, err := rp.parse(data[:end], 0)
		if err != nil {
			var re *recordError
			errors.As(err, &re)
			return nil, &SyntaxError{Path: c.path, Line: line + re.newlines, Msg: "header: " + re.msg}
		}
		if len(rp.fields) > c.limits.Columns {
			return nil, &LimitError{Path: c.path, What: "columns", Limit: c.limits.Columns}
		}
		c.header = make([]string, len(rp.fields))
		for i, f := range rp.fields {
			c.header[i] = string(f)
		}
		c.specField = make([]int, len(c.specs))
		for i, s := range c.specs {
			if c.specField[i], err = fieldIndex(c.path, c.header, s.Name); err != nil {
				return nil, err
			}
		}
		c.firstLine = line + newlines
		return bytes.Clone(data[next:]), nil
	}
}

// fill reads into buf until it is full or the file ends, hashing what it reads.
func (c *csvReader) fill(r io.Reader, buf *[]byte) (eof bool, err error) {
	b := *buf
	for len(b) < cap(b) {
		n, err := r.Read(b[len(b):cap(b)])
		c.hash.Write(b[len(b) : len(b)+n])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			*buf = b
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("read %s: %w", c.path, err)
		}
	}
	*buf = b
	return false, nil
}

// split cuts the file into blocks of whole records. rest is what was read
// after the header. The line of its syntax error counts from the end of the
// blocks it sent: lines are counted as blocks are parsed.
func (c *csvReader) split(ctx context.Context, r io.Reader, rest []byte, free <-chan []byte, blocks chan<- block) error {
	index := 0
	carry := rest
	for eof := false; !eof; {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		buf = append(buf[:0], carry...)
		end := 0
		for {
			var err error
			if eof, err = c.fill(r, &buf); err != nil {
				return err
			}
			if eof {
				end = len(buf)
				break
			}
			if end = lastBoundary(buf); end > 0 {
				break
			}
			if len(buf) >= maxRecord {
				return &SyntaxError{Path: c.path, Msg: "a row longer than 64 MiB (is a quote not closed?)"}
			}
			buf = slices.Grow(buf, len(buf))
		}
		carry = append(carry[:0:0], buf[end:]...)
		if end == 0 {
			continue
		}
		select {
		case blocks <- block{index: index, data: buf[:end]}:
		case <-ctx.Done():
			return ctx.Err()
		}
		index++
	}
	return nil
}

// parseBlock parses the records of a block into parts of the columns.
func (c *csvReader) parseBlock(rp *recordParser, b block) *blockResult {
	res := &blockResult{index: b.index, bytes: len(b.data)}
	select {
	case res.parts = <-c.spare:
		for _, p := range res.parts {
			if p != nil {
				p.reset()
			}
		}
	default:
		rows := bytes.Count(b.data, newline) + 1
		res.parts = make([]*part, len(c.specs))
		for i := range c.specs {
			if c.specField[i] >= 0 {
				res.parts[i] = newPart(&c.specs[i], rows)
			}
		}
	}
	if rp.block.split(b.data, len(c.header)) {
		res.rows, res.lines = rp.block.rows, rp.block.newlines
		for i, f := range c.specField {
			if f >= 0 {
				res.parts[i].addFields(&rp.block, f)
			}
		}
		return res
	}
	data, pos, line := b.data, 0, 0
	for pos < len(data) {
		next, newlines, err := rp.parse(data, pos)
		if err != nil {
			var re *recordError
			errors.As(err, &re)
			res.err = &SyntaxError{Path: c.path, Row: res.rows, Line: line + re.newlines, Msg: re.msg}
			return res
		}
		pos = next
		line += newlines
		if len(rp.fields) == 0 {
			continue
		}
		if len(rp.fields) != len(c.header) {
			res.ragged.add(res.rows, strconv.AppendInt(nil, int64(len(rp.fields)), 10))
			for _, p := range res.parts {
				if p != nil {
					p.missing()
				}
			}
		} else {
			for i, f := range c.specField {
				if f >= 0 {
					res.parts[i].add(res.rows, rp.fields[f])
				}
			}
		}
		res.rows++
	}
	res.lines = line
	return res
}

// merge gathers block results in file order into a table, and counts the
// lines of the blocks it merged.
func (c *csvReader) merge(ctx context.Context, results <-chan *blockResult) (t *Table, lines int, err error) {
	var cols []*column
	t = &Table{Path: c.path, Header: c.header}
	pending := make(map[int]*blockResult)
	next := 0
	for res := range results {
		pending[res.index] = res
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if r.err != nil {
				r.err.Row += t.Rows + 1
				r.err.Line += c.firstLine + lines
				return nil, 0, r.err
			}
			if t.Rows+r.rows > c.limits.Rows {
				return nil, 0, &LimitError{Path: c.path, What: "rows", Limit: c.limits.Rows}
			}
			if cols == nil {
				cols = c.columns(r)
			}
			for i, p := range r.parts {
				if p != nil {
					cols[i].merge(p, t.Rows)
				}
			}
			t.Ragged.merge(&r.ragged, t.Rows)
			t.Rows += r.rows
			lines += r.lines
			select {
			case c.spare <- r.parts:
			default:
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
	}
	if cols == nil {
		cols = c.columns(&blockResult{})
	}
	t.columns = make(map[string]*Column)
	for i, col := range cols {
		if c.specField[i] >= 0 {
			t.columns[col.Name] = &col.Column
		}
	}
	return t, lines, nil
}

// columns starts the columns, sized by what the first block says of the rows in
// the file.
func (c *csvReader) columns(first *blockResult) []*column {
	estimate := 0
	if first.bytes > 0 && c.size > 0 {
		estimate = int(float64(c.size)/float64(first.bytes)*float64(first.rows)*1.05) + 16
	}
	cols := make([]*column, len(c.specs))
	for i, s := range c.specs {
		cols[i] = newColumn(s, estimate)
	}
	return cols
}

// fieldIndex returns the index of a column in the header, or -1.
func fieldIndex(path string, header []string, name string) (int, error) {
	i := slices.Index(header, name)
	if i >= 0 && slices.Contains(header[i+1:], name) {
		return 0, fmt.Errorf("%s: column %q appears more than once in the header", path, name)
	}
	return i, nil
}
