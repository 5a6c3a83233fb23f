package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// MaxDocumentBytes is the most a document may hold: the config, an environment
// file, a manifest, the waivers, a policy. It is fixed, since the config that
// sets the other limits is itself a document.
const MaxDocumentBytes = 4 << 20

// FileBytesKey is the config key that raises the size limit of data files.
const FileBytesKey = "limits.fileBytes"

// TooLargeError is a file refused for its size before it was read.
type TooLargeError struct {
	Path  string
	Size  int64
	Limit int64
	// Key is the config key that raises the limit; empty for a fixed one.
	Key string
}

func (e *TooLargeError) Error() string {
	msg := fmt.Sprintf("%s: %d bytes, over the limit of %d", e.Path, e.Size, e.Limit)
	if e.Key != "" {
		msg += "; raise " + e.Key + " in " + ConfigPath
	}
	return msg
}

// CheckFile is the rule for every file modelgate reads, from git, GitHub's API
// or a model's folder on disk: a regular file of at most limit bytes. A
// symbolic link is refused: git would give the name it points at, and on disk
// it leads anywhere, /etc/passwd included.
func CheckFile(p string, mode fs.FileMode, size, limit int64) error {
	switch {
	case mode&fs.ModeSymlink != 0:
		return fmt.Errorf("%s: is a symbolic link; modelgate reads regular files only", p)
	case !mode.IsRegular():
		return fmt.Errorf("%s: not a regular file", p)
	case size > limit:
		return &TooLargeError{Path: p, Size: size, Limit: limit}
	}
	return nil
}

// PathError is a repository path that CheckPath refuses.
type PathError struct {
	Path   string
	Reason string // the rule it breaks
}

func (e *PathError) Error() string {
	return fmt.Sprintf("invalid repository path %q: %s", e.Path, e.Reason)
}

// CheckPath is the rule for every path modelgate asks git or GitHub for: a
// path of a file or folder inside the tree, named one way only. Paths come
// from pull requests (the files a manifest names), so what git or GitHub would
// take otherwise is refused: a path leading out of the tree, which git
// resolves against the work tree; one starting with "-", which git reads as an
// option; a NUL, which ends a C string; a backslash, which Windows takes for
// a separator, so that a checkout there would hold the file elsewhere. "." is
// the root.
func CheckPath(p string) error {
	reason := ""
	switch {
	case p == "":
		reason = "empty"
	case !fs.ValidPath(p):
		reason = "not a clean, slash-separated path inside the tree"
	case strings.HasPrefix(p, "-"):
		reason = `starts with "-"`
	case strings.Contains(p, "\x00"):
		reason = "holds a NUL byte"
	case strings.Contains(p, `\`):
		reason = "holds a backslash"
	default:
		return nil
	}
	return &PathError{Path: p, Reason: reason}
}

// FS presents the folder dir of a snapshot as an fs.FS, for code that reads files
// without knowing where they are kept. A file over limit bytes is refused before
// it is read.
func FS(ctx context.Context, snap Snapshot, dir string, limit int64) fs.FS {
	return snapshotFS{ctx: ctx, snap: snap, dir: dir, limit: limit}
}

type snapshotFS struct {
	ctx   context.Context // fs.FS has no context: the one the FS was made for
	snap  Snapshot
	dir   string
	limit int64
}

func (s snapshotFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	data, err := s.snap.ReadData(s.ctx, path.Join(s.dir, name), s.limit)
	if err != nil {
		// Not an fs.PathError: the snapshot's errors name the file already.
		return nil, raiseHint(err)
	}
	return &file{Reader: bytes.NewReader(data), name: path.Base(name), size: int64(len(data))}, nil
}

// raiseHint names the config key that raises a data file's size limit.
func raiseHint(err error) error {
	var tl *TooLargeError
	if errors.As(err, &tl) {
		tl.Key = FileBytesKey
	}
	return err
}

// Dir is a model's folder on disk as an fs.FS, read as FS reads one of a
// snapshot: no path leaves the folder, through .. or a symbolic link (os.Root
// sees to the folders on the way), and a file is read only if CheckFile allows
// it.
type Dir struct {
	root  *os.Root
	dir   string
	limit int64
}

// OpenDir opens the folder dir; files over limit bytes are refused.
func OpenDir(dir string, limit int64) (*Dir, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &Dir{root: root, dir: dir, limit: limit}, nil
}

func (d *Dir) Close() error { return d.root.Close() }

func (d *Dir) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	// Lstat: a link that stays in the folder is refused too, as in git.
	info, err := d.root.Lstat(name)
	if err != nil {
		return nil, err
	}
	if err := CheckFile(filepath.Join(d.dir, name), info.Mode(), info.Size(), d.limit); err != nil {
		return nil, raiseHint(err)
	}
	return d.root.Open(name)
}

// file is a read-only file held in memory.
type file struct {
	*bytes.Reader
	name string
	size int64
}

func (f *file) Stat() (fs.FileInfo, error) { return f, nil }
func (f *file) Close() error               { return nil }
func (f *file) Name() string               { return f.name }
func (f *file) Size() int64                { return f.size }
func (f *file) Mode() fs.FileMode          { return 0o444 }
func (f *file) ModTime() time.Time         { return time.Time{} }
func (f *file) IsDir() bool                { return false }
func (f *file) Sys() any                   { return nil }

// Columnar readers (Parquet) need random access.
var _ io.ReaderAt = (*file)(nil)
