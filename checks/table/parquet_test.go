package table

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// generous limits read any file a test writes.
var generous = Limits{Rows: 1 << 40, Columns: 1 << 20}

// claimRows rewrites a Parquet file's footer to claim n rows, in the file and in
// each row group, as an attacker would.
func claimRows(t testing.TB, data []byte, n int64) []byte {
	t.Helper()
	size := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	start := len(data) - 8 - size
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), data[start:len(data)-8], &md); err != nil {
		t.Fatal(err)
	}
	md.NumRows = n
	for i := range md.RowGroups {
		md.RowGroups[i].NumRows = n
	}
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), &md)
	if err != nil {
		t.Fatal(err)
	}
	out := append(bytes.Clone(data[:start]), footer...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
	return append(out, "PAR1"...)
}

// counts are rows of distinct counts, about 8 bytes each in the file.
func counts(n int) []parquetRow {
	rows := make([]parquetRow, n)
	for i := range rows {
		rows[i].Count = int64(i) * 7919
	}
	return rows
}

// TestParquetFooterClaimsTooManyRows: a 48 KB file whose footer claims 10^11
// rows is refused with the limit it breaks; it used to size the column from the
// claim and abort the process, out of memory.
func TestParquetFooterClaimsTooManyRows(t *testing.T) {
	data := claimRows(t, parquetFile(t, counts(6000)), 1e11)
	if len(data) < 40<<10 || len(data) > 56<<10 {
		t.Fatalf("the file is %d bytes, want about 48 KB", len(data))
	}
	fsys := fstest.MapFS{"current.parquet": {Data: data}}
	_, err := Read(context.Background(), fsys, "current.parquet", []Spec{{Name: "count", Type: Float, Keep: Values}}, Limits{Rows: 1e8, Columns: 1e4})
	var le *LimitError
	if !errors.As(err, &le) || le.What != "rows" {
		t.Fatalf("error %v, want the rows limit", err)
	}
	want := "current.parquet: more than 100000000 rows, the limit; raise limits.rows in .modelgate/config.yaml"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to say %q", err, want)
	}
}

// TestParquetFooterClaimWithinLimits: a claim the limits allow but the file does
// not hold is an error, and memory follows the values read, not the claim.
func TestParquetFooterClaimWithinLimits(t *testing.T) {
	data := claimRows(t, parquetFile(t, counts(6000)), 1<<30)
	fsys := fstest.MapFS{"current.parquet": {Data: data}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Read(context.Background(), fsys, "current.parquet", []Spec{{Name: "count", Type: Float, Keep: Values}}, generous)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "current.parquet") {
		t.Fatalf("error %v, want one naming the file", err)
	}
	// A column sized from the claim is 8 GiB.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
		t.Errorf("reading it allocated %d MiB", alloc>>20)
	}
}

// TestParquetColumnsLimit: a schema wider than the limit is refused before any
// column is read.
func TestParquetColumnsLimit(t *testing.T) {
	fsys := fstest.MapFS{"t.parquet": {Data: parquetFile(t, counts(3))}}
	_, err := Read(context.Background(), fsys, "t.parquet", []Spec{{Name: "count", Type: Int}}, Limits{Rows: 10, Columns: 3})
	var le *LimitError
	if !errors.As(err, &le) || le.What != "columns" {
		t.Fatalf("error %v, want the columns limit", err)
	}
}

type parquetRow struct {
	Name  *string  `parquet:"name,optional"`
	Score *float64 `parquet:"score,optional"`
	Count int64    `parquet:"count"`
	OK    bool     `parquet:"ok"`
}

