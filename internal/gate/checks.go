package gate

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"

	"github.com/modelgate/modelgate/checks"
	"github.com/modelgate/modelgate/checks/drift"
	"github.com/modelgate/modelgate/checks/table"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/manifest"
)

// Checks is the Checker that runs package checks, which knows no config: it
// takes the thresholds and limits of cfg.
type Checks struct{}

func (Checks) Check(ctx context.Context, m *manifest.Manifest, files fs.FS, cfg *gitops.Config) (json.RawMessage, error) {
	ev, err := RunChecks(ctx, m, files, cfg)
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode evidence: %w", err)
	}
	return doc, nil
}

// RunChecks runs the checks m declares on files with cfg's drift thresholds
// and limits, as the gate does and `modelgate check` does.
func RunChecks(ctx context.Context, m *manifest.Manifest, files fs.FS, cfg *gitops.Config) (*checks.Evidence, error) {
	limits := table.Limits{Rows: cfg.Limits.Rows, Columns: cfg.Limits.Columns}
	return checks.Run(ctx, m, files, drift.Thresholds(cfg.Thresholds.Drift), limits)
}
