package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"

	"github.com/modelgate/modelgate/checks/drift"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/manifest"
)

// Checker runs the checks for the gate, with the base branch's thresholds and
// limits.
type Checker struct{}

// Check runs every check m declares and returns the evidence document.
func (Checker) Check(ctx context.Context, m *manifest.Manifest, files fs.FS, cfg *gitops.Config) (json.RawMessage, error) {
	ev, err := Run(ctx, m, files, drift.Thresholds(cfg.Thresholds.Drift), cfg.Limits)
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode evidence: %w", err)
	}
	return doc, nil
}