func parquetFile(t testing.TB, rows []parquetRow) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[parquetRow](&buf)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadParquet(t *testing.T) {
	s := func(v string) *string { return &v }
	f := func(v float64) *float64 { return &v }
	data := parquetFile(t, []parquetRow{
		{Name: s("a"), Score: f(0.5), Count: 3, OK: true},
		{Name: nil, Score: f(2), Count: 4},
		{Name: s("b"), Score: nil, Count: 5, OK: true},
	})
	fsys := fstest.MapFS{"t.parquet": {Data: data}}
	tb, err := Read(context.Background(), fsys, "t.parquet", []Spec{
		{Name: "name", Type: String, Keep: Values},
		{Name: "score", Type: Float, Keep: Values, Tests: []Test{{Number: func(v float64) bool { return v <= 1 }}}},
		{Name: "count", Type: String, Keep: Values},
		{Name: "ok", Type: Bool, Keep: Values},
		{Name: "absent", Type: Int},
	}, generous)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Rows != 3 || tb.Column("absent") != nil {
		t.Fatalf("rows %d, columns %v", tb.Rows, tb.Header)
	}
	name := tb.Column("name")
	if !slices.Equal(name.Codes, []int32{0, -1, 1}) || name.Nulls.Count != 1 || name.Nulls.Rows[0] != 2 {
		t.Errorf("name: %v %+v", name.Codes, name.Nulls)
	}
	score := tb.Column("score")
	if score.Floats[0] != 0.5 || score.Floats[1] != 2 || !math.IsNaN(score.Floats[2]) || score.Failed[0].Count != 1 {
		t.Errorf("score: %v %+v", score.Floats, score.Failed)
	}
	count := tb.Column("count")
	if got := count.Dict[count.Codes[2]].Value; got != "5" {
		t.Errorf("a number read as a string is %q", got)
	}
	if ok := tb.Column("ok"); !slices.Equal(ok.Codes, []int32{1, 0, 1}) {
		t.Errorf("ok: %v", ok.Codes)
	}
}

// TestReadBrokenParquet: a file that is not Parquet, or is cut short, is an
// error that names it, never a crash.
func TestReadBrokenParquet(t *testing.T) {
	valid := parquetFile(t, []parquetRow{{Count: 1}, {Count: 2}})
	for name, data := range map[string][]byte{
		"not parquet": []byte("a,b\n1,2\n"),
		"cut short":   valid[:len(valid)/2],
		"empty":       nil,
	} {
		fsys := fstest.MapFS{"t.parquet": {Data: data}}
		_, err := Read(context.Background(), fsys, "t.parquet", []Spec{{Name: "count", Type: Int, Keep: Values}}, generous)
		if err == nil || !strings.Contains(err.Error(), "t.parquet") {
			t.Errorf("%s: error %v", name, err)
		}
	}
	// One flipped byte at a time: an error or data, and the test ends.
	for i := range len(valid) {
		broken := bytes.Clone(valid)
		broken[i] ^= 0xff
		fsys := fstest.MapFS{"t.parquet": {Data: broken}}
		if tb, err := Read(context.Background(), fsys, "t.parquet", []Spec{{Name: "count", Type: Int, Keep: Values}}, generous); err == nil && tb.Rows > 2 {
			t.Errorf("byte %d flipped: %d rows from a file of 2", i, tb.Rows)
		}
	}
}

// FuzzReadParquet feeds the reader files written by parquet-go, some with a
// footer that claims more rows than they hold, mutated: an error or a table
// within the limits, never a crash or memory sized from the footer.
func FuzzReadParquet(f *testing.F) {
	s := func(v string) *string { return &v }
	x := func(v float64) *float64 { return &v }
	seeds := [][]byte{
		parquetFile(f, []parquetRow{{Name: s("a"), Score: x(0.5), Count: 3, OK: true}, {Count: 4}, {Name: s("b"), Count: 5}}),
		parquetFile(f, counts(1000)),
		parquetFile(f, make([]parquetRow, 5000)), // one value repeated: run-length encoded
	}
	var zstd bytes.Buffer
	w := parquet.NewGenericWriter[parquetRow](&zstd, parquet.Compression(&parquet.Zstd), parquet.PageBufferSize(512))
	if _, err := w.Write(counts(2000)); err != nil {
		f.Fatal(err)
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, zstd.Bytes())
	for _, seed := range seeds {
		f.Add(seed)
		for _, claim := range []int64{-1, 1 << 19, 1e11} {
			f.Add(claimRows(f, seed, claim))
		}
	}
	limits := Limits{Rows: 1 << 20, Columns: 64}
	specs := []Spec{
		{Name: "name", Type: String, Keep: Values | Hashes | Distinct},
		{Name: "score", Type: Float, Keep: Values},
		{Name: "count", Type: Int, Keep: Values},
		{Name: "ok", Type: Bool, Keep: Values},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, err := Read(context.Background(), fstest.MapFS{"f.parquet": {Data: data}}, "f.parquet", specs, limits)
		if err != nil {
			if !strings.Contains(err.Error(), "f.parquet") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if tb.Rows < 0 || tb.Rows > limits.Rows || len(tb.Header) > limits.Columns {
			t.Fatalf("%d rows and %d columns, over the limits %+v", tb.Rows, len(tb.Header), limits)
		}
		for _, s := range specs {
			c := tb.Column(s.Name)
			if c == nil {
				continue
			}
			if n := len(c.Floats) + len(c.Codes); n != tb.Rows {
				t.Fatalf("column %q holds %d values for %d rows", s.Name, n, tb.Rows)
			}
		}
	})
}

