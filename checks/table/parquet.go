package table

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// readParquet reads the columns of a Parquet file, each by its own goroutine.
// Values are converted to the column's type as CSV fields are: a number read as
// a string is its shortest decimal form, a string read as a number is parsed.
// The footer's counts are claims: they are checked against limits before any
// value is read, and memory grows with the values actually read.
func readParquet(ctx context.Context, path string, r io.Reader, size int64, specs []Spec, limits Limits) (*Table, error) {
	var t *Table
	err := safely(func() (err error) {
		t, err = parquetTable(ctx, path, r, size, specs, limits)
		return err
	})
	var limit *LimitError
	if errors.As(err, &limit) {
		return nil, err // it names the file
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return t, nil
}

// safely runs f, turning a panic into an error: the decoder is third-party code
// fed with untrusted files, and a bug in it must reject the file, not bring the
// process down.
func safely(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the Parquet decoder failed on this file: %v", p)
		}
	}()
	return f()
}

func parquetTable(ctx context.Context, path string, r io.Reader, size int64, specs []Spec, limits Limits) (*Table, error) {
	ra, ok := r.(io.ReaderAt)
	if !ok {
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		ra, size = bytes.NewReader(data), int64(len(data))
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, io.NewSectionReader(ra, 0, size)); err != nil {
		return nil, err
	}
	if err := checkFooter(ra, size); err != nil {
		return nil, err
	}
	f, err := parquet.OpenFile(ra, size)
	if err != nil {
		return nil, fmt.Errorf("not a Parquet file: %w", err)
	}
	if n := f.NumRows(); n < 0 || n > int64(limits.Rows) {
		if n < 0 {
			return nil, fmt.Errorf("the footer claims %d rows", n)
		}
		return nil, &LimitError{Path: path, What: "rows", Limit: limits.Rows}
	}
	if len(f.Schema().Columns()) > limits.Columns {
		return nil, &LimitError{Path: path, What: "columns", Limit: limits.Columns}
	}
	t := &Table{Path: path, Rows: int(f.NumRows()), SHA256: hex.EncodeToString(sum.Sum(nil)), columns: make(map[string]*Column)}
	for _, p := range f.Schema().Columns() {
		t.Header = append(t.Header, strings.Join(p, "."))
	}
	leaves := make([]int, len(specs))
	for i, s := range specs {
		leaf, ok := f.Schema().Lookup(s.Name)
		switch {
		case !ok:
			leaves[i] = -1
		case leaf.MaxRepetitionLevel > 0:
			return nil, fmt.Errorf("column %q holds lists; checks read flat columns", s.Name)
		default:
			leaves[i] = leaf.ColumnIndex
		}
	}
	for i, s := range specs {
		if leaves[i] >= 0 {
			if err := checkPages(ra, size, f.Metadata(), leaves[i], f.NumRows()); err != nil {
				return nil, fmt.Errorf("column %q: %w", s.Name, err)
			}
		}
	}
	cols := make([]*Column, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i := range specs {
		if leaves[i] < 0 {
			continue
		}
		wg.Go(func() {
			errs[i] = safely(func() (err error) {
				cols[i], err = readParquetColumn(ctx, f, &specs[i], leaves[i], t.Rows)
				return err
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", specs[i].Name, err)
		}
		if cols[i] != nil {
			t.columns[cols[i].Name] = cols[i]
		}
	}
	return t, nil
}

// checkFooter checks the footer's metadata with checkThrift before the decoder
// reads it.
func checkFooter(ra io.ReaderAt, size int64) error {
	var tail [8]byte
	if size < 12 {
		return fmt.Errorf("not a Parquet file: %d bytes", size)
	}
	if _, err := ra.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if string(tail[4:]) != "PAR1" || n > size-12 {
		return errors.New("not a Parquet file: no footer")
	}
	footer := make([]byte, n)
	if _, err := ra.ReadAt(footer, size-8-n); err != nil {
		return err
	}
	if _, err := checkThrift(footer); err != nil {
		return fmt.Errorf("the footer: %w", err)
	}
	return nil
}

// maxPageBytes is the most a page may hold uncompressed. Writers cut pages at
// about a megabyte; the decoder allocates what a page header claims.
const maxPageBytes = 64 << 20

// checkPages reads the page headers of a column's chunks before the decoder
// does: it sizes its buffers from them, and a header can claim gigabytes in a
// file of kilobytes. Each page must lie within its chunk, within the file, hold
// at most maxPageBytes, and the pages no more values than the rows the footer
// claims, which the limits bound.
func checkPages(ra io.ReaderAt, size int64, md *format.FileMetaData, leaf int, rows int64) error {
	values := int64(0)
	for g, rg := range md.RowGroups {
		if leaf >= len(rg.Columns) {
			return fmt.Errorf("row group %d has no column %d", g, leaf)
		}
		cm := &rg.Columns[leaf].MetaData
		start := cm.DataPageOffset
		if cm.DictionaryPageOffset > 0 && cm.DictionaryPageOffset < start {
			start = cm.DictionaryPageOffset
		}
		if start < 4 || cm.TotalCompressedSize < 0 || cm.TotalCompressedSize > size-8-start {
			return fmt.Errorf("row group %d: the column chunk at %d, of %d bytes, is not within the file", g, start, cm.TotalCompressedSize)
		}
		chunk := make([]byte, cm.TotalCompressedSize)
		if _, err := ra.ReadAt(chunk, start); err != nil {
			return err
		}
		for off := 0; off < len(chunk); {
			n, err := checkThrift(chunk[off:])
			if err != nil {
				return fmt.Errorf("row group %d: page header at %d: %w", g, start+int64(off), err)
			}
			var h format.PageHeader
			if err := thrift.Unmarshal(new(thrift.CompactProtocol), chunk[off:off+n], &h); err != nil {
				return fmt.Errorf("row group %d: page header at %d: %w", g, start+int64(off), err)
			}
			off += n
			switch {
			case h.CompressedPageSize < 0 || int(h.CompressedPageSize) > len(chunk)-off:
				return fmt.Errorf("row group %d: a page claims %d bytes, more than its column chunk holds", g, h.CompressedPageSize)
			case h.UncompressedPageSize < 0 || h.UncompressedPageSize > maxPageBytes:
				return fmt.Errorf("row group %d: a page claims %d bytes uncompressed, over the %d a page may hold", g, h.UncompressedPageSize, maxPageBytes)
			}
			off += int(h.CompressedPageSize)
			var count int64
			switch {
			case h.DataPageHeader.Valid:
				count = int64(h.DataPageHeader.V.NumValues)
			case h.DataPageHeaderV2.Valid:
				count = int64(h.DataPageHeaderV2.V.NumValues)
			case h.DictionaryPageHeader.Valid && (h.DictionaryPageHeader.V.NumValues < 0 || int64(h.DictionaryPageHeader.V.NumValues) > rows):
				return fmt.Errorf("row group %d: a dictionary of %d values for %d rows", g, h.DictionaryPageHeader.V.NumValues, rows)
			}
			if values += count; count < 0 || values > rows {
				return fmt.Errorf("row group %d: pages of more values than the %d rows the footer claims", g, rows)
			}
		}
	}
	return nil
}

// readParquetColumn reads one leaf column, row group by row group, into memory
// that grows as values are read: rows, from the footer, is only what the column
// must hold in the end.
func readParquetColumn(ctx context.Context, f *parquet.File, s *Spec, leaf, rows int) (*Column, error) {
	buf := make([]parquet.Value, 4096)
	p := newPart(s, min(rows, len(buf)))
	var text []byte
	row := 0
	for _, rg := range f.RowGroups() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pages := rg.ColumnChunks()[leaf].Pages()
		for {
			page, err := pages.ReadPage()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				pages.Close()
				return nil, err
			}
			if page.NumValues() > int64(rows-row) {
				parquet.Release(page)
				pages.Close()
				return nil, fmt.Errorf("more values than the %d rows the footer claims", rows)
			}
			p.reserve(int(page.NumValues()), rows)
			if n, ok := p.addPlainNumbers(row, page, text); ok {
				row += n
				parquet.Release(page)
				continue
			}
			if n, ok, err := p.addIndexedText(row, page); ok || err != nil {
				parquet.Release(page)
				if err != nil {
					pages.Close()
					return nil, err
				}
				row += n
				continue
			}
			values := page.Values()
			for {
				n, err := values.ReadValues(buf)
				if row+n > rows {
					parquet.Release(page)
					pages.Close()
					return nil, fmt.Errorf("more values than the %d rows the footer claims", rows)
				}
				for _, v := range buf[:n] {
					text = p.addValue(row, v, text)
					row++
				}
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					parquet.Release(page)
					pages.Close()
					return nil, err
				}
			}
			parquet.Release(page)
		}
		pages.Close()
	}
	if row != rows {
		return nil, fmt.Errorf("%d values for %d rows", row, rows)
	}
	c := newColumn(*s, rows)
	c.merge(p, 0)
	return &c.Column, nil
}

// addValue records a Parquet value as row r's. text is scratch space, returned
// for reuse.
func (p *part) addValue(r int, v parquet.Value, text []byte) []byte {
	if v.IsNull() {
		p.nulls.add(r, nil)
		p.missing()
		return text
	}
	var num float64
	switch v.Kind() {
	case parquet.Int32:
		num = float64(v.Int32())
	case parquet.Int64:
		num = float64(v.Int64())
	case parquet.Float:
		num = float64(v.Float())
	case parquet.Double:
		num = v.Double()
	case parquet.Boolean:
		if p.spec.Type == Bool {
			code := int32(0)
			if v.Boolean() {
				code = 1
			}
			p.text(r, boolText[code], code)
			return text
		}
		text = strconv.AppendBool(text[:0], v.Boolean())
		p.add(r, text)
		return text
	default:
		p.add(r, v.ByteArray())
		return text
	}
	return p.addNumber(r, num, text)
}

// addPlainNumbers records the values of a page of numbers without nulls or a
// dictionary, as most pages of numbers are, from the page's own array rather
// than value by value. It reports false, having done nothing, for any other page.
func (p *part) addPlainNumbers(r int, page parquet.Page, text []byte) (int, bool) {
	if page.NumNulls() != 0 || page.Dictionary() != nil {
		return 0, false
	}
	data := page.Data()
	switch page.Type().Kind() {
	case parquet.Double:
		values := data.Double()
		for i, v := range values {
			text = p.addNumber(r+i, v, text)
		}
		return len(values), true
	case parquet.Int64:
		values := data.Int64()
		for i, v := range values {
			text = p.addNumber(r+i, float64(v), text)
		}
		return len(values), true
	case parquet.Int32:
		values := data.Int32()
		for i, v := range values {
			text = p.addNumber(r+i, float64(v), text)
		}
		return len(values), true
	}
	return 0, false
}

// addIndexedText records the values of a dictionary-encoded page of strings
// without nulls, as a column of categories mostly is, from the dictionary and
// the page's indexes into it rather than value by value. It reports false,
// having done nothing, for any other page.
func (p *part) addIndexedText(r int, page parquet.Page) (int, bool, error) {
	dict := page.Dictionary()
	if dict == nil || page.NumNulls() != 0 || dict.Type().Kind() != parquet.ByteArray {
		return 0, false, nil
	}
	values := make([][]byte, dict.Len())
	for i := range values {
		values[i] = dict.Index(int32(i)).ByteArray()
	}
	data := page.Data()
	indexes := data.Int32()
	for i, index := range indexes {
		if index < 0 || int(index) >= len(values) {
			return 0, false, fmt.Errorf("row %d: index %d into a dictionary of %d values", r+i+1, index, len(values))
		}
		p.add(r+i, values[index])
	}
	return len(indexes), true, nil
}

// addNumber records a number read from a Parquet file as row r's. text is
// scratch space, returned for reuse.
func (p *part) addNumber(r int, num float64, text []byte) []byte {
	if math.IsNaN(num) || math.IsInf(num, 0) {
		p.invalid.add(r, strconv.AppendFloat(text[:0], num, 'g', -1, 64))
		p.missing()
		return text
	}
	switch {
	case p.spec.Type == Float || p.spec.Type == Int && num == math.Trunc(num):
		p.number(r, num+0)
		return text
	case p.spec.Type == Bool && (num == 0 || num == 1):
		// What ParseBool makes of the number's text, without writing it: a
		// label or a prediction stored as 0 and 1.
		code := int32(num)
		p.text(r, boolText[code], code)
		return text
	}
	text = strconv.AppendFloat(text[:0], num, 'g', -1, 64)
	p.add(r, text)
	return text
}
