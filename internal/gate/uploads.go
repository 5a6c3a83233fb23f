package gate

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/policy"
	"github.com/modelgate/modelgate/internal/rollout"
)

// CodeEvidenceRequired denies a promotion whose data the gate cannot read and
// for which no trusted workflow uploaded evidence.
const CodeEvidenceRequired = "evidence.required"

// Uploads finds the evidence documents that workflows uploaded for a model
// version at a head, oldest first. It is used concurrently when the gate is.
type Uploads interface {
	Uploads(ctx context.Context, repository, head, model, version string) ([]Upload, error)
}

// Upload is one accepted upload: the evidence, the manifest it was computed
// for, and the verified claims of the workflow run that sent it.
type Upload struct {
	Seq            int64
	Manifest       string
	ManifestSHA256 string
	Evidence       json.RawMessage
	Claims         audit.WorkflowClaims
	VerifiedAt     time.Time
}

// AuditUploads reads uploads from the audit log's evidence records, which the
// App writes only once an upload's token and binding to the head were
// verified.
type AuditUploads struct{ Log rollout.Log }

func (a AuditUploads) Uploads(ctx context.Context, repository, head, model, version string) ([]Upload, error) {
	recs, err := a.Log.Records(ctx, audit.Filter{Kind: audit.KindEvidence, Repository: repository, HeadSHA: head, Model: model, Version: version})
	if err != nil {
		return nil, fmt.Errorf("read uploaded evidence of %s %s: %w", model, version, err)
	}
	uploads := make([]Upload, 0, len(recs))
	for _, r := range recs {
		var p audit.EvidencePayload
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			return nil, fmt.Errorf("audit record %d: %w", r.Seq, err)
		}
		uploads = append(uploads, Upload{Seq: r.Seq, Manifest: p.Manifest, ManifestSHA256: p.ManifestSHA256,
			Evidence: p.Evidence, Claims: p.Claims, VerifiedAt: p.VerifiedAt})
	}
	return uploads, nil
}

// trusted returns the newest upload that is about the head's manifest, byte
// for byte, and that a workflow the base branch's config trusts sent: the
// config in force now decides, not the one at the time of the upload.
func trusted(uploads []Upload, p *gitops.Promotion, rule gitops.EvidenceRule) (Upload, bool) {
	for i := len(uploads) - 1; i >= 0; i-- {
		u := uploads[i]
		if u.Manifest == p.ManifestPath && u.ManifestSHA256 == p.ManifestSHA256 && rule.Trusts(u.Claims.JobWorkflowRef) {
			return u, true
		}
	}
	return Upload{}, false
}

// evidence finds what a promotion is judged on: evidence a trusted workflow
// uploaded; else, for data the manifest names by URI, none (the gate cannot
// read it, and denies); else what the checker computes from the head's files.
// A non-nil denial is the reason the evidence is missing.
func (g *Gate) evidence(ctx context.Context, repository, head string, snap gitops.Snapshot, p *gitops.Promotion, cfg *gitops.Config) (json.RawMessage, *policy.EvidenceSource, *policy.Message, error) {
	uploads, err := g.uploads.Uploads(ctx, repository, head, p.Model, p.Version)
	if err != nil {
		return nil, nil, nil, err
	}
	if u, ok := trusted(uploads, p, cfg.Evidence); ok {
		return u.Evidence, &policy.EvidenceSource{Kind: policy.EvidenceOIDC, Workflow: u.Claims.JobWorkflowRef,
			RunID: u.Claims.RunID, VerifiedAt: u.VerifiedAt.UTC().Format(time.RFC3339)}, nil, nil
	}
	if uris := p.Manifest.URIs(); len(uris) > 0 {
		return nil, nil, &policy.Message{Code: CodeEvidenceRequired, Package: "modelgate",
			Msg: fmt.Sprintf("%s %s: the manifest names data by URI (%s), which modelgate does not read: it can be judged only on evidence uploaded by a workflow that config.evidence.trustedWorkflows lists (modelgate evidence upload)",
				p.Model, p.Version, strings.Join(uris, ", "))}, nil
	}
	doc, checkErr := g.checker.Check(ctx, p.Manifest, gitops.FS(ctx, snap, path.Dir(p.ManifestPath), cfg.Limits.FileBytes), cfg)
	if ctx.Err() != nil {
		return nil, nil, nil, ctx.Err()
	}
	if checkErr != nil {
		return nil, nil, &policy.Message{Code: CodeChecks, Package: "modelgate",
			Msg: fmt.Sprintf("%s %s: the checks the manifest declares could not run: %v", p.Model, p.Version, checkErr)}, nil
	}
	return doc, &policy.EvidenceSource{Kind: policy.EvidenceApp}, nil, nil
}
