package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/modelgate/modelgate/internal/audit"
)

// ErrNotExtension is wrapped by the error Import returns for an export that
// does not continue from the store's chain head.
var ErrNotExtension = errors.New("the export does not extend the store's log")

// Export writes the audit log to w as an export (see audit.ExportWriter),
// streamed from one snapshot of the store: every record when since is the
// zero time, or else the first record recorded at or after since and every
// record after it. It returns how many records it wrote. A log broken in
// the store stops it with an *audit.ChainError.
func (db *DB) Export(ctx context.Context, w io.Writer, since time.Time) (int64, error) {
	var n int64
	err := db.readTx(ctx, func(tx *sqlx.Tx) error {
		head, err := db.readAuditHead(ctx, tx)
		if err != nil {
			return err
		}
		after, where, args := audit.Head{Digest: audit.GenesisDigest}, "", []any(nil)
		if !since.IsZero() {
			// The record before the first one exported is named by that
			// record's link to it, which the export's first line repeats.
			var first struct {
				Seq  int64  `db:"seq"`
				Prev string `db:"prev_digest"`
			}
			err := tx.GetContext(ctx, &first, tx.Rebind(`SELECT seq, prev_digest FROM audit_records WHERE recorded_at >= ? ORDER BY seq LIMIT 1`),
				since.UTC().Format(audit.TimeFormat))
			switch {
			case errors.Is(err, sql.ErrNoRows):
				after, where, args = head, ` WHERE seq > ?`, []any{head.Seq}
			case err != nil:
				return fmt.Errorf("find the first audit record since %s: %w", since.Format(time.RFC3339), err)
			default:
				after, where, args = audit.Head{Seq: first.Seq - 1, Digest: first.Prev}, ` WHERE seq >= ?`, []any{first.Seq}
			}
		}
		ew, err := audit.NewExportWriter(w, after, head)
		if err != nil {
			return err
		}
		err = scanRecords(ctx, tx, where, args, func(rec audit.Record, err error) error {
			if err != nil {
				return err
			}
			n++
			return ew.Write(rec)
		})
		if err != nil {
			return err
		}
		return ew.Close()
	})
	if err != nil {
		return n, fmt.Errorf("export audit log: %w", err)
	}
	return n, nil
}

// Import appends the records of an export to the log, as a consistent
// extension of it or not at all: the export must continue from the store's
// chain head (any export into an empty store, one made with --since onto a
// store holding the records before), so it can neither fork the log nor
// duplicate a record, and the store must verify first. Records keep their
// sequence numbers, times and digests.
//
// open is called twice and must return the same bytes each time. The first
// reading verifies the whole export and writes nothing; the second, in the
// transaction that appends, verifies it again as it writes, so that an
// export changed in between is refused too, and nothing is committed unless
// every line verified. Appends wait while it runs. A refused export is
// reported as an *audit.ExportError naming its first bad line, a broken
// store as an *audit.ChainError; it returns the records imported.
func (db *DB) Import(ctx context.Context, name string, open func() (io.ReadCloser, error)) (int64, error) {
	checked, err := readExport(name, open, func(audit.Record) error { return nil })
	if err != nil {
		return 0, fmt.Errorf("import audit log: %w", err)
	}
	if _, err := db.Verify(ctx); err != nil {
		return 0, fmt.Errorf("import audit log: the store does not verify, so nothing may extend it: %w", err)
	}
	var n int64
	err = db.writeTx(ctx, auditLock, func(tx *sqlx.Tx) error {
		head, err := readHead(ctx, tx)
		if err != nil {
			return err
		}
		if head != checked.After() {
			return &audit.ExportError{Name: name, Line: 1, Err: fmt.Errorf("%w: it continues from record %d (digest %s), but the store's chain head is record %d (digest %s)",
				ErrNotExtension, checked.After().Seq, checked.After().Digest, head.Seq, head.Digest)}
		}
		written, err := readExport(name, open, func(rec audit.Record) error {
			if err := insertRecord(ctx, tx, rec); err != nil {
				return err
			}
			hashes, err := tlog.StoredHashes(rec.Seq-1, rec.TreeLeaf(), storedHashes{ctx, tx})
			if err != nil {
				return fmt.Errorf("audit tree: %w", err)
			}
			n++
			return insertHashes(ctx, tx, tlog.StoredHashIndex(0, rec.Seq-1), hashes)
		})
		if err != nil {
			return err
		}
		if written.After() != checked.After() || written.Through() != checked.Through() {
			return &audit.ExportError{Name: name, Line: 1, Err: errors.New("the file changed while it was imported")}
		}
		return writeHead(ctx, tx, written.Through())
	})
	if err != nil {
		return 0, fmt.Errorf("import audit log: %w", err)
	}
	return n, nil
}

// readExport reads the export open returns to its end, calling fn with each
// record as it is verified, and returns the reader, whose header it was.
func readExport(name string, open func() (io.ReadCloser, error), fn func(audit.Record) error) (*audit.ExportReader, error) {
	f, err := open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	x, err := audit.NewExportReader(f, name)
	if err != nil {
		return nil, err
	}
	for {
		rec, err := x.Next()
		if errors.Is(err, io.EOF) {
			return x, nil
		}
		if err != nil {
			return nil, err
		}
		if err := fn(rec); err != nil {
			return nil, err
		}
	}
}
