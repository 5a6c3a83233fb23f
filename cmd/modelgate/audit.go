package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/mod/sumdb/note"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/compliance"
	"github.com/modelgate/modelgate/internal/sqlstore"
)

func (c *cli) auditCommand() *cobra.Command {
	return c.group(&cobra.Command{
		Use:   "audit",
		Short: "work with the audit log: verify it, sign checkpoints of it, report on a model, export and import it",
	},
		c.auditVerifyCommand(),
		c.auditCheckpointCommand(),
		c.auditKeyCommand(),
		c.auditReportCommand(),
		c.auditExportCommand(),
		c.auditImportCommand(),
	)
}

// files is a repeatable flag naming files.
type files []string

func (f *files) String() string { return strings.Join(*f, ",") }

func (f *files) Type() string { return "FILE" }

func (f *files) Set(s string) error {
	*f = append(*f, s)
	return nil
}

func (c *cli) auditVerifyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify [flags]",
		Short: "check the audit log's hash chain and Merkle tree, and that it extends each checkpoint: exit 0 intact, 1 tampered",
	}
	fl := cmd.Flags()
	dsn := c.databaseFlag(fl)
	var checkpointFiles files
	fl.Var(&checkpointFiles, "checkpoint", "a signed checkpoint the log must extend (repeatable)")
	verifierKey := fl.String("verifier-key", c.getenv("MODELGATE_AUDIT_VERIFIER_KEY"),
		"the key that checks checkpoints, as audit key prints it (env MODELGATE_AUDIT_VERIFIER_KEY; default: that of MODELGATE_AUDIT_KEY_FILE)")
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if len(args) > 0 {
			return c.fail(fmt.Errorf("audit verify: unexpected argument %q", args[0]))
		}
		var checkpoints []audit.TreeHead
		if len(checkpointFiles) > 0 {
			v, err := c.checkpointVerifier(*verifierKey)
			if err != nil {
				return c.fail(err)
			}
			for _, file := range checkpointFiles {
				msg, err := os.ReadFile(file)
				if err != nil {
					return c.fail(fmt.Errorf("audit verify: read checkpoint: %w", err))
				}
				cp, err := audit.OpenCheckpoint(msg, v)
				if err != nil {
					return c.fail(fmt.Errorf("audit verify: checkpoint %s: %w", file, err))
				}
				checkpoints = append(checkpoints, cp.TreeHead)
			}
		}
		db, err := sqlstore.OpenExisting(ctx, *dsn)
		if err != nil {
			return c.fail(err)
		}
		defer db.Close()
		n, _, err := db.VerifyTree(ctx, checkpoints...)
		if broken, ok := errors.AsType[*audit.ChainError](err); ok {
			fmt.Fprintf(c.stdout, "audit log TAMPERED: %v\n", broken)
			return exitFailed
		}
		if err != nil {
			return c.fail(err)
		}
		fmt.Fprintf(c.stdout, "audit log intact: %d %s, hash chain and Merkle tree verified%s\n", n, plural(n, "record"), extends(checkpoints))
		return exitOK
	})
	return cmd
}

func extends(checkpoints []audit.TreeHead) string {
	if len(checkpoints) == 0 {
		return ""
	}
	sizes := make([]string, len(checkpoints))
	for i, cp := range checkpoints {
		sizes[i] = strconv.FormatInt(cp.Size, 10)
	}
	n := int64(len(checkpoints))
	return fmt.Sprintf(", consistent with %d %s (%s %s)", n, plural(n, "checkpoint"), plural(n, "tree size"), strings.Join(sizes, ", "))
}

// checkpointVerifier returns the verifier of checkpoints: the key given, or
// else the one of the signing key, for whoever holds it.
func (c *cli) checkpointVerifier(key string) (note.Verifier, error) {
	if key == "" && c.getenv("MODELGATE_AUDIT_KEY_FILE") != "" {
		skey, err := readSignerKey(c.getenv("MODELGATE_AUDIT_KEY_FILE"))
		if err != nil {
			return nil, err
		}
		if key, err = audit.VerifierKey(skey); err != nil {
			return nil, err
		}
	}
	if key == "" {
		return nil, errors.New("audit verify: --checkpoint needs the verifier key (--verifier-key or MODELGATE_AUDIT_VERIFIER_KEY)")
	}
	v, err := note.NewVerifier(strings.TrimSpace(key))
	if err != nil {
		return nil, fmt.Errorf("audit verify: verifier key: %w", err)
	}
	return v, nil
}

