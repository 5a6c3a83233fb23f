package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/modelgate/modelgate/internal/watch"
)

// repositoryRow is a row of watched_repositories.
type repositoryRow struct {
	ID           int64  `db:"repository_id"`
	FullName     string `db:"full_name"`
	Installation int64  `db:"installation"`
	Watched      int    `db:"watched"`
	CheckedAt    int64  `db:"checked_at"`
}

func (r repositoryRow) repository() watch.Repository {
	return watch.Repository{ID: r.ID, FullName: r.FullName, Installation: r.Installation, Watched: r.Watched != 0,
		CheckedAt: time.UnixMilli(r.CheckedAt).UTC()}
}

// Repositories returns what is remembered of the repositories of an
// installation.
func (db *DB) Repositories(ctx context.Context, installation int64) ([]watch.Repository, error) {
	var rows []repositoryRow
	err := db.x.SelectContext(ctx, &rows, db.x.Rebind(`SELECT repository_id, full_name, installation, watched, checked_at
		FROM watched_repositories WHERE installation = ? ORDER BY repository_id`), installation)
	if err != nil {
		return nil, fmt.Errorf("read the repositories of installation %d: %w", installation, err)
	}
	out := make([]watch.Repository, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.repository())
	}
	return out, nil
}

// PutRepository remembers a repository, replacing what was remembered of
// it, under whatever installation and name, by its id.
func (db *DB) PutRepository(ctx context.Context, r watch.Repository) error {
	if r.ID <= 0 || r.FullName == "" || r.Installation <= 0 {
		return fmt.Errorf("remember repository %d %q of installation %d: id, name and installation are required", r.ID, r.FullName, r.Installation)
	}
	watched := 0
	if r.Watched {
		watched = 1
	}
	_, err := db.x.ExecContext(ctx, db.x.Rebind(`INSERT INTO watched_repositories (repository_id, full_name, installation, watched, checked_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (repository_id) DO UPDATE SET full_name = excluded.full_name, installation = excluded.installation,
			watched = excluded.watched, checked_at = excluded.checked_at`),
		r.ID, r.FullName, r.Installation, watched, r.CheckedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("remember repository %s: %w", r.FullName, err)
	}
	return nil
}

// RenameRepository records a repository's new name, and nothing else of it.
func (db *DB) RenameRepository(ctx context.Context, id int64, fullName string) error {
	_, err := db.x.ExecContext(ctx, db.x.Rebind(`UPDATE watched_repositories SET full_name = ? WHERE repository_id = ?`), fullName, id)
	if err != nil {
		return fmt.Errorf("rename repository %d to %s: %w", id, fullName, err)
	}
	return nil
}

// ForgetRepositories forgets the repositories of an installation named by
// their ids.
func (db *DB) ForgetRepositories(ctx context.Context, installation int64, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	query, args, err := sqlx.In(`DELETE FROM watched_repositories WHERE installation = ? AND repository_id IN (?)`, installation, ids)
	if err != nil {
		return fmt.Errorf("forget repositories of installation %d: %w", installation, err)
	}
	if _, err := db.x.ExecContext(ctx, db.x.Rebind(query), args...); err != nil {
		return fmt.Errorf("forget repositories of installation %d: %w", installation, err)
	}
	return nil
}

// ForgetInstallation forgets every repository of an installation.
func (db *DB) ForgetInstallation(ctx context.Context, installation int64) error {
	if _, err := db.x.ExecContext(ctx, db.x.Rebind(`DELETE FROM watched_repositories WHERE installation = ?`), installation); err != nil {
		return fmt.Errorf("forget installation %d: %w", installation, err)
	}
	return nil
}

// Repository returns what is remembered of the repository with id, and
// whether anything is.
func (db *DB) Repository(ctx context.Context, id int64) (watch.Repository, bool, error) {
	var r repositoryRow
	err := db.x.GetContext(ctx, &r, db.x.Rebind(`SELECT repository_id, full_name, installation, watched, checked_at
		FROM watched_repositories WHERE repository_id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return watch.Repository{}, false, nil
	}
	if err != nil {
		return watch.Repository{}, false, fmt.Errorf("read repository %d: %w", id, err)
	}
	return r.repository(), true, nil
}
