package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/sqlstore"
)

func runAudit(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(c.stdout, "Usage: modelgate audit verify [--database DSN]\n\n  verify   check the audit log's hash chain: exit 0 intact, 1 tampered")
		if len(args) == 0 {
			return exitCantRun
		}
		return exitOK
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, c, args[1:])
	}
	return c.fail(fmt.Errorf("audit: unknown subcommand %q (expected verify)", args[0]))
}

func auditVerify(ctx context.Context, c *cli, args []string) int {
	fl := c.flags("audit verify", "audit verify [--database DSN]")
	dsn := c.databaseFlag(fl)
	if code, ok := c.parse(fl, args); !ok {
		return code
	}
	db, err := sqlstore.OpenExisting(ctx, *dsn)
	if err != nil {
		return c.fail(err)
	}
	defer db.Close()
	n, err := db.Verify(ctx)
	var broken *audit.ChainError
	if errors.As(err, &broken) {
		fmt.Fprintf(c.stdout, "audit log TAMPERED: %v\n", broken)
		return exitFailed
	}
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "audit log intact: %d %s, hash chain verified\n", n, plural(n, "record"))
	return exitOK
}

func plural(n int64, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}
