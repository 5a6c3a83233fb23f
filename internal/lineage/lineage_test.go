package lineage_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/checks"
	"github.com/modelgate/modelgate/checks/table"
	"github.com/modelgate/modelgate/internal/gate"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/lineage"
	"github.com/modelgate/modelgate/internal/lineagetest"
	"github.com/modelgate/modelgate/internal/schema"
)

const example = "../../examples/gitops/models/fraud-detector/2.3.0"

// project is a training repository: a DVC project whose model/ folder holds
// the example manifest and its data.
type project struct {
	root string
}

func newProject(t *testing.T) *project {
	t.Helper()
	p := &project{root: t.TempDir()}
	lineagetest.Init(t, p.root)
	for _, f := range []string{"data/current.csv", "data/reference.csv", "eval/predictions.csv", "eval/baseline_predictions.csv", "model.yaml"} {
		data, err := os.ReadFile(filepath.Join(example, f))
		if err != nil {
			t.Fatal(err)
		}
		p.write(t, "model/"+f, string(data))
	}
	return p
}

func (p *project) write(t *testing.T, rel, data string) {
	t.Helper()
	name := filepath.Join(p.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (p *project) read(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(p.root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// track puts the project under DVC as a team would: dvc add of the current
// data and of the evaluation folder, and a split stage whose wdir is model/
// that makes the reference data from the current.
func (p *project) track(t *testing.T) (current, eval, reference lineagetest.Hash) {
	t.Helper()
	current = lineagetest.Add(t, p.root, "model/data/current.csv")
	eval = lineagetest.Add(t, p.root, "model/eval")
	lineagetest.Repro(t, p.root, ".", lineagetest.Stage{
		Name: "split", Cmd: "python split.py", Wdir: "model",
		Deps: []string{"data/current.csv"}, Outs: []string{"data/reference.csv"},
	})
	return current, eval, lineagetest.Sum(t, p.root, "model/data/reference.csv")
}

// lineage replaces the manifest's spec.lineage.datasets with the given YAML
// lines (and whatever else spec.lineage then holds).
func (p *project) lineage(t *testing.T, lines string) {
	t.Helper()
	m := p.read(t, "model/model.yaml")
	start := strings.Index(m, "    datasets:\n")
	end := strings.Index(m, "  data:\n")
	if start < 0 || end < start {
		t.Fatal("the example manifest has no datasets before data")
	}
	p.write(t, "model/model.yaml", m[:start]+lines+m[end:])
}

func datasets(reference, eval lineagetest.Hash) string {
	return "    datasets:\n" +
		"      - {name: train, uri: s3://acme-data/fraud/reference.csv, path: model/data/reference.csv, digest: md5:" + reference.MD5 + "}\n" +
		"      - {name: holdout, uri: s3://acme-data/fraud/eval, path: model/eval, digest: md5:" + strings.TrimSuffix(eval.MD5, ".dir") + "}\n"
}

// checkConfig runs the checks of the project's manifest, as modelgate check
// does, and returns what lineage.Check compares.
func (p *project) checkConfig(t *testing.T) (lineage.Config, func()) {
	t.Helper()
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(p.root, "model")
	m, err := gitops.ParseManifest(v, "model/model.yaml", []byte(p.read(t, "model/model.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	var cfg gitops.Config
	if err := v.Decode(schema.Config, gitops.ConfigPath, nil, &cfg); err != nil {
		t.Fatal(err)
	}
	files, err := gitops.OpenDir(dir, cfg.Limits.FileBytes)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := gate.RunChecks(context.Background(), m, files, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	return lineage.Config{
		Manifest: m, Evidence: ev, Files: files, Dir: dir,
		Limits: table.Limits{Rows: cfg.Limits.Rows, Columns: cfg.Limits.Columns},
	}, func() { files.Close() }
}

func (p *project) checkDVC(t *testing.T) (*checks.Lineage, error) {
	t.Helper()
	cfg, done := p.checkConfig(t)
	defer done()
	d, err := lineage.OpenDVC(p.root)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	cfg.DVC = d
	return lineage.Check(context.Background(), cfg)
}

func mustCheckDVC(t *testing.T, p *project) *checks.Lineage {
	t.Helper()
	l, err := p.checkDVC(t)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// subjects lists the mismatches' subjects.
func subjects(l *checks.Lineage) []string {
	var out []string
	for _, m := range l.Mismatches {
		out = append(out, m.Subject)
	}
	return out
}

func TestDVCConsistent(t *testing.T) {
	p := newProject(t)
	current, eval, reference := p.track(t)
	p.lineage(t, datasets(reference, eval))
	l := mustCheckDVC(t, p)
	if len(l.Mismatches) != 0 {
		t.Fatalf("mismatches of a consistent project: %+v", l.Mismatches)
	}
	if l.DVC.Files != 3 {
		t.Errorf("files read = %d, want 3 (two .dvc files and dvc.lock)", l.DVC.Files)
	}
	want := map[string]string{
		"model/data/current.csv.dvc: outs[0]": "model/data/current.csv " + current.MD5,
		"model/eval.dvc: outs[0]":             "model/eval " + strings.TrimSuffix(eval.MD5, ".dir"),
		"dvc.lock: stages.split.deps[0]":      "model/data/current.csv " + current.MD5,
		"dvc.lock: stages.split.outs[0]":      "model/data/reference.csv " + reference.MD5,
	}
	got := make(map[string]string)
	for _, e := range l.DVC.Tracked {
		got[e.Source] = e.Path + " " + e.MD5
	}
	for src, w := range want {
		if got[src] != w {
			t.Errorf("tracked %s = %q, want %q (all: %v)", src, got[src], w, got)
		}
	}
}

func TestDVCMismatches(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, p *project, eval, reference lineagetest.Hash)
		want  []string
		say   string
	}{
		{"dataset digest differs", func(t *testing.T, p *project, eval, reference lineagetest.Hash) {
			p.lineage(t, strings.Replace(datasets(reference, eval), "md5:"+reference.MD5, "md5:0123456789abcdef0123456789abcdef", 1))
		}, []string{"spec.lineage.datasets[0].digest"}, "the manifest's digest is md5:0123456789abcdef0123456789abcdef, DVC records md5:"},
		{"dataset without digest", func(t *testing.T, p *project, eval, reference lineagetest.Hash) {
			p.lineage(t, strings.Replace(datasets(reference, eval), ", digest: md5:"+reference.MD5, "", 1))
		}, []string{"spec.lineage.datasets[0].digest"}, "dataset train has no digest"},
		{"dataset with a sha256 digest", func(t *testing.T, p *project, eval, reference lineagetest.Hash) {
			p.lineage(t, strings.Replace(datasets(reference, eval), "md5:"+reference.MD5, "sha256:"+strings.Repeat("ab", 32), 1))
		}, []string{"spec.lineage.datasets[0].digest"}, "sha256 digest cannot be compared"},
		{"dataset DVC does not track", func(t *testing.T, p *project, eval, reference lineagetest.Hash) {
			p.lineage(t, datasets(reference, eval)+"      - {name: extra, uri: s3://acme-data/extra.csv, path: model/extra.csv, digest: md5:"+reference.MD5+"}\n")
		}, []string{"spec.lineage.datasets[2].path"}, "DVC tracks no model/extra.csv"},
		{"directory dataset digest differs", func(t *testing.T, p *project, eval, reference lineagetest.Hash) {
			p.lineage(t, strings.Replace(datasets(reference, eval), strings.TrimSuffix(eval.MD5, ".dir"), reference.MD5, 1))
		}, []string{"spec.lineage.datasets[1].digest"}, "for model/eval (model/eval.dvc: outs[0])"},
		{"data changed after dvc add", func(t *testing.T, p *project, eval, reference lineagetest.Hash) {
			p.lineage(t, datasets(reference, eval))
			p.write(t, "model/data/current.csv", strings.Replace(p.read(t, "model/data/current.csv"), "c23000001,39.10", "c23000001,39.11", 1))
		}, []string{"inputs[data/current.csv]", "inputs[data/current.csv]"}, "the current data data/current.csv that the checks read has md5"},
		{"file of a tracked directory changed", func(t *testing.T, p *project, eval, reference lineagetest.Hash) {
			p.lineage(t, datasets(reference, eval))
			p.write(t, "model/eval/predictions.csv", p.read(t, "model/eval/predictions.csv")+"\n")
		}, []string{"inputs[eval/predictions.csv]"}, "(model/eval.dvc: outs[0])"},
		{"stale dvc.lock", func(t *testing.T, p *project, eval, reference lineagetest.Hash) {
			p.lineage(t, datasets(reference, eval))
			lock := p.read(t, "dvc.lock")
			p.write(t, "dvc.lock", strings.Replace(lock, reference.MD5, "ffffffffffffffffffffffffffffffff", 1))
		}, []string{"spec.lineage.datasets[0].digest", "inputs[data/reference.csv]"}, "(dvc.lock: stages.split.outs[0])"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProject(t)
			_, eval, reference := p.track(t)
			tt.setup(t, p, eval, reference)
			l := mustCheckDVC(t, p)
			if got := strings.Join(subjects(l), " "); got != strings.Join(tt.want, " ") {
				t.Fatalf("mismatches %q, want %q: %+v", got, tt.want, l.Mismatches)
			}
			for _, m := range l.Mismatches {
				if m.Source != checks.SourceDVC || m.Expected == m.Actual {
					t.Errorf("mismatch %+v", m)
				}
			}
			if !strings.Contains(l.Mismatches[0].Message, tt.say) {
				t.Errorf("message %q does not say %q", l.Mismatches[0].Message, tt.say)
			}
		})
	}
}

// TestDVCUnlistedFile reads a file that lies in a directory DVC tracks but
// was added after dvc add: DVC never recorded it.
func TestDVCUnlistedFile(t *testing.T) {
	p := newProject(t)
	preds := p.read(t, "model/eval/predictions.csv")
	if err := os.Remove(filepath.Join(p.root, "model/eval/predictions.csv")); err != nil {
		t.Fatal(err)
	}
	_, eval, reference := p.track(t)
	p.write(t, "model/eval/predictions.csv", preds)
	p.lineage(t, datasets(reference, eval))
	l := mustCheckDVC(t, p)
	if got := strings.Join(subjects(l), " "); got != "inputs[eval/predictions.csv]" || !strings.Contains(l.Mismatches[0].Message, "holds no such file") {
		t.Fatalf("mismatches %+v", l.Mismatches)
	}
}

func TestDVCRefusesWhatItCannotVerify(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, p *project, eval lineagetest.Hash)
		want  string
	}{
		{"directory listing not in the cache", func(t *testing.T, p *project, eval lineagetest.Hash) {
			if err := os.RemoveAll(filepath.Join(p.root, ".dvc", "cache")); err != nil {
				t.Fatal(err)
			}
		}, "is not in the DVC cache (.dvc/cache/files/md5/"},
		{"corrupt directory listing", func(t *testing.T, p *project, eval lineagetest.Hash) {
			h := eval.MD5
			p.write(t, ".dvc/cache/files/md5/"+h[:2]+"/"+h[2:], `[{"md5": "00000000000000000000000000000000", "relpath": "predictions.csv"}]`)
		}, "the cache is corrupt"},
		{"md5 written by DVC 2", func(t *testing.T, p *project, eval lineagetest.Hash) {
			p.write(t, "model/data/current.csv.dvc", strings.Replace(p.read(t, "model/data/current.csv.dvc"), "  hash: md5\n", "", 1))
		}, "written by DVC 2"},
		{"lock file of DVC 1", func(t *testing.T, p *project, eval lineagetest.Hash) {
			p.write(t, "dvc.lock", strings.Replace(p.read(t, "dvc.lock"), "schema: '2.0'\n", "", 1))
		}, "dvc.lock: schema \"\""},
		{"md5 that is not one", func(t *testing.T, p *project, eval lineagetest.Hash) {
			p.write(t, "model/eval.dvc", strings.Replace(p.read(t, "model/eval.dvc"), eval.MD5, "../../etc/passwd", 1))
		}, "model/eval.dvc: outs[0]: md5 \"../../etc/passwd\" is not 32 lower-case hex digits"},
		{"not YAML", func(t *testing.T, p *project, eval lineagetest.Hash) {
			p.write(t, "model/eval.dvc", "outs: [\n")
		}, "model/eval.dvc: yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProject(t)
			_, eval, reference := p.track(t)
			p.lineage(t, datasets(reference, eval))
			tt.setup(t, p, eval)
			if l, err := p.checkDVC(t); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v (lineage %+v), want it to say %q", err, l, tt.want)
			}
		})
	}
}

// TestDVCImportURL matches a dataset by the URL that dvc import-url records
// as its dependency.
func TestDVCImportURL(t *testing.T) {
	p := newProject(t)
	h := lineagetest.Sum(t, p.root, "model/data/reference.csv")
	p.write(t, "model/data/reference.csv.dvc", "md5: 9a8b7c6d5e4f30211203f4e5d6c7b8a9\nfrozen: true\ndeps:\n- md5: "+h.MD5+"\n  size: "+strconv.FormatInt(h.Size, 10)+"\n  hash: md5\n  path: s3://acme-data/fraud/reference.csv\nouts:\n- md5: "+h.MD5+"\n  size: "+strconv.FormatInt(h.Size, 10)+"\n  hash: md5\n  path: reference.csv\n")
	p.lineage(t, "    datasets:\n      - {name: train, uri: s3://acme-data/fraud/reference.csv, digest: md5:0123456789abcdef0123456789abcdef}\n")
	l := mustCheckDVC(t, p)
	if got := strings.Join(subjects(l), " "); got != "spec.lineage.datasets[0].digest" {
		t.Fatalf("mismatches %+v", l.Mismatches)
	}
	if l.Mismatches[0].Expected != "md5:"+h.MD5 || !strings.Contains(l.Mismatches[0].Message, "s3://acme-data/fraud/reference.csv (model/data/reference.csv.dvc: deps[0])") {
		t.Errorf("mismatch %+v", l.Mismatches[0])
	}
}
