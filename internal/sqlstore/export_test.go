package sqlstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// exportAll returns the export of db's whole log.
func exportAll(t testing.TB, db *DB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := db.Export(t.Context(), &buf, time.Time{}); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return buf.Bytes()
}

// opens returns an open function that returns each of files in turn.
func opens(files ...[]byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		if len(files) == 0 {
			return nil, errors.New("opened too often")
		}
		f := files[0]
		files = files[1:]
		return io.NopCloser(bytes.NewReader(f)), nil
	}
}

// An export that verified when it was first read but is another when it is
// read again to be written is refused too, and leaves nothing behind.
func TestImportRefusesAFileThatChangesWhileItIsImported(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		src := openDB(t, dsn)
		src.Now = steppingClock()
		records := appendAll(t, src, sampleEntries())
		good := exportAll(t, src)
		lines := strings.SplitAfter(string(good), "\n")
		broken := strings.Replace(string(good), lines[2], strings.Replace(lines[2], `"actor":"bob"`, `"actor":"eve"`, 1), 1)
		if broken == string(good) {
			t.Fatal("the edit changed nothing")
		}
		var shorter bytes.Buffer
		w, err := audit.NewExportWriter(&shorter, audit.Head{Digest: audit.GenesisDigest}, records[1].Head())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range records[:2] {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, second, want string
		}{
			{"a line edited", broken, "audit.jsonl:3: audit record 2: digest mismatch (record edited)"},
			{"records cut and the header with them", shorter.String(), "audit.jsonl:1: the file changed while it was imported"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				dst := openDB(t, sqlstoretest.Fresh(t, dsn))
				_, err := dst.Import(t.Context(), "audit.jsonl", opens(good, []byte(tt.second)))
				if _, ok := errors.AsType[*audit.ExportError](err); !ok || !strings.HasSuffix(err.Error(), tt.want) {
					t.Fatalf("Import: %v; want %s", err, tt.want)
				}
				if got, err := dst.Records(t.Context(), audit.Filter{}); err != nil || len(got) != 0 {
					t.Errorf("after the refusal the store holds %d records (%v), want none", len(got), err)
				}
				if n, err := dst.Verify(t.Context()); n != 0 || err != nil {
					t.Errorf("Verify: %d, %v", n, err)
				}
			})
		}
	})
}

// BenchmarkExportImport exports a log of 2,000 appended records and imports
// it into a fresh store, on each backend.
func BenchmarkExportImport(b *testing.B) {
	const size = 2000
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			dsn := filepath.Join(b.TempDir(), "src.db")
			if backend == "postgres" {
				dsn = sqlstoretest.PostgresDSN(b)
			}
			src, err := Open(b.Context(), dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			entries := sampleEntries()
			for i := range size {
				e := entries[i%len(entries)]
				e.Payload = fmt.Appendf(nil, `{"n":%d,"note":%q}`, i, strings.Repeat("evidence ", 50))
				if _, err := src.Append(b.Context(), e); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for range b.N {
				var buf bytes.Buffer
				if _, err := src.Export(b.Context(), &buf, time.Time{}); err != nil {
					b.Fatal(err)
				}
				dst, err := Open(b.Context(), sqlstoretest.Fresh(b, dsn))
				if err != nil {
					b.Fatal(err)
				}
				if n, err := dst.Import(b.Context(), "bench.jsonl", opens(buf.Bytes(), buf.Bytes())); err != nil || n != size {
					b.Fatalf("Import: %d, %v", n, err)
				}
				_ = dst.Close()
			}
			b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
