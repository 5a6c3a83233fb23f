package lineage

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Bounds on what is read of a DVC project. Real .dvc files are a few hundred
// bytes and dvc.lock files a few hundred kilobytes; a directory's listing holds
// about 70 bytes per file.
const (
	maxDVCFile    = 1 << 20
	maxDVCLock    = 16 << 20
	maxDirListing = 64 << 20
	maxDVCFiles   = 100_000
)

// DVC is what a DVC project's .dvc files and dvc.lock files record.
type DVC struct {
	dir     string
	root    *os.Root
	files   int
	entries []Entry
	// listings holds the directory listings read so far, by hash.
	listings map[string]map[string]string
}

// Entry is one file, directory or URL that a .dvc file or a dvc.lock stage
// records with an md5.
type Entry struct {
	Path   string // slash-separated, relative to the project's root; a URL as written
	MD5    string // 32 lower-case hex digits
	Dir    bool   // a directory: MD5 is the hash of its listing (DVC's "<md5>.dir")
	Size   int64
	NFiles int
	// Legacy is an md5 written by DVC 2 (no "hash: md5"), which hashes text
	// files with their CRLF line endings made LF.
	Legacy bool
	Source string // "data/train.csv.dvc: outs[0]", "dvc.lock: stages.train.deps[1]"
}

// dvcItem is an entry of outs or deps, as DVC 3 writes it:
//
//	outs:
//	- md5: 22a1a2931c8370d3aeedd7183606fd7f
//	  size: 14445097
//	  hash: md5
//	  path: data.xml
//
// A directory's md5 ends in ".dir" and it has nfiles. Deps of import-url
// stages may carry an etag or a checksum instead of an md5: they are not
// md5-tracked and are left out.
type dvcItem struct {
	Path   string `yaml:"path"`
	MD5    string `yaml:"md5"`
	Size   int64  `yaml:"size"`
	NFiles int    `yaml:"nfiles"`
	Hash   string `yaml:"hash"`
}

// dvcFile is a .dvc file: what `dvc add`, `dvc import` and `dvc import-url`
// write.
type dvcFile struct {
	Wdir string    `yaml:"wdir"`
	Deps []dvcItem `yaml:"deps"`
	Outs []dvcItem `yaml:"outs"`
}

// dvcLock is a dvc.lock file of schema 2.0.
type dvcLock struct {
	Schema string `yaml:"schema"`
	Stages map[string]struct {
		Deps []dvcItem `yaml:"deps"`
		Outs []dvcItem `yaml:"outs"`
	} `yaml:"stages"`
}

// dvcYAML is what a dvc.lock needs of the dvc.yaml beside it: each stage's
// working directory, which its paths are relative to.
type dvcYAML struct {
	Stages map[string]struct {
		Wdir string `yaml:"wdir"`
		Do   struct {
			Wdir string `yaml:"wdir"`
		} `yaml:"do"`
	} `yaml:"stages"`
}

var md5RE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// OpenDVC reads every .dvc file and dvc.lock file under root, the DVC
// project's root (the folder that holds .dvc/). Links are not followed, and
// nothing outside root is read.
func OpenDVC(root string) (*DVC, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("DVC project: %w", err)
	}
	d := &DVC{dir: root, root: r, listings: make(map[string]map[string]string)}
	err = fs.WalkDir(r.FS(), ".", func(name string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() {
			if name != "." && (de.Name() == ".git" || de.Name() == ".dvc") {
				return fs.SkipDir
			}
			return nil
		}
		if !de.Type().IsRegular() {
			return nil
		}
		dir := path.Dir(name)
		switch {
		case de.Name() == "dvc.lock":
			data, err := readFile(r.FS(), name, maxDVCLock)
			if err != nil {
				return err
			}
			yml, err := readFile(r.FS(), path.Join(dir, "dvc.yaml"), maxDVCLock)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			entries, err := ParseDVCLock(name, data, yml)
			if err != nil {
				return err
			}
			d.add(entries)
		case strings.HasSuffix(de.Name(), ".dvc"):
			data, err := readFile(r.FS(), name, maxDVCFile)
			if err != nil {
				return err
			}
			entries, err := ParseDVCFile(name, data)
			if err != nil {
				return err
			}
			d.add(entries)
		default:
			return nil
		}
		if d.files++; d.files > maxDVCFiles {
			return fmt.Errorf("more than %d .dvc and dvc.lock files", maxDVCFiles)
		}
		return nil
	})
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("DVC project %s: %w", root, err)
	}
	return d, nil
}

