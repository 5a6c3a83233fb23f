package sqlstore

import (
	"testing"

	"github.com/modelgate/modelgate/internal/sqlstoretest"
)

// eachBackend runs test once per supported database, each time with the DSN
// of a fresh, empty database.
func eachBackend(t *testing.T, test func(t *testing.T, dsn string)) {
	t.Helper()
	sqlstoretest.Each(t, test)
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
