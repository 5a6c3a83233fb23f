package table

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"
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
	if math.IsNaN(num) || math.IsInf(num, 0) {
		p.invalid.add(r, strconv.AppendFloat(text[:0], num, 'g', -1, 64))
		p.missing()
		return text
	}
	if p.spec.Type == Float || p.spec.Type == Int && num == math.Trunc(num) {
		p.number(r, num+0)
		return text
	}
	text = strconv.AppendFloat(text[:0], num, 'g', -1, 64)
	p.add(r, text)
	return text
}