// readSignerKey reads a checkpoint signing key as audit key --new writes it.
func readSignerKey(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read audit key: %w", err)
	}
	skey := strings.TrimSpace(string(b))
	if _, err := note.NewSigner(skey); err != nil {
		return "", fmt.Errorf("audit key %s: %w", file, err)
	}
	return skey, nil
}

// keyFileFlag registers --key-file with its environment default.
func (c *cli) keyFileFlag(fs *pflag.FlagSet) *string {
	return fs.String("key-file", c.getenv("MODELGATE_AUDIT_KEY_FILE"), "the checkpoint signing key, as audit key --new writes it (env MODELGATE_AUDIT_KEY_FILE)")
}

// auditCheckpoint signs the tree head of the log, after verifying it: a
// checkpoint vouches for the records, so a log that is already broken gets
// none.
func (c *cli) auditCheckpointCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "checkpoint [flags]",
		Short: "write a signed checkpoint of the verified log (tree size and hash), to keep outside the database",
	}
	fl := cmd.Flags()
	dsn := c.databaseFlag(fl)
	keyFile := c.keyFileFlag(fl)
	out := fl.String("out", "", "write the checkpoint to this file instead of standard output")
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if len(args) > 0 {
			return c.fail(fmt.Errorf("audit checkpoint: unexpected argument %q", args[0]))
		}
		if *keyFile == "" {
			return c.fail(errors.New("audit checkpoint: --key-file (or MODELGATE_AUDIT_KEY_FILE) is required"))
		}
		skey, err := readSignerKey(*keyFile)
		if err != nil {
			return c.fail(err)
		}
		signer, err := note.NewSigner(skey)
		if err != nil {
			return c.fail(err)
		}
		db, err := sqlstore.OpenExisting(ctx, *dsn)
		if err != nil {
			return c.fail(err)
		}
		defer db.Close()
		_, head, err := db.VerifyTree(ctx)
		if broken, ok := errors.AsType[*audit.ChainError](err); ok {
			fmt.Fprintf(c.stdout, "audit log TAMPERED: %v\nno checkpoint signed\n", broken)
			return exitFailed
		}
		if err != nil {
			return c.fail(err)
		}
		msg, err := audit.SignCheckpoint(head, signer)
		if err != nil {
			return c.fail(err)
		}
		if *out == "" {
			if _, err := c.stdout.Write(msg); err != nil {
				return c.fail(fmt.Errorf("write checkpoint: %w", err))
			}
			return exitOK
		}
		if err := os.WriteFile(*out, msg, 0o644); err != nil {
			return c.fail(fmt.Errorf("write checkpoint: %w", err))
		}
		return exitOK
	})
	return cmd
}

// auditKey prints the verifier key of the signing key, which reviewers use
// to check checkpoints, or makes a new signing key. The signing key is
// written only to a new file, readable by its owner alone.
func (c *cli) auditKeyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key (--key-file FILE | --new NAME --out FILE)",
		Short: "print the verifier key of the checkpoint signing key, or make a new signing key",
	}
	fl := cmd.Flags()
	keyFile := c.keyFileFlag(fl)
	name := fl.String("new", "", "make a new signing key for the log called NAME (a host name or URL path, e.g. modelgate.example.com/audit)")
	out := fl.String("out", "", "with --new: the file to write the new signing key to; it must not exist")
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if len(args) > 0 {
			return c.fail(fmt.Errorf("audit key: unexpected argument %q", args[0]))
		}
		if *name == "" {
			if *keyFile == "" {
				return c.fail(errors.New("audit key: --key-file (or MODELGATE_AUDIT_KEY_FILE) or --new is required"))
			}
			skey, err := readSignerKey(*keyFile)
			if err != nil {
				return c.fail(err)
			}
			vkey, err := audit.VerifierKey(skey)
			if err != nil {
				return c.fail(err)
			}
			fmt.Fprintln(c.stdout, vkey)
			return exitOK
		}
		if *out == "" {
			return c.fail(errors.New("audit key: --new needs --out FILE for the signing key"))
		}
		skey, vkey, err := audit.GenerateKey(*name)
		if err != nil {
			return c.fail(err)
		}
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return c.fail(fmt.Errorf("audit key: %w", err))
		}
		if _, err := fmt.Fprintln(f, skey); err != nil {
			_ = f.Close()
			return c.fail(fmt.Errorf("audit key: write %s: %w", *out, err))
		}
		if err := f.Close(); err != nil {
			return c.fail(fmt.Errorf("audit key: write %s: %w", *out, err))
		}
		fmt.Fprintln(c.stdout, vkey)
		return exitOK
	})
	return cmd
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
func (c *cli) auditReportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report --model NAME [flags]",
		Short: "write a model's compliance report: exit 0, 2 when there is nothing to report",
	}
	fl := cmd.Flags()
	dsn := c.databaseFlag(fl)
	model := fl.String("model", "", "the model to report on (required)")
	version := fl.String("version", "", "report on this version only")
	sinceFlag := fl.String("since", "", "report the records recorded at or after this RFC 3339 date (2026-01-31, midnight UTC) or time (2026-01-31T12:00:00Z)")
	format := choiceFlag(cmd, "format", "report format", compliance.FormatHTML, compliance.FormatMarkdown, compliance.FormatJSON, compliance.FormatPDF)
	out := fl.String("out", "", "write the report to this file instead of standard output")
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if len(args) > 0 {
			return c.fail(fmt.Errorf("audit report: unexpected argument %q", args[0]))
		}
		if *model == "" {
			return c.fail(errors.New("audit report: --model is required"))
		}
		q := compliance.Query{Model: *model, Version: *version}
		if *sinceFlag != "" {
			var err error
			if q.Since, err = parseSince(*sinceFlag); err != nil {
				return c.fail(fmt.Errorf("audit report: --since: %w", err))
			}
		}
		db, err := sqlstore.OpenExisting(ctx, *dsn)
		if err != nil {
			return c.fail(err)
		}
		defer db.Close()
		rep, err := compliance.Load(ctx, db, q, time.Now())
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
	})
	return cmd
}

