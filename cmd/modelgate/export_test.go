package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/sqlstore"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// exportOf runs audit export and returns what it wrote.
func exportOf(t *testing.T, dsn string, args ...string) string {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"audit", "export", "--database", dsn}, args...)...)
	if code != exitOK {
		t.Fatalf("audit export %v: exit %d %s", args, code, stderr)
	}
	return stdout
}

// writeFile writes data to a new file called audit.jsonl and returns its
// path.
func writeFile(t *testing.T, data string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func importFile(t *testing.T, dsn, file string) (int, string) {
	t.Helper()
	code, stdout, stderr := runCLI(t, "audit", "import", "--database", dsn, file)
	if code == exitCantRun {
		t.Fatalf("audit import: exit 2 %s", stderr)
	}
	return code, stdout
}

func storedRecords(t *testing.T, dsn string) []audit.Record {
	t.Helper()
	store, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	records, err := store.Records(t.Context(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return records
}

// verifyAgainst runs audit verify with the checkpoints and returns its exit
// code and output.
func verifyAgainst(t *testing.T, dsn, verifier string, checkpoints []string) (int, string) {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"audit", "verify", "--database", dsn, "--verifier-key", verifier}, checkpointArgs(checkpoints...)...)...)
	return code, stdout + stderr
}

func TestExportImportRoundTrips(t *testing.T) {
	env, verifier := auditKeys(t, "modelgate.example.com/audit")
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		checkpoints := gateRuns(t, env, dsn, nil, []string{"--approved-by", "bob:compliance"}, []string{"--approved-by", "bob:compliance", "--approved-by", "carol"})
		exported := exportOf(t, dsn)
		records := storedRecords(t, dsn)
		lines := strings.SplitAfter(exported, "\n")
		if len(lines) != 5 || lines[4] != "" {
			t.Fatalf("export of 3 records has %d lines, want a header and 3 records:\n%s", len(lines)-1, exported)
		}
		wantHeader := `{"format":"modelgate.audit/v1","after":{"seq":0,"digest":"` + audit.GenesisDigest + `"},"through":{"seq":3,"digest":"` + records[2].Digest + `"}}` + "\n"
		if lines[0] != wantHeader {
			t.Errorf("header\n%s\nwant\n%s", lines[0], wantHeader)
		}
		var first map[string]any
		if err := json.Unmarshal([]byte(lines[1]), &first); err != nil || first["digest"] != records[0].Digest || first["prev_digest"] != audit.GenesisDigest || first["kind"] != "decision" {
			t.Errorf("first record line %s (%v); want record 1 with its digest and the genesis link", lines[1], err)
		}

		imported := sqlstoretest.Fresh(t, dsn)
		file := writeFile(t, exported)
		if code, stdout := importFile(t, imported, file); code != exitOK || stdout != "audit import: 3 records imported from "+file+"\n" {
			t.Fatalf("import into an empty store: exit %d %s", code, stdout)
		}
		if again := exportOf(t, imported); again != exported {
			t.Errorf("export of the imported store differs:\n%s\nwant\n%s", again, exported)
		}
		if code, out := verifyAgainst(t, imported, verifier, checkpoints); code != exitOK || !strings.Contains(out, "audit log intact: 3 records, hash chain and Merkle tree verified, consistent with 3 checkpoints") {
			t.Errorf("audit verify of the imported store with the checkpoints signed before the export: exit %d %s", code, out)
		}

		// Again onto the store that now holds the records: a duplicate.
		code, stdout := importFile(t, imported, file)
		want := "audit import REFUSED: " + file + ":1: the export does not extend the store's log: it continues from record 0 (digest " + audit.GenesisDigest +
			"), but the store's chain head is record 3 (digest " + records[2].Digest + ")\nnothing imported\n"
		if code != exitFailed || stdout != want {
			t.Errorf("import of the same export again: exit %d\n%s\nwant exit 1 and\n%s", code, stdout, want)
		}
		if again := exportOf(t, imported); again != exported {
			t.Errorf("a refused import changed the store")
		}
	})
}

