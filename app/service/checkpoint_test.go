package service_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/modelgate/modelgate/app/service"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

var (
	publishedRecordRE     = regexp.MustCompile(`decision recorded as records? ([0-9, ]+);`)
	publishedCheckpointRE = regexp.MustCompile("(?s)```\n(.*?)```")
)

// published reads what a check run summary or the comment publishes: the
// decision's record numbers and the checkpoint, which must verify.
func published(t *testing.T, where, text string, v note.Verifier) ([]int64, audit.Checkpoint) {
	t.Helper()
	rec, cp := publishedRecordRE.FindStringSubmatch(text), publishedCheckpointRE.FindStringSubmatch(text)
	if rec == nil || cp == nil {
		t.Fatalf("%s publishes no audit record and checkpoint:\n%s", where, text)
	}
	var seqs []int64
	for f := range strings.SplitSeq(rec[1], ", ") {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("%s: record %q: %v", where, f, err)
		}
		seqs = append(seqs, n)
	}
	c, err := audit.OpenCheckpoint([]byte(cp[1]), v)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return seqs, c
}

func TestDecisionsPublishSignedCheckpoints(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, options{})
		n := w.open("alice")
		head := w.gh.PullRequest(repoName, n).HeadSHA
		w.deliver(w.gh.PullRequestEvent(repoName, n, "opened"), http.StatusAccepted)
		w.settle()
		w.approve(n, "bob")
		w.settle()

		_, vkey := auditKeys()
		v, err := note.NewVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		var decisions []int64
		for _, r := range w.records(audit.Filter{Kind: audit.KindDecision, PullRequest: n}) {
			decisions = append(decisions, r.Seq)
		}
		var checkpoints []audit.TreeHead
		publishedBy := map[string]string{"the comment": w.comment(n).Body}
		for i, cr := range w.gh.CheckRuns(repoName) {
			if cr.HeadSHA == head {
				publishedBy[cr.Name+" run "+strconv.Itoa(i)] = cr.Summary
			}
		}
		if len(publishedBy) != 7 {
			t.Fatalf("%d check runs and comments; want the three check runs of each of two evaluations and the comment", len(publishedBy))
		}
		for where, text := range publishedBy {
			seqs, cp := published(t, where, text, v)
			for _, seq := range seqs {
				if !slices.Contains(decisions, seq) || cp.Size < seq {
					t.Errorf("%s publishes record %d and a checkpoint of %d records; the decisions are records %v", where, seq, cp.Size, decisions)
				}
			}
			checkpoints = append(checkpoints, cp.TreeHead)
		}
		if _, _, err := w.db.VerifyTree(t.Context(), checkpoints...); err != nil {
			t.Fatalf("the log does not extend the checkpoints the App published: %v", err)
		}

		// Whoever can write the database rewrites the first decision and
		// everything after it; only the published checkpoints tell.
		w.stop()
		records, err := w.db.Records(t.Context(), audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		records[decisions[0]-1].Actor = "mallory"
		sqlstoretest.Forge(t, dsn, records)
		if _, err := w.db.Verify(t.Context()); err != nil {
			t.Fatalf("the rewritten chain alone should verify: %v", err)
		}
		_, _, err = w.db.VerifyTree(t.Context(), checkpoints...)
		if broken, ok := errors.AsType[*audit.ChainError](err); !ok || broken.Seq > decisions[0] {
			t.Errorf("VerifyTree with the published checkpoints = %v; want the rewrite found at or before record %d", err, decisions[0])
		}
	})
}

func TestServeRefusesWithoutAnAuditKey(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = service.Serve(context.Background(), ln, service.Config{AppID: appID, WebhookSecret: []byte("s"), Database: t.TempDir() + "/db"})
	if err == nil || !strings.Contains(err.Error(), "audit key is empty") {
		t.Errorf("Serve without an audit key = %v; want it refused", err)
	}
}
