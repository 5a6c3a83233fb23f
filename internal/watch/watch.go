// Package watch describes what modelgate remembers of the repositories its
// installations can access: whether each holds .modelgate/ on its default
// branch, so that the reconciler's sweep reads the open pull requests of
// those alone.
package watch

import "time"

// Repository is what is remembered of one repository. It is keyed by
// GitHub's id, which a rename keeps and a repository deleted and created
// again under the same name does not.
type Repository struct {
	ID           int64
	FullName     string // owner/name, as last seen
	Installation int64
	// Watched tells whether the default branch held .modelgate/ when
	// checked.
	Watched   bool
	CheckedAt time.Time
}
