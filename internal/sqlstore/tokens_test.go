package sqlstore

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestUseToken(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		expires := time.Now().Add(6 * time.Minute)
		for _, step := range []struct {
			jti   string
			first bool
		}{{"a", true}, {"a", false}, {"b", true}, {"a", false}, {"b", false}} {
			first, err := db.UseToken(t.Context(), step.jti, expires)
			if err != nil {
				t.Fatalf("UseToken(%s): %v", step.jti, err)
			}
			if first != step.first {
				t.Errorf("UseToken(%s) first = %v, want %v", step.jti, first, step.first)
			}
		}
		if _, err := db.UseToken(t.Context(), "", expires); err == nil {
			t.Error("UseToken of an empty id succeeded")
		}
	})
}

func TestUseTokenPurgesExpired(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
		db.Now = func() time.Time { return now }
		for i := range 3 {
			if _, err := db.UseToken(t.Context(), fmt.Sprintf("old-%d", i), now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.UseToken(t.Context(), "live", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Minute)
		if first, err := db.UseToken(t.Context(), "new", now.Add(time.Minute)); err != nil || !first {
			t.Fatalf("UseToken(new) = %v, %v", first, err)
		}
		var left []string
		if err := db.x.SelectContext(t.Context(), &left, `SELECT jti FROM used_tokens ORDER BY jti`); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(left) != "[live new]" {
			t.Errorf("rows after the purge: %v, want [live new]", left)
		}
		if first, err := db.UseToken(t.Context(), "live", now.Add(time.Hour)); err != nil || first {
			t.Errorf("replay of an unexpired token after a purge: first = %v, %v", first, err)
		}
	})
}

// TestUseTokenConcurrentFirstUse: of many goroutines on two stores sharing
// one database (two replicas) using the same token at once, exactly one is
// first.
func TestUseTokenConcurrentFirstUse(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		stores := []*DB{openDB(t, dsn), openDB(t, dsn)}
		expires := time.Now().Add(6 * time.Minute)
		for round := range 5 {
			jti := fmt.Sprintf("token-%d", round)
			var mu sync.Mutex
			wins := 0
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					first, err := stores[i%2].UseToken(t.Context(), jti, expires)
					if err != nil {
						t.Errorf("UseToken: %v", err)
						return
					}
					if first {
						mu.Lock()
						wins++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if wins != 1 {
				t.Errorf("%s: %d first uses, want exactly 1", jti, wins)
			}
		}
	})
}