// auditExport writes the log as JSON Lines to standard output, streamed, so
// that a log of any size exports in constant memory. A log that breaks on
// the way stops it with exit 1, and the file it leaves lacks the records
// its header promises, so no import accepts it.
func (c *cli) auditExportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export [flags] > audit.jsonl",
		Short: "write the log, or its records since a date, as JSON Lines with the chain: exit 0, 1 tampered",
	}
	fl := cmd.Flags()
	dsn := c.databaseFlag(fl)
	sinceFlag := fl.String("since", "", "export from the first record recorded at or after this RFC 3339 date (2026-01-31, midnight UTC) or time (2026-01-31T12:00:00Z) on")
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if len(args) > 0 {
			return c.fail(fmt.Errorf("audit export: unexpected argument %q", args[0]))
		}
		var since time.Time
		if *sinceFlag != "" {
			var err error
			if since, err = parseSince(*sinceFlag); err != nil {
				return c.fail(fmt.Errorf("audit export: --since: %w", err))
			}
		}
		db, err := sqlstore.OpenExisting(ctx, *dsn)
		if err != nil {
			return c.fail(err)
		}
		defer db.Close()
		_, err = db.Export(ctx, c.stdout, since)
		if broken, ok := errors.AsType[*audit.ChainError](err); ok {
			fmt.Fprintf(c.stderr, "audit log TAMPERED: %v\nexport incomplete\n", broken)
			return exitFailed
		}
		if err != nil {
			return c.fail(err)
		}
		return exitOK
	})
	return cmd
}

// parseSince reads an RFC 3339 date, meaning its midnight UTC, or time.
func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 date (2026-01-31) nor time (2026-01-31T12:00:00Z)", s)
	}
	return t, nil
}

// auditImport appends an export to the log, after verifying all of it: a
// file with a bad line, or one that does not extend the store's log, is
// refused with exit 1 and nothing written.
func (c *cli) auditImportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import [flags] FILE",
		Short: "verify an export and append it to the log it extends, or nothing: exit 0, 1 refused",
	}
	fl := cmd.Flags()
	dsn := c.databaseFlag(fl)
	cmd.RunE = do(func(ctx context.Context, args []string) int {
		if len(args) != 1 {
			return c.fail(errors.New("audit import: expected one FILE, an export as audit export writes it"))
		}
		file := args[0]
		db, err := sqlstore.Open(ctx, *dsn)
		if err != nil {
			return c.fail(err)
		}
		defer db.Close()
		n, err := db.Import(ctx, file, func() (io.ReadCloser, error) { return os.Open(file) })
		if refused, ok := errors.AsType[*audit.ExportError](err); ok {
			fmt.Fprintf(c.stdout, "audit import REFUSED: %v\nnothing imported\n", refused)
			return exitFailed
		}
		if broken, ok := errors.AsType[*audit.ChainError](err); ok {
			fmt.Fprintf(c.stdout, "audit import REFUSED: the store's audit log is TAMPERED: %v\nnothing imported\n", broken)
			return exitFailed
		}
		if err != nil {
			return c.fail(err)
		}
		fmt.Fprintf(c.stdout, "audit import: %d %s imported from %s\n", n, plural(n, "record"), file)
		return exitOK
	})
	return cmd
}
