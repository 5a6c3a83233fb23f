// Command docs writes the reference pages of docs/ from the CUE schemas of
// package schemas: every field of each document with its path, whether it is
// required, its type or constraint, its default and its comment. The schemas
// are what modelgate validates with, so pages drawn from them say what the
// validator accepts; the package's test fails when the committed pages are
// stale.
//
//	go run ./scripts/docs -dir docs
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	dir := flag.String("dir", "docs", "the folder the pages are written to")
	flag.Parse()
	pages, err := Generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "docs:", err)
		os.Exit(1)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "docs:", err)
		os.Exit(1)
	}
	for _, p := range pages {
		if err := os.WriteFile(filepath.Join(*dir, p.File), p.Text, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "docs:", err)
			os.Exit(1)
		}
	}
}
