package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/sqlstore"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// runCLIEnv runs modelgate with args and the environment env.
func runCLIEnv(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

// auditKeys makes a checkpoint signing key with audit key --new and returns
// the environment that signs with it and the verifier key it printed.
func auditKeys(t *testing.T, name string) (env map[string]string, verifier string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "audit.key")
	code, stdout, stderr := runCLI(t, "audit", "key", "--new", name, "--out", file)
	if code != exitOK {
		t.Fatalf("audit key --new: exit %d %s", code, stderr)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signing key file: %v, %v; want mode 0600", fi, err)
	}
	verifier = strings.TrimSpace(stdout)
	if code, stdout, _ := runCLI(t, "audit", "key", "--key-file", file); code != exitOK || strings.TrimSpace(stdout) != verifier {
		t.Fatalf("audit key printed %q (exit %d); audit key --new printed %q", stdout, code, verifier)
	}
	if code, _, stderr := runCLI(t, "audit", "key", "--new", name, "--out", file); code != exitCantRun || !strings.Contains(stderr, "exists") {
		t.Errorf("audit key --new over an existing key: exit %d %s; want it refused", code, stderr)
	}
	return map[string]string{"MODELGATE_AUDIT_KEY_FILE": file}, verifier
}

// judgedLog runs the gate three times on a real repository, keeping a
// checkpoint after each decision as the App publishes one, and returns the
// database, the checkpoint files and the records.
func judgedLog(t *testing.T, env map[string]string) (db string, checkpoints []string, records []audit.Record) {
	t.Helper()
	db = filepath.Join(t.TempDir(), "audit.db")
	checkpoints = gateRuns(t, env, db, nil, []string{"--approved-by", "bob:compliance"}, []string{"--approved-by", "bob:compliance", "--approved-by", "carol"})
	store, err := sqlstore.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if records, err = store.Records(t.Context(), audit.Filter{}); err != nil || len(records) != 3 {
		t.Fatalf("records: %d, %v; want 3", len(records), err)
	}
	return db, checkpoints, records
}

// gateRuns runs the gate on a real repository into the store at dsn, once
// per list of approval flags, keeping a checkpoint after each decision as
// the App publishes one, and returns the checkpoint files.
func gateRuns(t *testing.T, env map[string]string, dsn string, approvals ...[]string) (checkpoints []string) {
	t.Helper()
	r := promotionRepo(t)
	for i, approved := range approvals {
		args := append([]string{"gate", "--repo", r.Dir, "--base", "main", "--head", "promote", "--author", "alice", "--database", dsn}, approved...)
		if code, stdout, stderr := runCLI(t, args...); code == exitCantRun {
			t.Fatalf("gate: exit %d %s%s", code, stdout, stderr)
		}
		cp := filepath.Join(t.TempDir(), "checkpoint")
		if code, stdout, stderr := runCLIEnv(t, env, "audit", "checkpoint", "--database", dsn, "--out", cp); code != exitOK {
			t.Fatalf("audit checkpoint %d: exit %d %s%s", i+1, code, stdout, stderr)
		}
		checkpoints = append(checkpoints, cp)
	}
	return checkpoints
}

func checkpointArgs(files ...string) []string {
	var args []string
	for _, f := range files {
		args = append(args, "--checkpoint", f)
	}
	return args
}

func TestVerifyWithCheckpointsCatchesRewrittenHistory(t *testing.T) {
	tests := []struct {
		name    string
		rewrite func(t *testing.T, db string, records []audit.Record)
		want    string
	}{
		{
			name: "decision edited, chain, head and tree recomputed forward",
			rewrite: func(t *testing.T, db string, records []audit.Record) {
				records[1].Actor = "mallory"
				sqlstoretest.Forge(t, db, records)
			},
			want: "audit log TAMPERED: audit record 2: differs from the checkpoint of size 2: history rewritten from this record on (record 1 matches the checkpoint of size 1)\n",
		},
		{
			name: "last decision deleted and the head moved back",
			rewrite: func(t *testing.T, db string, records []audit.Record) {
				sqlstoretest.Forge(t, db, records[:2])
			},
			want: "audit log TAMPERED: audit record 3: missing (the checkpoint of size 3 has 3 records, the log only 2: tail cut and the chain head moved back)\n",
		},
		{
			name: "older copy restored and another decision recorded",
			rewrite: func(t *testing.T, db string, records []audit.Record) {
				forged := records[:2:2]
				other := records[2]
				other.Actor = "mallory"
				sqlstoretest.Forge(t, db, append(forged, other))
			},
			want: "audit log TAMPERED: audit record 3: differs from the checkpoint of size 3: history rewritten from this record on (records 1 to 2 match the checkpoint of size 2)\n",
		},
	}
	env, verifier := auditKeys(t, "modelgate.example.com/audit")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, checkpoints, records := judgedLog(t, env)
			verifyArgs := append([]string{"audit", "verify", "--database", db, "--verifier-key", verifier}, checkpointArgs(checkpoints...)...)
			if code, stdout, stderr := runCLI(t, verifyArgs...); code != exitOK || !strings.Contains(stdout, "consistent with 3 checkpoints (tree sizes 1, 2, 3)") {
				t.Fatalf("before the rewrite: exit %d %s%s", code, stdout, stderr)
			}

			tt.rewrite(t, db, records)

			if code, stdout, _ := runCLI(t, "audit", "verify", "--database", db); code != exitOK {
				t.Fatalf("without checkpoints the rewrite should pass unseen, as it did before checkpoints: exit %d %s", code, stdout)
			}
			code, stdout, stderr := runCLI(t, verifyArgs...)
			if code != exitFailed || stdout != tt.want {
				t.Errorf("with checkpoints: exit %d\n%s%s\nwant exit 1 and\n%s", code, stdout, stderr, tt.want)
			}
		})
	}
}

