package checks

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/modelgate/modelgate/checks/table"
	"github.com/modelgate/modelgate/internal/schema"
)

// TestParquet converts a test case's CSV files to Parquet — columns of numbers
// as doubles, others as strings, empty fields as nulls — and checks that the
// evidence is the same, but for the files' digests and names.
func TestParquet(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("testdata", "binary")
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(src, "*.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".csv") + ".parquet"
		writeParquet(t, f, filepath.Join(dir, name))
	}
	data, err := os.ReadFile(filepath.Join(src, "model.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.yaml"), bytes.ReplaceAll(data, []byte(".csv"), []byte(".parquet")), 0o644); err != nil {
		t.Fatal(err)
	}
	fromCSV := check(t, v, filepath.Join(src, "model.yaml"))
	fromParquet := check(t, v, filepath.Join(dir, "model.yaml"))
	for _, ev := range []map[string]any{fromCSV, fromParquet} {
		for _, in := range ev["inputs"].([]any) {
			delete(in.(map[string]any), "sha256")
			delete(in.(map[string]any), "path")
		}
	}
	a, _ := json.MarshalIndent(fromCSV, "", " ")
	b, _ := json.MarshalIndent(fromParquet, "", " ")
	if !bytes.Equal(a, b) {
		t.Errorf("evidence from Parquet differs:\n%s\nfrom CSV:\n%s", b, a)
	}
}

// writeParquet writes a CSV file as a Parquet file of optional columns.
func writeParquet(t *testing.T, csvPath, out string) {
	t.Helper()
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header, rows := records[0], records[1:]
	numeric := make([]bool, len(header))
	group := parquet.Group{}
	for i, name := range header {
		numeric[i] = true
		for _, r := range rows {
			if _, ok := table.ParseNumber([]byte(r[i])); r[i] != "" && !ok {
				numeric[i] = false
			}
		}
		node := parquet.String()
		if numeric[i] {
			node = parquet.Leaf(parquet.DoubleType)
		}
		group[name] = parquet.Optional(node)
	}
	s := parquet.NewSchema("t", group)
	leaf := make([]int, len(header))
	for i, name := range header {
		col, _ := s.Lookup(name)
		leaf[i] = col.ColumnIndex
	}
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, s)
	for _, r := range rows {
		row := make(parquet.Row, len(header))
		for i, field := range r {
			switch {
			case field == "":
				row[leaf[i]] = parquet.Value{}.Level(0, 0, leaf[i])
			case numeric[i]:
				v, _ := strconv.ParseFloat(field, 64)
				row[leaf[i]] = parquet.ValueOf(v).Level(0, 1, leaf[i])
			default:
				row[leaf[i]] = parquet.ValueOf(field).Level(0, 1, leaf[i])
			}
		}
		if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
