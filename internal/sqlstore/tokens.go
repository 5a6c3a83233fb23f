package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// purgeBatch bounds the expired rows one UseToken deletes, so that its
// statement stays short however many have piled up.
const purgeBatch = 100

// UseToken records the use of the token with id jti and reports whether it
// is the first: false means some earlier call, on this or any replica
// sharing the database, used it. The row is kept until expires, which must
// be no earlier than the last moment a verifier would accept the token
// (its exp plus leeway), for after it a replay is refused anyway. The use
// is durable once UseToken returns; rows past their expiry are purged as
// it goes.
func (db *DB) UseToken(ctx context.Context, jti string, expires time.Time) (first bool, err error) {
	if jti == "" {
		return false, errors.New("use token: no token id")
	}
	// One statement, so the primary key decides between concurrent
	// first uses: on PostgreSQL the loser waits for the winner's commit,
	// then inserts nothing.
	res, err := db.x.ExecContext(ctx, db.x.Rebind(`INSERT INTO used_tokens (jti, expires_at) VALUES (?, ?)
		ON CONFLICT (jti) DO NOTHING`), jti, expires.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("use token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("use token: %w", err)
	}
	if err := db.purgeTokens(ctx); err != nil {
		return false, fmt.Errorf("use token: %w", err)
	}
	return n == 1, nil
}

// purgeTokens deletes up to purgeBatch rows of expired tokens. On
// PostgreSQL it skips rows a concurrent purge holds, so that replicas never
// wait for, or deadlock with, each other over garbage.
func (db *DB) purgeTokens(ctx context.Context) error {
	lock := ""
	if db.dialect == postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	_, err := db.x.ExecContext(ctx, db.x.Rebind(`DELETE FROM used_tokens WHERE jti IN (
		SELECT jti FROM used_tokens WHERE expires_at < ? LIMIT ?`+lock+`)`), db.Now().UnixMilli(), purgeBatch)
	if err != nil {
		return fmt.Errorf("purge expired tokens: %w", err)
	}
	return nil
}
