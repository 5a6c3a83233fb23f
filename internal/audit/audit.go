// Package audit defines modelgate's append-only audit log: the entries that
// record every gate decision and release step, and the hash chain that makes
// any edit, deletion or reordering of them detectable.
package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/modelgate/modelgate/internal/analysis"
	"github.com/modelgate/modelgate/internal/deploy"
)

// Kind says what happened.
type Kind string

// The kinds of event modelgate records.
const (
	KindDecision     Kind = "decision"
	KindApproval     Kind = "approval"
	KindMerge        Kind = "merge"
	KindMergeRefused Kind = "merge_refused"
	KindPush         Kind = "push" // someone pushed commits to a pull request
	KindDeployment   Kind = "deployment"
	// KindDeploymentStatus is a status a deployer posted on a deployment the
	// App created, accepted or refused.
	KindDeploymentStatus Kind = "deployment_status"
	KindRollback         Kind = "rollback"
	KindGate             Kind = "gate"
	// KindMeasurement is one measurement of a stage's live analysis of the
	// run a deployment started.
	KindMeasurement Kind = "analysis_measurement"
	// KindAnalysis is the state of a run's live analysis: recorded as Running
	// when the analysis starts and again when it reaches its verdict.
	KindAnalysis Kind = "analysis"
	// KindProposal is a pull request the App opened itself: the promotion
	// of a version that soaked into the next stage, or a rollback.
	KindProposal Kind = "proposal"
	// KindCommand is a /modelgate promote or rollback command, carried out or
	// refused.
	KindCommand Kind = "command"
	// KindEvidence is an evidence document a GitHub Actions workflow
	// uploaded for a pull request's head, accepted after its OIDC token and
	// its binding to the head were verified; Model and Version are the
	// document's, HeadSHA the pull request's head.
	KindEvidence Kind = "evidence"
	// KindEvidenceRefused is an upload that was refused, with why.
	KindEvidenceRefused Kind = "evidence_refused"
)

// The payloads of the records the GitHub App writes besides decisions (whose
// payload is gate.DecisionRecord). Writers and readers of the log share them
// so that the two cannot drift apart.
type (
	// ApprovalPayload is the payload of a KindApproval record: an approving
	// review that counted, on the record's head.
	ApprovalPayload struct {
		ReviewID    int64     `json:"review_id"`
		Teams       []string  `json:"teams"`
		SubmittedAt time.Time `json:"submitted_at"`
	}
	// MergePayload is the payload of a KindMerge record.
	MergePayload struct {
		Method    string `json:"method"`
		CommitSHA string `json:"merge_commit_sha"`
		BaseRef   string `json:"base_ref"`
	}
	// MergeRefusedPayload is the payload of a KindMergeRefused record.
	MergeRefusedPayload struct {
		Method string `json:"method"`
		Reason string `json:"reason"`
	}
	// DeploymentPayload is the payload of a KindDeployment record: a GitHub
	// deployment the App created for a pin its merge changed. Model, Version
	// and Stage are the record's; its HeadSHA is the merge commit.
	DeploymentPayload struct {
		DeploymentID int64          `json:"deployment_id"`
		Environment  string         `json:"environment"`
		Ref          string         `json:"ref"`
		BaseRef      string         `json:"base_ref"`
		Deployment   deploy.Payload `json:"deployment_payload"`
		// Rebuilt marks a deployment recorded from GitHub's list of the
		// App's deployments when the store had lost it (a new store).
		Rebuilt bool `json:"rebuilt,omitempty"`
		// CreatedAt is when GitHub says the deployment was created: a
		// rebuilt record is written long after, and the run it starts ends
		// the one before it then, not when the store was rebuilt.
		CreatedAt time.Time `json:"created_at,omitzero"`
		// Soak is the stage's soak as the config at Ref sets it, a Go
		// duration ("24h0m0s"): the run soaks from its success until the
		// soak has passed. Empty in records made before it was recorded.
		Soak string `json:"soak,omitempty"`
	}
	// DeploymentStatusPayload is the payload of a KindDeploymentStatus
	// record. Refused, when not empty, says why the status does not count:
	// a success that does not name the deployment's digest
	// (RefusedDigestMismatch), or a state that may not follow the one before.
	DeploymentStatusPayload struct {
		DeploymentID int64  `json:"deployment_id"`
		StatusID     int64  `json:"status_id"`
		State        string `json:"state"`
		Description  string `json:"description"`
		LogURL       string `json:"log_url"`
		BaseRef      string `json:"base_ref"`
		// CreatedAt is when GitHub says the status was posted: a soak runs
		// from the success's CreatedAt, not from when the App got to it.
		CreatedAt time.Time `json:"created_at,omitzero"`
		Refused   string    `json:"refused,omitempty"`
		Reason    string    `json:"reason,omitempty"`
	}
	// MeasurementPayload is the payload of a KindMeasurement record; Model,
	// Version and Stage are the record's, its HeadSHA the deployment's ref.
	MeasurementPayload struct {
		DeploymentID int64                `json:"deployment_id"`
		BaseRef      string               `json:"base_ref"`
		Measurement  analysis.Measurement `json:"measurement"`
	}
	// AnalysisPayload is the payload of a KindAnalysis record.
	AnalysisPayload struct {
		DeploymentID int64          `json:"deployment_id"`
		BaseRef      string         `json:"base_ref"`
		State        analysis.State `json:"state"`
	}
	// ProposalPayload is the payload of a KindProposal record. The record's
	// Model, Version and Stage are the pin the pull request proposes; its
	// PullRequest is the pull request opened, its HeadSHA the commit proposed.
	ProposalPayload struct {
		Purpose string `json:"purpose"` // ProposePromotion or ProposeRollback
		Branch  string `json:"branch"`
		BaseRef string `json:"base_ref"`
		// FromStage is the stage the version soaked in (a promotion); empty
		// for a rollback.
		FromStage string `json:"from_stage,omitempty"`
		// Replaces is the version the stage runs that the pull request
		// replaces; empty when it runs none.
		Replaces string `json:"replaces,omitempty"`
		// Trigger is what made the App open it: TriggerSoak, TriggerCommand,
		// TriggerDeploymentFailed or TriggerAnalysisFailed.
		Trigger      string `json:"trigger"`
		DeploymentID int64  `json:"deployment_id,omitempty"` // the run that triggered it
		// Superseded lists the App's older open pull requests for the same
		// model and stage that it closed for this one.
		Superseded []int `json:"superseded,omitempty"`
	}
	// CommandPayload is the payload of a KindCommand record: its Actor wrote
	// the comment, its PullRequest is the issue or pull request commented on.
	CommandPayload struct {
		CommentID int64    `json:"comment_id"`
		Command   string   `json:"command"` // "promote" or "rollback"
		Args      []string `json:"args"`
		Refused   string   `json:"refused,omitempty"` // why it was not carried out
	}
	// EvidencePayload is the payload of a KindEvidence record.
	EvidencePayload struct {
		// Manifest is the manifest's path at the head, and ManifestSHA256
		// the digest of its bytes there, which the evidence names.
		Manifest       string          `json:"manifest"`
		ManifestSHA256 string          `json:"manifest_sha256"`
		Evidence       json.RawMessage `json:"evidence"`
		Claims         WorkflowClaims  `json:"claims"`
		// MergeCommit is the token's sha when it was the test merge commit
		// of a pull_request workflow, whose parents were checked to be the
		// base and the head; empty when the token named the head itself.
		MergeCommit string    `json:"merge_commit,omitempty"`
		VerifiedAt  time.Time `json:"verified_at"`
	}
	// EvidenceRefusedPayload is the payload of a KindEvidenceRefused record.
	// Claims is set only once the token's signature and claims were
	// verified: what an unverified token says is nobody's word, so the
	// record's Repository is empty then too.
	EvidenceRefusedPayload struct {
		Reason  string          `json:"reason"` // a code: expired, wrong_audience, untrusted_workflow, ...
		Message string          `json:"message"`
		Claims  *WorkflowClaims `json:"claims,omitempty"`
	}
	// WorkflowClaims are the claims of a verified GitHub Actions OIDC token
	// that say which run made an upload (GitHub's claim names).
	WorkflowClaims struct {
		Issuer         string    `json:"iss"`
		Subject        string    `json:"sub"`
		Repository     string    `json:"repository"`
		RepositoryID   string    `json:"repository_id"`
		Ref            string    `json:"ref"`
		SHA            string    `json:"sha"`
		EventName      string    `json:"event_name"`
		JobWorkflowRef string    `json:"job_workflow_ref"`
		WorkflowRef    string    `json:"workflow_ref"`
		RunID          string    `json:"run_id"`
		RunAttempt     string    `json:"run_attempt"`
		Actor          string    `json:"actor"`
		JTI            string    `json:"jti"`
		IssuedAt       time.Time `json:"iat"`
		Expires        time.Time `json:"exp"`
	}
	// PushPayload is the payload of a KindPush record.
	PushPayload struct {
		HeadRef string `json:"head_ref"`
	}
)