func TestSinceExportExtendsAStoreHoldingThePrefix(t *testing.T) {
	env, verifier := auditKeys(t, "modelgate.example.com/audit")
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		checkpoints := gateRuns(t, env, dsn, nil)
		prefix := exportOf(t, dsn)
		checkpoints = append(checkpoints, gateRuns(t, env, dsn, []string{"--approved-by", "bob:compliance"}, []string{"--approved-by", "carol"})...)
		records := storedRecords(t, dsn)
		suffix := exportOf(t, dsn, "--since", records[1].RecordedAt.Format(time.RFC3339Nano))
		lines := strings.SplitAfter(suffix, "\n")
		wantHeader := `{"format":"modelgate.audit/v1","after":{"seq":1,"digest":"` + records[0].Digest + `"},"through":{"seq":3,"digest":"` + records[2].Digest + `"}}` + "\n"
		if len(lines) != 4 || lines[0] != wantHeader || !strings.HasPrefix(lines[1], `{"seq":2,`) {
			t.Fatalf("export --since record 2's time:\n%s\nwant the header\n%s\nand records 2 and 3", suffix, wantHeader)
		}
		suffixFile := writeFile(t, suffix)

		imported := sqlstoretest.Fresh(t, dsn)
		code, stdout := importFile(t, imported, suffixFile)
		if code != exitFailed || !strings.Contains(stdout, suffixFile+":1: the export does not extend the store's log: it continues from record 1 (digest "+records[0].Digest+"), but the store's chain head is record 0 (digest "+audit.GenesisDigest+")") {
			t.Errorf("suffix onto an empty store: exit %d %s; want it refused", code, stdout)
		}
		if code, stdout := importFile(t, imported, writeFile(t, prefix)); code != exitOK || !strings.Contains(stdout, "1 record imported") {
			t.Fatalf("prefix: exit %d %s", code, stdout)
		}
		if code, stdout := importFile(t, imported, suffixFile); code != exitOK || !strings.Contains(stdout, "2 records imported") {
			t.Fatalf("suffix onto the prefix: exit %d %s", code, stdout)
		}
		if exportOf(t, imported) != exportOf(t, dsn) {
			t.Errorf("prefix and suffix imported do not export as the original")
		}
		if code, out := verifyAgainst(t, imported, verifier, checkpoints); code != exitOK || !strings.Contains(out, "consistent with 3 checkpoints") {
			t.Errorf("audit verify: exit %d %s", code, out)
		}

		// A store with a record of its own: the suffix would fork it.
		other := sqlstoretest.Fresh(t, dsn)
		gateRuns(t, env, other, []string{"--approved-by", "mallory"})
		before := exportOf(t, other)
		if code, stdout := importFile(t, other, suffixFile); code != exitFailed || !strings.Contains(stdout, "does not extend the store's log: it continues from record 1 (digest "+records[0].Digest+"), but the store's chain head is record 1 (digest ") {
			t.Errorf("suffix onto another log: exit %d %s; want it refused", code, stdout)
		}
		if exportOf(t, other) != before {
			t.Errorf("a refused import changed the store")
		}

		// Nothing since: the header alone, ending where it starts.
		empty := exportOf(t, dsn, "--since", "2999-01-01")
		if want := `{"format":"modelgate.audit/v1","after":{"seq":3,"digest":"` + records[2].Digest + `"},"through":{"seq":3,"digest":"` + records[2].Digest + `"}}` + "\n"; empty != want {
			t.Errorf("export --since a future date:\n%s\nwant\n%s", empty, want)
		}
		if code, stdout := importFile(t, imported, writeFile(t, empty)); code != exitOK || !strings.Contains(stdout, "0 records imported") {
			t.Errorf("empty suffix onto the store it ends at: exit %d %s", code, stdout)
		}
	})
}

