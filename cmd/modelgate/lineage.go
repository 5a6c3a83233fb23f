package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/modelgate/modelgate/checks"
	"github.com/modelgate/modelgate/checks/table"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/lineage"
	"github.com/modelgate/modelgate/manifest"
)

// mlflowTimeout bounds each request to a tracking server.
const mlflowTimeout = 30 * time.Second

// checkLineage compares the manifest and the evidence with the DVC project in
// dvcDir and the MLflow run the manifest names, read from mlflowURI: an
// http(s) URL of a tracking server, or a file store folder (or file: URL).
func checkLineage(ctx context.Context, c *cli, m *manifest.Manifest, ev *checks.Evidence, dir *gitops.Dir, manifestDir string, limits gitops.Limits, dvcDir, mlflowURI string) (*checks.Lineage, error) {
	cfg := lineage.Config{
		Manifest: m, Evidence: ev, Files: dir, Dir: manifestDir,
		Limits: table.Limits{Rows: limits.Rows, Columns: limits.Columns},
	}
	if dvcDir != "" {
		d, err := lineage.OpenDVC(dvcDir)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		cfg.DVC = d
	}
	if mlflowURI != "" && m.Spec.Lineage != nil && m.Spec.Lineage.MLflow != nil {
		tr, err := openTracking(mlflowURI, c.getenv("MLFLOW_TRACKING_TOKEN"))
		if err != nil {
			return nil, err
		}
		if cl, ok := tr.(io.Closer); ok {
			defer cl.Close()
		}
		cfg.Tracking = tr
	}
	return lineage.Check(ctx, cfg)
}

func openTracking(uri, token string) (lineage.Tracking, error) {
	scheme, _, hasScheme := strings.Cut(uri, "://")
	switch {
	case !hasScheme:
		return lineage.OpenFileStore(uri)
	case scheme == "file":
		u, err := url.Parse(uri)
		if err != nil || (u.Host != "" && u.Host != "localhost") {
			return nil, fmt.Errorf("MLflow tracking URI %q: a file: URL of a local folder", uri)
		}
		return lineage.OpenFileStore(u.Path)
	case scheme == "http" || scheme == "https":
		return lineage.NewServer(uri, token, &http.Client{Timeout: mlflowTimeout})
	}
	return nil, fmt.Errorf("MLflow tracking URI %q: modelgate reads a tracking server (http, https) or a file store folder, not %s:", uri, scheme)
}

// writeLineage prints the lineage sources read and every mismatch.
func writeLineage(w io.Writer, l *checks.Lineage) {
	if l == nil {
		return
	}
	verdict := "consistent"
	if n := len(l.Mismatches); n > 0 {
		verdict = fmt.Sprintf("%d mismatches", n)
	}
	fmt.Fprintf(w, "\nlineage: %s\n", verdict)
	if d := l.DVC; d != nil {
		fmt.Fprintf(w, "  dvc\t%d files read\t%d entries compared\n", d.Files, len(d.Tracked))
	}
	if ml := l.MLflow; ml != nil {
		fmt.Fprintf(w, "  mlflow\trun %s\t%s\t%d metrics\n", ml.RunID, ml.Status, len(ml.Metrics))
	}
	for _, mm := range l.Mismatches {
		fmt.Fprintf(w, "  %s\t%s\t%s\n", mm.Source, mm.Subject, mm.Message)
	}
}
