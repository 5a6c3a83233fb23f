package sqlstore

import (
	"sync"
	"testing"

	"github.com/modelgate/modelgate/internal/audit"
)

func TestMigrationsAreIdempotent(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		first := openDB(t, dsn)
		if _, err := first.Append(t.Context(), audit.Entry{Kind: audit.KindGate}); err != nil {
			t.Fatalf("Append: %v", err)
		}

		var wg sync.WaitGroup
		reopened := make([]*DB, 4)
		errs := make([]error, len(reopened))
		for i := range reopened {
			wg.Go(func() { reopened[i], errs[i] = Open(t.Context(), dsn) })
		}
		wg.Wait()
		for _, db := range reopened {
			if db != nil {
				t.Cleanup(func() { _ = db.Close() })
			}
		}
		for _, err := range errs {
			if err != nil {
				t.Fatalf("concurrent Open: %v", err)
			}
		}

		db := reopened[0]
		var versions int
		if err := db.x.GetContext(t.Context(), &versions, `SELECT COUNT(*) FROM schema_migrations`); err != nil {
			t.Fatalf("count migrations: %v", err)
		}
		if versions != len(migrations) {
			t.Errorf("schema_migrations has %d rows, want %d", versions, len(migrations))
		}
		if n, err := db.Verify(t.Context()); err != nil || n != 1 {
			t.Errorf("Verify after reopening = %d, %v; want 1, nil", n, err)
		}
	})
}
