package table

import (
	"bytes"
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/parquet-go/parquet-go"
)

type parquetRow struct {
	Name  *string  `parquet:"name,optional"`
	Score *float64 `parquet:"score,optional"`
	Count int64    `parquet:"count"`
	OK    bool     `parquet:"ok"`
}

func parquetFile(t *testing.T, rows []parquetRow) []byte {
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
	})
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
		_, err := Read(context.Background(), fsys, "t.parquet", []Spec{{Name: "count", Type: Int, Keep: Values}})
		if err == nil || !strings.Contains(err.Error(), "t.parquet") {
			t.Errorf("%s: error %v", name, err)
		}
	}
	// One flipped byte at a time: an error or data, and the test ends.
	for i := range len(valid) {
		broken := bytes.Clone(valid)
		broken[i] ^= 0xff
		fsys := fstest.MapFS{"t.parquet": {Data: broken}}
		if tb, err := Read(context.Background(), fsys, "t.parquet", []Spec{{Name: "count", Type: Int, Keep: Values}}); err == nil && tb.Rows > 2 {
			t.Errorf("byte %d flipped: %d rows from a file of 2", i, tb.Rows)
		}
	}
}
