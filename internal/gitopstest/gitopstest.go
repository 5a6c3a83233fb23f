// Package gitopstest checks an implementation of gitops.Repository against
// the contract its documentation states.
package gitopstest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/modelgate/modelgate/internal/gitops"
)

// Reads are what ReadConcurrently asks of a repository: files and folders at
// each commit, the history of each file at each commit, and the merge base
// and changed files of each pair of commits.
type Reads struct {
	Commits []string
	Files   []string
	Dirs    []string
}

// goroutines is how many readers share the repository at once: more than the
// checks' parallel reads on most machines.
const goroutines = 8

// ReadConcurrently reads r from many goroutines at once, each in its own
// order, then from one, and fails t where any read differs from the others.
// The concurrent reads come first, so that they fill whatever the
// implementation caches; run it with -race. Each reader changes what it gets,
// as the caller of a read may.
func ReadConcurrently(t testing.TB, r gitops.Repository, reads Reads) {
	t.Helper()
	ctx := context.Background()
	ops := operations(r, reads)
	results := make([][]string, goroutines+1)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			results[g] = make([]string, len(ops))
			for k := range ops {
				i := (k + g*len(ops)/goroutines) % len(ops)
				results[g][i] = ops[i].run(ctx)
			}
		})
	}
	wg.Wait()
	results[goroutines] = make([]string, len(ops))
	for i, op := range ops {
		results[goroutines][i] = op.run(ctx)
	}
	for i, op := range ops {
		for g := range goroutines {
			if results[g][i] != results[goroutines][i] {
				t.Errorf("%s: read concurrently %s, alone %s", op.name, results[g][i], results[goroutines][i])
				break
			}
		}
	}
}

type operation struct {
	name string
	run  func(ctx context.Context) string
}

func operations(r gitops.Repository, reads Reads) []operation {
	var ops []operation
	add := func(name string, run func(ctx context.Context) (any, error)) {
		ops = append(ops, operation{name: name, run: func(ctx context.Context) string {
			v, err := run(ctx)
			return fmt.Sprintf("%q, %v", v, err)
		}})
	}
	for _, sha := range reads.Commits {
		for _, f := range reads.Files {
			add(fmt.Sprintf("ReadFile(%s) at %s", f, sha), func(ctx context.Context) (any, error) {
				data, err := r.Snapshot(sha).ReadFile(ctx, f)
				s := string(data)
				clear(data)
				return s, err
			})
			add(fmt.Sprintf("History(%s, %s)", sha, f), func(ctx context.Context) (any, error) {
				h, err := r.History(ctx, sha, f)
				s := fmt.Sprint(h)
				clear(h)
				return s, err
			})
		}
		for _, d := range reads.Dirs {
			add(fmt.Sprintf("ReadDir(%s) at %s", d, sha), func(ctx context.Context) (any, error) {
				names, err := r.Snapshot(sha).ReadDir(ctx, d)
				s := slices.Clone(names)
				clear(names)
				return s, err
			})
		}
		for _, other := range reads.Commits {
			add(fmt.Sprintf("MergeBase(%s, %s)", sha, other), func(ctx context.Context) (any, error) {
				return r.MergeBase(ctx, sha, other)
			})
			add(fmt.Sprintf("ChangedFiles(%s, %s)", sha, other), func(ctx context.Context) (any, error) {
				files, err := r.ChangedFiles(ctx, sha, other)
				s := slices.Clone(files)
				slices.Sort(s)
				clear(files)
				return s, err
			})
		}
	}
	return ops
}
