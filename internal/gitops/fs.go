package gitops

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"path"
	"time"
)

// FS presents the folder dir of a snapshot as an fs.FS, for code that reads files
// without knowing where they are kept.
func FS(ctx context.Context, snap Snapshot, dir string) fs.FS {
	return snapshotFS{ctx: ctx, snap: snap, dir: dir}
}

type snapshotFS struct {
	ctx  context.Context // fs.FS has no context: the one the FS was made for
	snap Snapshot
	dir  string
}

func (s snapshotFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	data, err := s.snap.ReadFile(s.ctx, path.Join(s.dir, name))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &file{Reader: bytes.NewReader(data), name: path.Base(name), size: int64(len(data))}, nil
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