func TestCheckpointsThatDoNotVerifyCannotVouch(t *testing.T) {
	env, verifier := auditKeys(t, "modelgate.example.com/audit")
	_, otherVerifier := auditKeys(t, "modelgate.example.com/audit")
	otherEnv, _ := auditKeys(t, "elsewhere.example.com/audit")
	db, checkpoints, _ := judgedLog(t, env)

	genuine, err := os.ReadFile(checkpoints[2])
	if err != nil {
		t.Fatal(err)
	}
	forged := filepath.Join(t.TempDir(), "forged")
	if err := os.WriteFile(forged, bytes.Replace(genuine, []byte("\n3\n"), []byte("\n2\n"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(t.TempDir(), "foreign")
	if code, _, stderr := runCLIEnv(t, otherEnv, "audit", "checkpoint", "--database", db, "--out", foreign); code != exitOK {
		t.Fatalf("audit checkpoint: %s", stderr)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"size edited under the signature", []string{"--verifier-key", verifier, "--checkpoint", forged}, "checkpoint " + forged + ": invalid audit checkpoint: not signed by modelgate.example.com/audit: invalid signature"},
		{"another key of the same name", []string{"--verifier-key", otherVerifier, "--checkpoint", checkpoints[2]}, "not signed by modelgate.example.com/audit: note has no verifiable signatures"},
		{"another log's checkpoint", []string{"--verifier-key", verifier, "--checkpoint", foreign}, "not signed by modelgate.example.com/audit"},
		{"no verifier key", []string{"--checkpoint", checkpoints[2]}, "--checkpoint needs the verifier key"},
		{"missing checkpoint file", []string{"--verifier-key", verifier, "--checkpoint", "no/such/checkpoint"}, "read checkpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"audit", "verify", "--database", db}, tt.args...)...)
			if code != exitCantRun || !strings.Contains(stderr, tt.want) || strings.Contains(stdout, "intact") {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 saying %q", code, stdout, stderr, tt.want)
			}
		})
	}
	// Whoever holds the signing key verifies without naming the verifier key.
	if code, stdout, stderr := runCLIEnv(t, env, "audit", "verify", "--database", db, "--checkpoint", checkpoints[2]); code != exitOK {
		t.Errorf("with MODELGATE_AUDIT_KEY_FILE: exit %d %s%s", code, stdout, stderr)
	}
}

func TestVerifyCallsAMissingHeadTampered(t *testing.T) {
	env, _ := auditKeys(t, "modelgate.example.com/audit")
	for _, tamper := range []string{`DELETE FROM audit_head`, `DROP TABLE audit_head`, `DROP TABLE audit_records`} {
		t.Run(tamper, func(t *testing.T) {
			db, _, _ := judgedLog(t, env)
			raw, err := sql.Open("sqlite", db)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(tamper); err != nil {
				t.Fatal(err)
			}
			raw.Close()
			if code, stdout, stderr := runCLI(t, "audit", "verify", "--database", db); code != exitFailed || !strings.HasPrefix(stdout, "audit log TAMPERED: audit log: ") {
				t.Errorf("audit verify: exit %d %s%s; want exit 1, tampered", code, stdout, stderr)
			}
			code, stdout, stderr := runCLIEnv(t, env, "audit", "checkpoint", "--database", db)
			if code != exitFailed || !strings.Contains(stdout, "no checkpoint signed") || strings.Contains(stdout, "\n— ") {
				t.Errorf("audit checkpoint of a tampered log: exit %d %s%s; want exit 1 and no checkpoint", code, stdout, stderr)
			}
		})
	}
}