// TestParquetFooterListClaim: a footer whose schema list claims 2^31-1
// elements in a few bytes is refused before the decoder allocates them all.
func TestParquetFooterListClaim(t *testing.T) {
	// Field 2 of FileMetaData (the schema): a list of structs, of 2^31-1.
	footer := append([]byte{0x15, 0x02, 0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07}, make([]byte, 64)...)
	data := append([]byte("PAR1"), footer...)
	data = binary.LittleEndian.AppendUint32(data, uint32(len(footer)))
	data = append(data, "PAR1"...)
	_, err := Read(context.Background(), fstest.MapFS{"t.parquet": {Data: data}}, "t.parquet", []Spec{{Name: "count", Type: Int}}, generous)
	if err == nil || !strings.Contains(err.Error(), "read t.parquet: the footer: metadata at byte 9: 2147483647 elements or bytes claimed, 64 bytes left") {
		t.Errorf("error %v", err)
	}
}

// TestParquetNumbersAsBools: a bool column stored as numbers, as labels and
// predictions often are, reads as the numbers' text would: 0 and 1 (and -0)
// are bools, any other number is an invalid value.
func TestParquetNumbersAsBools(t *testing.T) {
	type row struct {
		Label int64   `parquet:"label"`
		Flag  float64 `parquet:"flag"`
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf)
	if _, err := w.Write([]row{{1, 0}, {0, math.Copysign(0, -1)}, {2, 1}, {1, 0.5}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tb, err := Read(context.Background(), fstest.MapFS{"p.parquet": {Data: buf.Bytes()}}, "p.parquet", []Spec{
		{Name: "label", Type: Bool, Keep: Values},
		{Name: "flag", Type: Bool, Keep: Values},
	}, generous)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		codes   []int32
		invalid string
	}{
		{"label", []int32{1, 0, -1, 1}, "2"},
		{"flag", []int32{0, 0, 1, -1}, "0.5"},
	} {
		col := tb.Column(c.name)
		if !slices.Equal(col.Codes, c.codes) || col.Invalid.Count != 1 || col.Invalid.Example != c.invalid {
			t.Errorf("%s: codes %v, invalid %+v; want %v and one invalid %q", c.name, col.Codes, col.Invalid, c.codes, c.invalid)
		}
	}
}

// TestParquetDictionaryPages: a column of categories written with a
// dictionary, required or optional, with and without nulls in its pages, and
// with an empty string among its values, reads as the same data written as CSV.
func TestParquetDictionaryPages(t *testing.T) {
	type row struct {
		Required string  `parquet:"required,dict"`
		Optional *string `parquet:"optional,optional,dict"`
	}
	cats := []string{"US", "GB", "", "DE", "a,b"}
	var rows []row
	var text strings.Builder
	text.WriteString("required,optional\n")
	for i := range 20000 {
		c := cats[i*7%len(cats)]
		o := &c
		if i >= 10000 && i%9 == 0 {
			o = nil // nulls in the later pages only
		}
		rows = append(rows, row{Required: c, Optional: o})
		ov := ""
		if o != nil {
			ov = *o
		}
		fmt.Fprintf(&text, "%q,%q\n", c, ov)
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf, parquet.PageBufferSize(4096))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	specs := []Spec{{Name: "required", Type: String, Keep: Values | Hashes}, {Name: "optional", Type: String, Keep: Values}}
	fromParquet, err := Read(context.Background(), fstest.MapFS{"c.parquet": {Data: buf.Bytes()}}, "c.parquet", specs, generous)
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, err := Read(context.Background(), fstest.MapFS{"c.csv": {Data: []byte(text.String())}}, "c.csv", specs, generous)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		a, b := fromParquet.Column(s.Name), fromCSV.Column(s.Name)
		if !slices.Equal(a.Codes, b.Codes) || !slices.Equal(a.Hashes, b.Hashes) || !slices.EqualFunc(a.Dict, b.Dict, func(x, y Entry) bool {
			return x.Value == y.Value && x.Count == y.Count && slices.Equal(x.Rows, y.Rows)
		}) || a.Nulls.Count != b.Nulls.Count || !slices.Equal(a.Nulls.Rows, b.Nulls.Rows) {
			t.Errorf("%s: from Parquet %v %+v, nulls %+v; from CSV %v %+v, nulls %+v", s.Name, a.Codes[:8], a.Dict, a.Nulls, b.Codes[:8], b.Dict, b.Nulls)
		}
	}
}