func (d *DVC) Close() error { return d.root.Close() }

func (d *DVC) add(entries []Entry) { d.entries = append(d.entries, entries...) }

// Files is the number of .dvc and dvc.lock files read.
func (d *DVC) Files() int { return d.files }

// ParseDVCFile parses a .dvc file; name is its slash-separated path in the
// project, which its paths are relative to.
func ParseDVCFile(name string, data []byte) ([]Entry, error) {
	var f dvcFile
	if err := decodeYAML(name, data, &f); err != nil {
		return nil, err
	}
	if len(f.Outs) == 0 {
		return nil, fmt.Errorf("%s: no outs: not a .dvc file DVC wrote", name)
	}
	dir := path.Join(path.Dir(name), f.Wdir)
	var out []Entry
	for _, list := range []struct {
		key   string
		items []dvcItem
	}{{"deps", f.Deps}, {"outs", f.Outs}} {
		for i, it := range list.items {
			e, ok, err := it.entry(dir, fmt.Sprintf("%s: %s[%d]", name, list.key, i))
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// ParseDVCLock parses a dvc.lock file; name is its slash-separated path in the
// project. stages is the dvc.yaml beside it (nil if there is none), for the
// stages' working directories.
func ParseDVCLock(name string, data, stages []byte) ([]Entry, error) {
	var lock dvcLock
	if err := decodeYAML(name, data, &lock); err != nil {
		return nil, err
	}
	if lock.Schema != "2.0" {
		return nil, fmt.Errorf("%s: schema %q; DVC 2 and 3 write schema '2.0', and older lock files are not read", name, lock.Schema)
	}
	var yml dvcYAML
	if stages != nil {
		if err := decodeYAML(path.Join(path.Dir(name), "dvc.yaml"), stages, &yml); err != nil {
			return nil, err
		}
	}
	var out []Entry
	for _, stage := range slices.Sorted(maps.Keys(lock.Stages)) {
		// foreach and matrix stages are locked as name@key; their wdir is the
		// stage definition's.
		def := yml.Stages[strings.SplitN(stage, "@", 2)[0]]
		wdir := def.Wdir
		if wdir == "" {
			wdir = def.Do.Wdir
		}
		if strings.Contains(wdir, "${") {
			return nil, fmt.Errorf("%s: stage %s: its wdir %q in dvc.yaml is templated, and the paths relative to it cannot be placed", name, stage, wdir)
		}
		dir := path.Join(path.Dir(name), wdir)
		s := lock.Stages[stage]
		for _, list := range []struct {
			key   string
			items []dvcItem
		}{{"deps", s.Deps}, {"outs", s.Outs}} {
			for i, it := range list.items {
				e, ok, err := it.entry(dir, fmt.Sprintf("%s: stages.%s.%s[%d]", name, stage, list.key, i))
				if err != nil {
					return nil, err
				}
				if ok {
					out = append(out, e)
				}
			}
		}
	}
	return out, nil
}

// entry places an item in the project; ok is false for one without an md5.
func (it dvcItem) entry(dir, source string) (e Entry, ok bool, err error) {
	if it.Path == "" {
		return Entry{}, false, fmt.Errorf("%s: no path", source)
	}
	if it.MD5 == "" {
		return Entry{}, false, nil
	}
	sum, isDir := strings.CutSuffix(it.MD5, ".dir")
	if !md5RE.MatchString(sum) {
		return Entry{}, false, fmt.Errorf("%s: md5 %q is not 32 lower-case hex digits", source, it.MD5)
	}
	if it.Hash != "" && it.Hash != "md5" {
		return Entry{}, false, fmt.Errorf("%s: hash %q; DVC writes md5", source, it.Hash)
	}
	p := it.Path
	if !strings.Contains(p, "://") && !path.IsAbs(p) {
		p = path.Join(dir, p)
	}
	return Entry{Path: p, MD5: sum, Dir: isDir, Size: it.Size, NFiles: it.NFiles, Legacy: it.Hash == "", Source: source}, true, nil
}

// Tracked is what DVC records of one file: the entry that records it, and
// the file's own md5, which for a file inside a tracked directory comes from
// the directory's listing. Listed is false for a file inside a tracked
// directory that its listing does not hold.
type Tracked struct {
	Entry  Entry
	MD5    string
	Listed bool
}

// Lookup returns what every entry of the project records of name, a
// slash-separated path relative to the root or a URL: the entries of name
// itself, and of the directories that hold it, whose listings are read from
// the project's cache. A listing that is not in the cache is an error: the
// file's md5 cannot be known without it.
func (d *DVC) Lookup(name string) ([]Tracked, error) {
	var out []Tracked
	for _, e := range d.entries {
		if e.Path == name {
			out = append(out, Tracked{Entry: e, MD5: e.MD5, Listed: true})
			continue
		}
		rel, inside := strings.CutPrefix(name, e.Path+"/")
		if !inside || !e.Dir || e.Path == "" {
			continue
		}
		listing, err := d.listing(e)
		if err != nil {
			return nil, err
		}
		sum, listed := listing[rel]
		out = append(out, Tracked{Entry: e, MD5: sum, Listed: listed})
	}
	return out, nil
}

// listing reads a directory's listing from the project's cache, where DVC 3
// keeps it as files/md5/<2 hex>/<30 hex>.dir (DVC 2: <2 hex>/<30 hex>.dir): a
// JSON list of {"md5", "relpath"}. The cache is addressed by content, so the
// listing's own md5 must be the directory's.
func (d *DVC) listing(e Entry) (map[string]string, error) {
	if l, ok := d.listings[e.MD5]; ok {
		return l, nil
	}
	rel := e.MD5[:2] + "/" + e.MD5[2:] + ".dir"
	candidates := []string{".dvc/cache/files/md5/" + rel, ".dvc/cache/" + rel}
	var data []byte
	var err error
	var name string
	for _, name = range candidates {
		if data, err = readFile(d.root.FS(), name, maxDirListing); !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: the listing of directory %s (md5 %s.dir) is not in the DVC cache (%s); run dvc fetch", e.Source, e.Path, e.MD5, candidates[0])
	}
	if err != nil {
		return nil, err
	}
	if sum := md5.Sum(data); hex.EncodeToString(sum[:]) != e.MD5 {
		return nil, fmt.Errorf("%s: the DVC cache's %s does not hash to %s: the cache is corrupt", e.Source, name, e.MD5)
	}
	l, err := ParseDirListing(name, data)
	if err != nil {
		return nil, err
	}
	d.listings[e.MD5] = l
	return l, nil
}

// ParseDirListing parses a directory's listing from DVC's cache into the md5
// of each file by its slash-separated path in the directory.
func ParseDirListing(name string, data []byte) (map[string]string, error) {
	var items []struct {
		MD5     string `json:"md5"`
		RelPath string `json:"relpath"`
	}
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, fmt.Errorf("%s: not a DVC directory listing: %w", name, err)
	}
	out := make(map[string]string, len(items))
	for i, it := range items {
		if !md5RE.MatchString(it.MD5) || it.RelPath == "" {
			return nil, fmt.Errorf("%s: entry %d: not an md5 and a relpath", name, i)
		}
		out[it.RelPath] = it.MD5
	}
	return out, nil
}

// readFile reads a whole file of at most limit bytes.
func readFile(fsys fs.FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	return data, nil
}

// decodeYAML decodes one YAML document into out. The parser is third-party
// code fed with files a pull request's author writes: a bug in it must refuse
// the file, not end the process.
func decodeYAML(name string, data []byte, out any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: the YAML parser failed on this file: %v", name, r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
