package audit

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// chainOf returns records chained from genesis, one per entry.
func chainOf(t testing.TB, entries ...Entry) []Record {
	t.Helper()
	head := Head{Digest: GenesisDigest}
	at := time.Date(2026, 1, 31, 12, 0, 0, 123456000, time.UTC)
	var records []Record
	for i, e := range entries {
		e, err := e.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		r := head.Next(at.Add(time.Duration(i)*time.Second), e)
		records = append(records, r)
		head = r.Head()
	}
	return records
}

func exportBytes(t testing.TB, after, through Head, records []Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewExportWriter(&buf, after, through)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll reads an export to its end.
func readAll(data []byte) (*ExportReader, []Record, error) {
	x, err := NewExportReader(bytes.NewReader(data), "audit.jsonl")
	if err != nil {
		return nil, nil, err
	}
	var records []Record
	for {
		r, err := x.Next()
		if errors.Is(err, io.EOF) {
			return x, records, nil
		}
		if err != nil {
			return x, records, err
		}
		records = append(records, r)
	}
}

var sampleEntries = []Entry{
	{Kind: KindDecision, Repository: "acme/models", Model: "fraud-detector", Version: "2.3.0", Stage: "production", PullRequest: 7,
		HeadSHA: "0123abcd", Actor: "Łukasz <ł@example.com> & co", Payload: []byte(`{"allow":false,"messages":["<b>ε</b> & \u2028"]}`)},
	{Kind: KindApproval, Actor: "bob", Payload: []byte(`{}`)},
	{Kind: KindMerge, Payload: []byte(`{"method":"squash"}`)},
}

func TestExportRoundTripsEveryField(t *testing.T) {
	records := chainOf(t, sampleEntries...)
	data := exportBytes(t, Head{Digest: GenesisDigest}, records[2].Head(), records)
	x, got, err := readAll(data)
	if err != nil {
		t.Fatalf("read: %v\n%s", err, data)
	}
	if !reflect.DeepEqual(got, records) || x.After() != (Head{Digest: GenesisDigest}) || x.Through() != records[2].Head() {
		t.Errorf("read back\n%+v\nwant\n%+v", got, records)
	}
	if !bytes.Contains(data, []byte(`"payload":{"allow":false,"messages":["<b>ε</b> & \u2028"]}`)) {
		t.Errorf("the payload is not written as stored:\n%s", data)
	}
	// A suffix reads on its own, from the link its first record names.
	suffix := exportBytes(t, records[0].Head(), records[2].Head(), records[1:])
	if _, got, err := readAll(suffix); err != nil || !reflect.DeepEqual(got, records[1:]) {
		t.Errorf("suffix: %v, %+v", err, got)
	}
}

func TestExportWriterRefusesABrokenChain(t *testing.T) {
	records := chainOf(t, sampleEntries...)
	edited := records[1]
	edited.Actor = "mallory"
	var buf bytes.Buffer
	w, err := NewExportWriter(&buf, Head{Digest: GenesisDigest}, records[2].Head())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(records[0]); err != nil {
		t.Fatal(err)
	}
	var chainErr *ChainError
	if err := w.Write(edited); !errors.As(err, &chainErr) || chainErr.Seq != 2 {
		t.Errorf("edited record: %v; want a chain error at record 2", err)
	}
	if err := w.Close(); !errors.As(err, &chainErr) || !strings.Contains(err.Error(), "tail deleted") {
		t.Errorf("close short of the head: %v", err)
	}
	invalid := chainOf(t, Entry{Kind: KindPush, Actor: "\xff"})
	w, err = NewExportWriter(io.Discard, Head{Digest: GenesisDigest}, invalid[0].Head())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(invalid[0]); err == nil || !strings.Contains(err.Error(), "not UTF-8") {
		t.Errorf("a record JSON cannot carry: %v", err)
	}
}

// FuzzReadExport feeds the reader arbitrary files: it must not panic, must
// return only records whose digests and links verify, and a file it accepts
// whole must export again into one it accepts as the same records.
func FuzzReadExport(f *testing.F) {
	records := chainOf(f, sampleEntries...)
	whole := exportBytes(f, Head{Digest: GenesisDigest}, records[2].Head(), records)
	f.Add(whole)
	f.Add(exportBytes(f, records[0].Head(), records[2].Head(), records[1:]))
	f.Add(bytes.Replace(whole, []byte(`"bob"`), []byte(`"eve"`), 1))
	f.Add(whole[:len(whole)-7])
	f.Add([]byte("{\"format\":\"modelgate.audit/v1\"}\n{}\n"))
	f.Add([]byte("\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, got, err := readAll(data)
		prev := Head{Digest: GenesisDigest}
		if x != nil {
			prev = x.After()
		}
		for _, r := range got {
			if r.PrevDigest != prev.Digest || r.Seq != prev.Seq+1 || r.Digest != r.ComputeDigest() {
				t.Fatalf("returned record %d does not verify", r.Seq)
			}
			prev = r.Head()
		}
		var exportErr *ExportError
		if err != nil && !errors.As(err, &exportErr) {
			t.Fatalf("error without its line: %v", err)
		}
		if err != nil {
			return
		}
		again := exportBytes(t, x.After(), x.Through(), got)
		if _, back, err := readAll(again); err != nil || !reflect.DeepEqual(back, got) {
			t.Fatalf("re-export of an accepted file: %v", err)
		}
	})
}
