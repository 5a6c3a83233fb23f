package table

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Read reads the columns that specs ask for from the file at name in fsys: a
// Parquet file if its name ends in .parquet, else CSV. A column that the file
// does not have is absent from the table; what to make of that is the caller's
// business, as are nulls, unparsable values and ragged rows, which are counted.
// Errors name the file, and the row and line where there is one.
func Read(ctx context.Context, fsys fs.FS, name string, specs []Spec, limits Limits) (*Table, error) {
	if err := check(specs); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if info.IsDir() {
		return nil, fmt.Errorf("read %s: is a directory", name)
	}
	if strings.EqualFold(path.Ext(name), ".parquet") {
		return readParquet(ctx, name, f, info.Size(), specs, limits)
	}
	return readCSV(ctx, name, f, info.Size(), specs, limits)
}

// Limits bound what Read takes from one file. They are checked against what is
// read, never against what a file says of itself: a Parquet footer may claim
// any number of rows.
type Limits struct {
	Rows    int
	Columns int
}

// LimitError is a file with more rows or columns than Limits allow.
type LimitError struct {
	Path  string
	What  string // "rows" or "columns", as the config key limits.<What>
	Limit int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: more than %d %s, the limit; raise limits.%s in .modelgate/config.yaml", e.Path, e.Limit, e.What, e.What)
}

// check refuses specs that cannot be read.
func check(specs []Spec) error {
	seen := make(map[string]bool, len(specs))
	for _, s := range specs {
		if seen[s.Name] {
			return fmt.Errorf("column %q is asked for twice", s.Name)
		}
		seen[s.Name] = true
		if s.Type < Float || s.Type > String {
			return fmt.Errorf("column %q: no type", s.Name)
		}
	}
	return nil
}
