// Package sqlstoretest gives tests a fresh database on each backend that
// package sqlstore supports, so that code storing through it is tested on
// SQLite and PostgreSQL alike.
//
// PostgreSQL is the one at MODELGATE_TEST_POSTGRES, by default the database
// test on 127.0.0.1:5432. When it cannot be reached the PostgreSQL runs are
// skipped, unless MODELGATE_REQUIRE_POSTGRES=1, which makes them fail.
package sqlstoretest

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

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

const defaultPostgres = "postgres://127.0.0.1:5432/test?sslmode=disable"

// Each runs test once per supported database, each time with the DSN of a
// fresh, empty database.
func Each(t *testing.T, test func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		test(t, filepath.Join(t.TempDir(), "modelgate.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		test(t, PostgresDSN(t))
	})
}

// Fresh returns the DSN of another fresh, empty database on dsn's backend.
func Fresh(t testing.TB, dsn string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return PostgresDSN(t)
	}
	return filepath.Join(t.TempDir(), "modelgate.db")
}

// PostgresDSN creates a schema of its own for the test, dropped when it
// ends, and returns a URL whose connections use it.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := cmp.Or(os.Getenv("MODELGATE_TEST_POSTGRES"), defaultPostgres)
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