func TestImportRefusesAnEditedExport(t *testing.T) {
	env, _ := auditKeys(t, "modelgate.example.com/audit")
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		gateRuns(t, env, dsn, nil, []string{"--approved-by", "bob:compliance"}, []string{"--approved-by", "carol"})
		exported := exportOf(t, dsn)
		records := storedRecords(t, dsn)
		lines := strings.SplitAfter(exported, "\n")[:4]
		// edit rewrites one field of a line, as someone editing the file would.
		edit := func(i int, field string, value any) []string {
			var fields map[string]json.RawMessage
			if err := json.Unmarshal([]byte(lines[i]), &fields); err != nil {
				t.Fatal(err)
			}
			raw, err := json.Marshal(value)
			if err != nil {
				t.Fatal(err)
			}
			fields[field] = raw
			b, err := json.Marshal(fields)
			if err != nil {
				t.Fatal(err)
			}
			out := slices.Clone(lines)
			out[i] = string(b) + "\n"
			return out
		}
		var payload map[string]any
		if err := json.Unmarshal(records[1].Payload, &payload); err != nil {
			t.Fatal(err)
		}
		payload["allow"] = true
		// A fourth record chained correctly onto the third, but not in the
		// header's range.
		extra := records[2].Head().Next(records[2].RecordedAt, records[2].Entry)
		extraLine, err := json.Marshal(map[string]any{
			"seq": extra.Seq, "recorded_at": extra.RecordedAt.Format(audit.TimeFormat), "kind": extra.Kind, "repository": extra.Repository,
			"model": extra.Model, "version": extra.Version, "stage": extra.Stage, "pull_request": extra.PullRequest, "head_sha": extra.HeadSHA,
			"actor": extra.Actor, "payload": json.RawMessage(extra.Payload), "prev_digest": extra.PrevDigest, "digest": extra.Digest,
		})
		if err != nil {
			t.Fatal(err)
		}
		flipped := records[1].Digest[:10] + string("10"[records[1].Digest[10]&1]) + records[1].Digest[11:]

		tests := []struct {
			name  string
			lines []string
			want  string
		}{
			{"payload edited", edit(2, "payload", payload), "3: audit record 2: digest mismatch (record edited)"},
			{"actor edited", edit(2, "actor", "mallory"), "3: audit record 2: digest mismatch (record edited)"},
			{"digest edited", edit(2, "digest", flipped), "3: audit record 2: digest mismatch (record edited)"},
			{"link edited", edit(3, "prev_digest", flipped), "4: audit record 3: previous digest does not match record 2 (records reordered or deleted)"},
			{"line deleted", slices.Delete(slices.Clone(lines), 2, 3), "3: audit record 2: missing (expected seq 2, found 3: record deleted)"},
			{"lines swapped", []string{lines[0], lines[2], lines[1], lines[3]}, "2: audit record 1: missing (expected seq 1, found 2: record deleted)"},
			{"line duplicated", slices.Insert(slices.Clone(lines), 2, lines[1]), "3: audit record 1: out of order (expected seq 2: records reordered)"},
			{"last line deleted", lines[:3], "4: file ends after record 2, but its header says it runs through record 3 (file truncated)"},
			{"cut inside the last line", []string{lines[0], lines[1], lines[2], lines[3][:len(lines[3])/2]}, "4: last line has no newline (file truncated)"},
			{"last newline cut", []string{lines[0], lines[1], lines[2], strings.TrimSuffix(lines[3], "\n")}, "4: last line has no newline (file truncated)"},
			{"record beyond the header", append(slices.Clone(lines), string(extraLine)+"\n"), "5: audit record 4: beyond the header's last record 3 (record inserted)"},
			{"header shortened", edit(0, "through", map[string]any{"seq": 2, "digest": records[1].Digest}), "4: audit record 3: beyond the header's last record 2 (record inserted)"},
			{"header of another version", edit(0, "format", "modelgate.audit/v2"), `1: format "modelgate.audit/v2" is not modelgate.audit/v1`},
			{"not JSON", []string{lines[0], "record 1\n", lines[2], lines[3]}, "2: not a record line: not a JSON object"},
			{"blank line", []string{lines[0], lines[1], "\n", lines[2], lines[3]}, "3: not a record line: not a JSON object"},
			{"unknown field", edit(1, "signature", "trust me"), `2: not a record line: json: unknown field "signature"`},
			{"time rewritten", edit(1, "recorded_at", records[0].RecordedAt.Format(time.RFC3339)), "2: audit record 1: recorded_at"},
			{"two values on a line", []string{lines[0], strings.TrimSuffix(lines[1], "\n") + " {}\n", lines[2], lines[3]}, "2: not a record line: more than one JSON value on the line"},
			{"line over the size cap", []string{lines[0], `{"seq":1,"payload":"` + strings.Repeat("x", audit.MaxExportLine) + "\"}\n", lines[2], lines[3]}, "2: line longer than 16777216 bytes"},
			{"empty file", nil, "1: empty file (expected the header line)"},
		}
		imported := sqlstoretest.Fresh(t, dsn)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				file := writeFile(t, strings.Join(tt.lines, ""))
				code, stdout := importFile(t, imported, file)
				if code != exitFailed || !strings.HasPrefix(stdout, "audit import REFUSED: "+file+":"+tt.want) || !strings.HasSuffix(stdout, "\nnothing imported\n") {
					t.Errorf("exit %d\n%s\nwant exit 1 and audit import REFUSED: %s:%s", code, stdout, file, tt.want)
				}
				if n := len(storedRecords(t, imported)); n != 0 {
					t.Errorf("the refused import wrote %d records", n)
				}
			})
		}
		if code, stdout, _ := runCLI(t, "audit", "verify", "--database", imported); code != exitOK || !strings.Contains(stdout, "intact: 0 records") {
			t.Errorf("the store refused every import: verify exit %d %s", code, stdout)
		}
	})
}

