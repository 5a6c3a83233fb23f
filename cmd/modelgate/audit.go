package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/compliance"
	"github.com/modelgate/modelgate/internal/sqlstore"
)

const auditReportUsage = "audit report --model NAME [--version V] [--format html|md|json|pdf] [--database DSN] [--out FILE]"

func runAudit(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(c.stdout, "Usage: modelgate audit verify [--database DSN]\n       modelgate "+auditReportUsage+
			"\n\n  verify   check the audit log's hash chain: exit 0 intact, 1 tampered"+
			"\n  report   write a model's compliance report: exit 0, 2 when there is nothing to report")
		if len(args) == 0 {
			return exitCantRun
		}
		return exitOK
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, c, args[1:])
	case "report":
		return auditReport(ctx, c, args[1:])
	}
	return c.fail(fmt.Errorf("audit: unknown subcommand %q (expected verify or report)", args[0]))
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

// auditReport writes the compliance report of a model. A broken audit chain
// does not fail it: the report says where the chain breaks and marks what it
// no longer vouches for, and audit verify is the command to gate on. A model
// with no records fails with exit 2, so that a script asking about a
// mistyped name does not file an empty report.
func auditReport(ctx context.Context, c *cli, args []string) int {
	fl := c.flags("audit report", auditReportUsage)
	dsn := c.databaseFlag(fl)
	model := fl.String("model", "", "the model to report on (required)")
	version := fl.String("version", "", "report on this version only")
	format := choiceFlag(fl, "format", "report format", compliance.FormatHTML, compliance.FormatMarkdown, compliance.FormatJSON, compliance.FormatPDF)
	out := fl.String("out", "", "write the report to this file instead of standard output")
	if code, ok := c.parse(fl, args); !ok {
		return code
	}
	if fl.NArg() > 0 {
		return c.fail(fmt.Errorf("audit report: unexpected argument %q", fl.Arg(0)))
	}
	if *model == "" {
		return c.fail(errors.New("audit report: --model is required"))
	}
	db, err := sqlstore.OpenExisting(ctx, *dsn)
	if err != nil {
		return c.fail(err)
	}
	defer db.Close()
	rep, err := compliance.Load(ctx, db, *model, *version, time.Now())
	if err != nil {
		return c.fail(err)
	}
	// Rendered in full first, so that a failure leaves no half-written file.
	var buf bytes.Buffer
	if err := rep.Render(&buf, *format); err != nil {
		return c.fail(err)
	}
	if *out == "" {
		if _, err := c.stdout.Write(buf.Bytes()); err != nil {
			return c.fail(fmt.Errorf("write compliance report: %w", err))
		}
		return exitOK
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return c.fail(fmt.Errorf("write compliance report: %w", err))
	}
	return exitOK
}