// What a KindProposal pull request is for, and what made the App open it.
const (
	ProposePromotion = "promotion"
	ProposeRollback  = "rollback"

	TriggerSoak             = "soak"
	TriggerCommand          = "command"
	TriggerDeploymentFailed = "deployment_failed"
	TriggerAnalysisFailed   = "analysis_failed"
)

// Why a deployment status was refused (DeploymentStatusPayload.Refused).
const (
	RefusedDigestMismatch = "digest_mismatch"
	RefusedTransition     = "transition"
)

// ErrInvalidEntry is wrapped by the errors Normalize returns, so callers can
// tell a bad entry from a failing store.
var ErrInvalidEntry = errors.New("invalid audit entry")

// Entry is what a caller records; the store adds sequence, time and digests.
type Entry struct {
	Kind        Kind            `json:"kind"`
	Repository  string          `json:"repository"`
	Model       string          `json:"model"`
	Version     string          `json:"version"`
	Stage       string          `json:"stage"`
	PullRequest int             `json:"pull_request"`
	HeadSHA     string          `json:"head_sha"`
	Actor       string          `json:"actor"`
	Payload     json.RawMessage `json:"payload"`
}

// Normalize checks that e can be recorded and returns it with its payload in
// the compact form that is stored and hashed, "{}" when it is empty.
func (e Entry) Normalize() (Entry, error) {
	if e.Kind == "" {
		return Entry{}, fmt.Errorf("%w: kind is empty", ErrInvalidEntry)
	}
	payload, err := compactObject(e.Payload)
	if err != nil {
		return Entry{}, err
	}
	e.Payload = payload
	return e, nil
}

func compactObject(raw json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage(`{}`), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("%w: payload is not valid JSON: %w", ErrInvalidEntry, err)
	}
	if buf.Bytes()[0] != '{' {
		return nil, fmt.Errorf("%w: payload must be a JSON object", ErrInvalidEntry)
	}
	return buf.Bytes(), nil
}

// Filter selects records; empty fields match everything.
type Filter struct {
	Model      string
	Version    string
	Stage      string
	Repository string
	Kind       Kind
	// PullRequest, when not 0, and HeadSHA and Actor, when not empty, narrow
	// the records to one pull request's, as of one head, by one actor.
	PullRequest int
	HeadSHA     string
	Actor       string
}
