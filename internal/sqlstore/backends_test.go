package sqlstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const defaultTestPostgres = "postgres://127.0.0.1:5432/test?sslmode=disable"

// eachBackend runs test once per supported database, each time with the DSN
// of a fresh, empty database.
func eachBackend(t *testing.T, test func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		test(t, filepath.Join(t.TempDir(), "modelgate.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		test(t, postgresDSN(t))
	})
}

// postgresDSN creates a schema of its own for the test, dropped when it
// ends, and returns a URL whose connections use it.
func postgresDSN(t *testing.T) string {
	t.Helper()
	base := cmp.Or(os.Getenv("MODELGATE_TEST_POSTGRES"), defaultTestPostgres)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		if os.Getenv("MODELGATE_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL at %s is required (MODELGATE_REQUIRE_POSTGRES=1) but unreachable: %v", base, err)
		}
		t.Skipf("PostgreSQL at %s unreachable (set MODELGATE_TEST_POSTGRES to point at one): %v", base, err)
	}

	schema := "t_" + strings.ToLower(rand.Text())
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openDB opens dsn and closes it when the test ends.
func openDB(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// execRaw runs SQL on the tables directly, as someone bypassing modelgate
// would.
func execRaw(t *testing.T, db *DB, query string, args ...any) {
	t.Helper()
	if _, err := db.x.ExecContext(t.Context(), db.x.Rebind(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