// A file whose chain was recomputed after an edit imports, as the same
// edit made in the database would verify: only a checkpoint signed before
// tells, and it does.
func TestImportedForgeryFailsTheCheckpoints(t *testing.T) {
	env, verifier := auditKeys(t, "modelgate.example.com/audit")
	db, checkpoints, records := judgedLog(t, env)
	records[1].Actor = "mallory"
	var forged bytes.Buffer
	head := audit.Head{Digest: audit.GenesisDigest}
	chain := make([]audit.Record, len(records))
	for i, r := range records {
		chain[i] = head.Next(r.RecordedAt, r.Entry)
		head = chain[i].Head()
	}
	w, err := audit.NewExportWriter(&forged, audit.Head{Digest: audit.GenesisDigest}, head)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range chain {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	imported := sqlstoretest.Fresh(t, db)
	if code, stdout := importFile(t, imported, writeFile(t, forged.String())); code != exitOK {
		t.Fatalf("a consistently forged export: exit %d %s", code, stdout)
	}
	code, out := verifyAgainst(t, imported, verifier, checkpoints)
	if want := "audit log TAMPERED: audit record 2: differs from the checkpoint of size 2"; code != exitFailed || !strings.HasPrefix(out, want) {
		t.Errorf("audit verify of the forgery with the checkpoints: exit %d %s; want exit 1 and %s", code, out, want)
	}
}

func TestExportAndImportRefuseATamperedStore(t *testing.T) {
	env, _ := auditKeys(t, "modelgate.example.com/audit")
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		gateRuns(t, env, dsn, nil)
		prefix := exportOf(t, dsn)
		gateRuns(t, env, dsn, []string{"--approved-by", "carol"})
		records := storedRecords(t, dsn)
		suffix := writeFile(t, exportOf(t, dsn, "--since", records[1].RecordedAt.Format(time.RFC3339Nano)))

		imported := sqlstoretest.Fresh(t, dsn)
		if code, stdout := importFile(t, imported, writeFile(t, prefix)); code != exitOK {
			t.Fatalf("prefix: exit %d %s", code, stdout)
		}
		driver := "sqlite"
		if strings.HasPrefix(dsn, "postgres://") {
			driver = "pgx"
		}
		raw, err := sql.Open(driver, imported)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		if _, err := raw.ExecContext(t.Context(), `UPDATE audit_records SET actor = 'mallory' WHERE seq = 1`); err != nil {
			t.Fatal(err)
		}

		code, stdout, stderr := runCLI(t, "audit", "export", "--database", imported)
		if code != exitFailed || !strings.Contains(stderr, "audit log TAMPERED: audit record 1: digest mismatch (record edited)\nexport incomplete") {
			t.Errorf("export of a tampered store: exit %d %s%s; want exit 1, tampered", code, stdout, stderr)
		}
		code, stdout = importFile(t, imported, suffix)
		if want := "audit import REFUSED: the store's audit log is TAMPERED: audit record 1: digest mismatch (record edited)\nnothing imported\n"; code != exitFailed || stdout != want {
			t.Errorf("import onto a tampered store: exit %d %s; want exit 1 and\n%s", code, stdout, want)
		}
		if n := len(storedRecords(t, imported)); n != 1 {
			t.Errorf("the refused import left %d records, want 1", n)
		}
	})
}

func TestExportFlags(t *testing.T) {
	env, _ := auditKeys(t, "modelgate.example.com/audit")
	db, _, _ := judgedLog(t, env)
	for _, args := range [][]string{{"--since", "yesterday"}, {"--since", "2026-13-01"}, {"extra"}} {
		if code, _, stderr := runCLI(t, append([]string{"audit", "export", "--database", db}, args...)...); code != exitCantRun || !strings.HasPrefix(stderr, "modelgate: audit export") {
			t.Errorf("audit export %v: exit %d %s; want exit 2", args, code, stderr)
		}
	}
	if code, _, stderr := runCLI(t, "audit", "import", "--database", db); code != exitCantRun || !strings.Contains(stderr, "expected one FILE") {
		t.Errorf("audit import without a file: exit %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "audit", "import", "--database", db, filepath.Join(t.TempDir(), "missing.jsonl")); code != exitCantRun || !strings.Contains(stderr, "missing.jsonl") {
		t.Errorf("audit import of a missing file: exit %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "audit", "export", "--database", filepath.Join(t.TempDir(), "none.db")); code != exitCantRun || !strings.Contains(stderr, "no such database") {
		t.Errorf("audit export of a missing database: exit %d %s", code, stderr)
	}
}
