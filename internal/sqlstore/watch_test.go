package sqlstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/watch"
)

func TestRepositories(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		ctx := t.Context()
		at := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
		put := func(r watch.Repository) {
			t.Helper()
			if err := db.PutRepository(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		list := func(inst int64) string {
			t.Helper()
			rs, err := db.Repositories(ctx, inst)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprint(rs)
		}
		put(watch.Repository{ID: 1, FullName: "acme/a", Installation: 7, Watched: true, CheckedAt: at})
		put(watch.Repository{ID: 2, FullName: "acme/b", Installation: 7, CheckedAt: at})
		put(watch.Repository{ID: 3, FullName: "beta/c", Installation: 8, Watched: true, CheckedAt: at})
		want := fmt.Sprint([]watch.Repository{rep(1, "acme/a", 7, true, at), rep(2, "acme/b", 7, false, at)})
		if got := list(7); got != want {
			t.Errorf("Repositories(7) = %s, want %s", got, want)
		}

		// A check replaces what was known, by id; a rename keeps the rest.
		later := at.Add(time.Hour)
		put(watch.Repository{ID: 2, FullName: "acme/b", Installation: 7, Watched: true, CheckedAt: later})
		if err := db.RenameRepository(ctx, 1, "acme/renamed"); err != nil {
			t.Fatal(err)
		}
		want = fmt.Sprint([]watch.Repository{rep(1, "acme/renamed", 7, true, at), rep(2, "acme/b", 7, true, later)})
		if got := list(7); got != want {
			t.Errorf("after a check and a rename: %s, want %s", got, want)
		}

		if r, ok, err := db.Repository(ctx, 1); err != nil || !ok || r != rep(1, "acme/renamed", 7, true, at) {
			t.Errorf("Repository(1) = %v, %v, %v", r, ok, err)
		}
		if _, ok, err := db.Repository(ctx, 99); err != nil || ok {
			t.Errorf("Repository(99) = %v, %v; want nothing", ok, err)
		}

		// A repository moved to another installation leaves the first.
		put(watch.Repository{ID: 3, FullName: "acme/c", Installation: 7, CheckedAt: later})
		if got := list(8); got != "[]" {
			t.Errorf("installation 8 after its repository moved: %s", got)
		}
		if err := db.ForgetRepositories(ctx, 7, []int64{1, 3}); err != nil {
			t.Fatal(err)
		}
		want = fmt.Sprint([]watch.Repository{rep(2, "acme/b", 7, true, later)})
		if got := list(7); got != want {
			t.Errorf("after forgetting 1 and 3: %s, want %s", got, want)
		}
		put(watch.Repository{ID: 4, FullName: "beta/d", Installation: 8, CheckedAt: later})
		if err := db.ForgetInstallation(ctx, 7); err != nil {
			t.Fatal(err)
		}
		if got := list(7); got != "[]" {
			t.Errorf("after forgetting installation 7: %s", got)
		}
		if got := list(8); got != fmt.Sprint([]watch.Repository{rep(4, "beta/d", 8, false, later)}) {
			t.Errorf("forgetting installation 7 touched installation 8: %s", got)
		}
		if err := db.PutRepository(ctx, watch.Repository{FullName: "acme/x", Installation: 7}); err == nil {
			t.Error("a repository without an id was remembered")
		}
	})
}

func rep(id int64, name string, inst int64, watched bool, at time.Time) watch.Repository {
	return watch.Repository{ID: id, FullName: name, Installation: inst, Watched: watched, CheckedAt: at}
}
