package github

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/git"
	"github.com/modelgate/modelgate/internal/gittest"
)

// TestComparisonPatchesServeReads: after a comparison, both sides of every
// changed file whose patch is the whole file are read from it, with the bytes
// git has; only the sides a patch covers in part cost a blob.
func TestComparisonPatchesServeReads(t *testing.T) {
	ctx := context.Background()
	long := make([]string, 40)
	for i := range long {
		long[i] = fmt.Sprintf("line %d", i+1)
	}
	w := gittest.New(t)
	w.Write("environments/dev.yaml", "stage: dev\nmodels: {a: \"1.0.0\"}\n")
	w.Write("no-newline.txt", "one\ntwo")
	w.Write("crlf.txt", "one\r\ntwo\r\n")
	w.Write("removed.yaml", "gone: soon\n")
	w.Write("docs/old.md", "a\nb\nc\nd\ne\nf\n")
	w.Write("long.txt", strings.Join(long, "\n")+"\n")
	base := w.Commit("base", t0)
	w.Branch("promote")
	w.Write("environments/dev.yaml", "stage: dev\nmodels: {a: \"2.0.0\"}\n")
	w.Write("no-newline.txt", "one\nthree")
	w.Write("crlf.txt", "one\r\nthree\r\n")
	w.Remove("removed.yaml")
	w.Remove("docs/old.md")
	w.Write("docs/new.md", "a\nb\nC\nd\ne\nf\n")
	w.Write("models/a/2.0.0/model.yaml", "name: a\nversion: 2.0.0\n")
	long[19] = "changed"
	w.Write("long.txt", strings.Join(long, "\n")+"\n")
	head := w.Commit("promote", t0.Add(time.Hour))
	w.Checkout("main")
	f := newFixture(t, w)
	local, err := git.Open(ctx, w.Dir)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := f.repo.MergeBase(ctx, base, head); err != nil {
		t.Fatal(err)
	}
	f.gh.ResetCalls()
	files := []string{"environments/dev.yaml", "no-newline.txt", "crlf.txt", "removed.yaml", "docs/old.md", "docs/new.md", "models/a/2.0.0/model.yaml", "long.txt"}
	for _, sha := range []string{base, head} {
		for _, file := range files {
			got, gotErr := f.repo.Snapshot(sha).ReadFile(ctx, file)
			want, wantErr := local.Snapshot(sha).ReadFile(ctx, file)
			if string(got) != string(want) || (gotErr == nil) != (wantErr == nil) {
				t.Errorf("ReadFile(%s) at %s = %q, %v; git has %q, %v", file, sha[:7], got, gotErr, want, wantErr)
			}
		}
	}
	// long.txt's one hunk covers neither side whole.
	if n := f.count("GET", routeBlob); n != 2 {
		t.Errorf("%d blobs fetched, want the 2 of long.txt: %v", n, f.calls())
	}
}

func TestPatchSides(t *testing.T) {
	for _, tt := range []struct {
		patch         string
		before, after string
		ok            bool
	}{
		{"@@ -1,2 +1,2 @@\n a\n-b\n+c", "a\nb\n", "a\nc\n", true},
		{"@@ -0,0 +1 @@\n+new", "", "new\n", true},
		{"@@ -1 +0,0 @@\n-old\n\\ No newline at end of file", "old", "", true},
		{"@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file", "a\nb", "a\nc", true},
		{"@@ -3,2 +3,2 @@\n a\n-b\n+c", "", "", false},              // not from the top
		{"@@ -1,3 +1,3 @@\n a\n-b\n+c", "", "", false},              // fewer lines than the header says
		{"@@ -1 +1 @@\n-a\n+b\n@@ -9 +9 @@\n-c\n+d", "", "", false}, // two hunks
		{"@@ -1 +1 @@\n-a\n\n+b", "", "", false},
		{"\\ No newline at end of file", "", "", false},
		{"", "", "", false},
	} {
		before, after, ok := patchSides(tt.patch)
		if ok != tt.ok || string(before) != tt.before || string(after) != tt.after {
			t.Errorf("patchSides(%q) = %q, %q, %v; want %q, %q, %v", tt.patch, before, after, ok, tt.before, tt.after, tt.ok)
		}
	}
}

func FuzzPatchSides(f *testing.F) {
	f.Add("@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c")
	f.Add("@@ -0,0 +1 @@\n+new")
	f.Fuzz(func(t *testing.T, patch string) {
		before, after, ok := patchSides(patch)
		if !ok && (before != nil || after != nil) {
			t.Errorf("patchSides(%q) refused the patch but returned sides", patch)
		}
	})
}
