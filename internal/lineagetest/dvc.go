// Package lineagetest writes DVC projects and MLflow file stores as DVC and
// MLflow write them, and serves a fake MLflow tracking server on loopback that
// answers with MLflow's documented JSON.
package lineagetest

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Hash is what DVC records of a file or directory.
type Hash struct {
	MD5    string // a directory's with ".dir"
	Size   int64
	NFiles int // a directory's
}

// Sum hashes the file or directory at root/rel as DVC 3 does. A directory's
// md5 is that of its listing, which Sum writes to the project's cache as DVC
// does: the JSON of json.dumps(sorted entries, sort_keys=True).
func Sum(t testing.TB, root, rel string) Hash {
	t.Helper()
	full := filepath.Join(root, filepath.FromSlash(rel))
	info, err := os.Stat(full)
	if err != nil {
		t.Fatal(err)
	}
	if !info.IsDir() {
		return Hash{MD5: fileMD5(t, full), Size: info.Size()}
	}
	type item struct{ md5, rel string }
	var items []item
	var size int64
	err = filepath.WalkDir(full, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		r, _ := filepath.Rel(full, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		size += fi.Size()
		items = append(items, item{fileMD5(t, p), filepath.ToSlash(r)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.rel, b.rel) })
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = fmt.Sprintf(`{"md5": %q, "relpath": %q}`, it.md5, it.rel)
	}
	listing := []byte("[" + strings.Join(parts, ", ") + "]")
	sum := md5.Sum(listing)
	h := hex.EncodeToString(sum[:])
	write(t, filepath.Join(root, ".dvc", "cache", "files", "md5", h[:2], h[2:]+".dir"), string(listing))
	return Hash{MD5: h + ".dir", Size: size, NFiles: len(items)}
}

func fileMD5(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

// Init makes root a DVC project: the .dvc folder with its config, as dvc init
// writes it.
func Init(t testing.TB, root string) {
	t.Helper()
	write(t, filepath.Join(root, ".dvc", "config"), "")
	write(t, filepath.Join(root, ".dvc", ".gitignore"), "/config.local\n/tmp\n/cache\n")
	write(t, filepath.Join(root, ".dvcignore"), "# Add patterns of files dvc should ignore, which could improve\n# the performance. Learn more at\n# https://dvc.org/doc/user-guide/dvcignore\n")
}

// Add writes <rel>.dvc for the file or directory at root/rel, as dvc add does,
// and returns what it records.
func Add(t testing.TB, root, rel string) Hash {
	t.Helper()
	h := Sum(t, root, rel)
	write(t, filepath.Join(root, filepath.FromSlash(rel)+".dvc"), "outs:\n"+outItem(h, path.Base(rel), false))
	return h
}

// outItem is an entry of outs or deps: a .dvc file writes md5, size, nfiles,
// hash and path in that order, dvc.lock path, hash, md5, size and nfiles.
func outItem(h Hash, p string, lock bool) string {
	var b strings.Builder
	if lock {
		fmt.Fprintf(&b, "- path: %s\n  hash: md5\n  md5: %s\n  size: %d\n", p, h.MD5, h.Size)
		if h.NFiles > 0 {
			fmt.Fprintf(&b, "  nfiles: %d\n", h.NFiles)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "- md5: %s\n  size: %d\n", h.MD5, h.Size)
	if h.NFiles > 0 {
		fmt.Fprintf(&b, "  nfiles: %d\n", h.NFiles)
	}
	fmt.Fprintf(&b, "  hash: md5\n  path: %s\n", p)
	return b.String()
}

// Stage is a stage of dvc.yaml and its record in dvc.lock. Deps and Outs are
// relative to Wdir, itself relative to the dvc.yaml's folder.
type Stage struct {
	Name, Cmd, Wdir string
	Deps, Outs      []string
}

// Repro writes dir/dvc.yaml and dir/dvc.lock for the stages as dvc repro
// does, hashing their deps and outs as they are now.
func Repro(t testing.TB, root, dir string, stages ...Stage) {
	t.Helper()
	var yml, lock strings.Builder
	yml.WriteString("stages:\n")
	lock.WriteString("schema: '2.0'\nstages:\n")
	for _, s := range stages {
		fmt.Fprintf(&yml, "  %s:\n    cmd: %s\n", s.Name, s.Cmd)
		if s.Wdir != "" {
			fmt.Fprintf(&yml, "    wdir: %s\n", s.Wdir)
		}
		fmt.Fprintf(&lock, "  %s:\n    cmd: %s\n", s.Name, s.Cmd)
		for _, part := range []struct {
			key   string
			paths []string
		}{{"deps", s.Deps}, {"outs", s.Outs}} {
			if len(part.paths) == 0 {
				continue
			}
			fmt.Fprintf(&yml, "    %s:\n", part.key)
			fmt.Fprintf(&lock, "    %s:\n", part.key)
			for _, p := range part.paths {
				fmt.Fprintf(&yml, "    - %s\n", p)
				h := Sum(t, root, path.Join(dir, s.Wdir, p))
				for _, line := range strings.SplitAfter(outItem(h, p, true), "\n") {
					if line != "" {
						lock.WriteString("    " + line)
					}
				}
			}
		}
	}
	write(t, filepath.Join(root, filepath.FromSlash(dir), "dvc.yaml"), yml.String())
	write(t, filepath.Join(root, filepath.FromSlash(dir), "dvc.lock"), lock.String())
}

func write(t testing.TB, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
