package lineage

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Bounds on what is read of a file store: a metric's file holds a line per
// logged value.
const (
	maxMetaFile   = 1 << 20
	maxMetricFile = 64 << 20
	maxMLmodel    = 1 << 20
	maxArtifacts  = 10_000 // entries of a run's artifacts searched for MLmodel files
)

// FileStore is an MLflow file store: the mlruns folder that MLflow writes
// without a tracking server. It may be used concurrently.
type FileStore struct {
	dir  string
	uri  string
	root *os.Root
	fsys fs.FS
}

// OpenFileStore opens the file store in dir (an mlruns folder). Links are not
// followed out of it.
func OpenFileStore(dir string) (*FileStore, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("MLflow file store: %w", err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("MLflow file store: %w", err)
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	return &FileStore{dir: dir, uri: u.String(), root: r, fsys: r.FS()}, nil
}

// URI is the store as a file: URL, as MLflow names a file store.
func (s *FileStore) URI() string { return s.uri }

func (s *FileStore) Close() error { return s.root.Close() }

// runIDRE is what MLflow's run ids are: 32 hex digits (uuid4().hex).
var runIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// runMeta is a run's meta.yaml.
type runMeta struct {
	RunID       string `yaml:"run_id"`
	RunUUID     string `yaml:"run_uuid"`
	Status      int    `yaml:"status"`
	ArtifactURI string `yaml:"artifact_uri"`
}

// runStatus are the names of MLflow's RunStatus values, which meta.yaml holds
// as numbers.
var runStatus = map[int]string{1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}

// Run reads mlruns/<experiment>/<id>/: meta.yaml, metrics/<key>, params/<key>
// and the MLmodel files of its artifacts.
func (s *FileStore) Run(ctx context.Context, id string) (*Run, error) {
	if !runIDRE.MatchString(id) {
		return nil, fmt.Errorf("MLflow run %q: not an MLflow run id (32 hex digits)", id)
	}
	matches, err := fs.Glob(s.fsys, "*/"+id+"/meta.yaml")
	if err != nil {
		return nil, fmt.Errorf("MLflow file store %s: %w", s.dir, err)
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("MLflow run %s does not exist in the file store %s (no <experiment>/%s/meta.yaml)", id, s.dir, id)
	}
	if len(matches) > 1 {
		return nil, fmt.Errorf("MLflow run %s: the file store %s holds it in %d experiments", id, s.dir, len(matches))
	}
	dir := path.Dir(matches[0])
	data, err := readFile(s.fsys, matches[0], maxMetaFile)
	if err != nil {
		return nil, fmt.Errorf("MLflow run %s: %w", id, err)
	}
	var meta runMeta
	if err := decodeYAML(path.Join(s.dir, matches[0]), data, &meta); err != nil {
		return nil, err
	}
	if got := cmp.Or(meta.RunID, meta.RunUUID); got != id {
		return nil, fmt.Errorf("%s: run_id %q, not the run of its folder", path.Join(s.dir, matches[0]), got)
	}
	run := &Run{ID: id, Status: runStatus[meta.Status], ArtifactURI: meta.ArtifactURI, Metrics: make(map[string]float64), Params: make(map[string]string)}
	if run.Status == "" {
		run.Status = strconv.Itoa(meta.Status)
	}
	err = s.walkFiles(path.Join(dir, "metrics"), func(name, key string) error {
		data, err := readFile(s.fsys, name, maxMetricFile)
		if err != nil {
			return err
		}
		v, err := ParseMetricFile(path.Join(s.dir, name), data)
		if err != nil {
			return err
		}
		run.Metrics[key] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("MLflow run %s: %w", id, err)
	}
	err = s.walkFiles(path.Join(dir, "params"), func(name, key string) error {
		data, err := readFile(s.fsys, name, maxMetaFile)
		if err != nil {
			return err
		}
		run.Params[key] = string(data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("MLflow run %s: %w", id, err)
	}
	if run.Models, err = s.models(path.Join(dir, "artifacts")); err != nil {
		return nil, fmt.Errorf("MLflow run %s: %w", id, err)
	}
	return run, nil
}

// walkFiles calls fn for each regular file under dir with its key, its path
// under dir: MLflow keeps a key with slashes in folders. A missing dir has no
// files.
func (s *FileStore) walkFiles(dir string, fn func(name, key string) error) error {
	err := fs.WalkDir(s.fsys, dir, func(name string, de fs.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return err
		}
		return fn(name, strings.TrimPrefix(name, dir+"/"))
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// models reads the MLmodel file of every model logged under the artifacts
// folder.
func (s *FileStore) models(dir string) ([]LoggedModel, error) {
	var out []LoggedModel
	n := 0
	err := fs.WalkDir(s.fsys, dir, func(name string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n > maxArtifacts {
			return fmt.Errorf("%s: more than %d artifacts to search for MLmodel files", path.Join(s.dir, dir), maxArtifacts)
		}
		if de.Name() != "MLmodel" || !de.Type().IsRegular() {
			return nil
		}
		data, err := readFile(s.fsys, name, maxMLmodel)
		if err != nil {
			return err
		}
		inputs, err := ParseMLmodel(path.Join(s.dir, name), data)
		if err != nil {
			return err
		}
		out = append(out, LoggedModel{ArtifactPath: strings.TrimPrefix(path.Dir(name), dir+"/"), Inputs: inputs})
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return out, err
}

// ParseMLmodel reads the signature's inputs of an MLmodel file; nil when the
// model was logged without a signature.
func ParseMLmodel(name string, data []byte) ([]SignatureInput, error) {
	var m struct {
		Signature *struct {
			Inputs *string `yaml:"inputs"`
		} `yaml:"signature"`
	}
	if err := decodeYAML(name, data, &m); err != nil {
		return nil, err
	}
	if m.Signature == nil || m.Signature.Inputs == nil {
		return nil, nil
	}
	return ParseSignatureInputs(name, *m.Signature.Inputs)
}

// ParseMetricFile returns the value a metric's file holds at its latest step:
// MLflow writes a line "<timestamp> <value> <step>" per logged value (before
// MLflow 1.0 without the step), and its latest value is the one of the highest
// step, then the latest timestamp, then the highest value.
func ParseMetricFile(name string, data []byte) (float64, error) {
	type point struct {
		ts, step int64
		v        float64
	}
	var best *point
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 4096)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 && len(f) != 3 {
			return 0, fmt.Errorf("%s:%d: %d fields; MLflow writes \"timestamp value step\"", name, line, len(f))
		}
		var p point
		var err error
		if p.ts, err = strconv.ParseInt(f[0], 10, 64); err != nil {
			return 0, fmt.Errorf("%s:%d: timestamp %q is not an integer", name, line, f[0])
		}
		if p.v, err = parseMetricValue(f[1]); err != nil {
			return 0, fmt.Errorf("%s:%d: value %q is not a number", name, line, f[1])
		}
		if len(f) == 3 {
			if p.step, err = strconv.ParseInt(f[2], 10, 64); err != nil {
				return 0, fmt.Errorf("%s:%d: step %q is not an integer", name, line, f[2])
			}
		}
		if best == nil || later(p.step, p.ts, p.v, best.step, best.ts, best.v) {
			best = &p
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	if best == nil {
		return 0, fmt.Errorf("%s: no values", name)
	}
	return best.v, nil
}

// later orders metric values as MLflow picks the latest: by step, timestamp,
// then value, with NaN the greatest.
func later(step, ts int64, v float64, bStep, bTS int64, bv float64) bool {
	if step != bStep {
		return step > bStep
	}
	if ts != bTS {
		return ts > bTS
	}
	return math.IsNaN(v) && !math.IsNaN(bv) || v > bv
}

// modelMeta is a registered model version's meta.yaml in the file store:
// mlruns/models/<name>/version-<version>/meta.yaml.
type modelMeta struct {
	Name    string `yaml:"name"`
	Version string `yaml:"version"`
	RunID   string `yaml:"run_id"`
	Source  string `yaml:"source"`
	Status  string `yaml:"status"`
}

func (s *FileStore) ModelVersion(ctx context.Context, name, version string) (*ModelVersion, error) {
	p := path.Join("models", name, "version-"+version, "meta.yaml")
	if !fs.ValidPath(p) || strings.ContainsAny(name+version, "/\\") || name == ".." || version == ".." {
		return nil, fmt.Errorf("MLflow model %q version %q: not a registered model's name and version", name, version)
	}
	data, err := readFile(s.fsys, p, maxMetaFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("MLflow model %s version %s does not exist in the file store %s (no %s)", name, version, s.dir, p)
	}
	if err != nil {
		return nil, fmt.Errorf("MLflow model %s version %s: %w", name, version, err)
	}
	var m modelMeta
	if err := decodeYAML(path.Join(s.dir, p), data, &m); err != nil {
		return nil, err
	}
	if m.Name != name || m.Version != version {
		return nil, fmt.Errorf("%s: model %q version %q, not the one of its folder", path.Join(s.dir, p), m.Name, m.Version)
	}
	return &ModelVersion{Name: m.Name, Version: m.Version, RunID: m.RunID, Source: m.Source, Status: m.Status}, nil
}
