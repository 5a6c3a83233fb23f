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
		Refused      string `json:"refused,omitempty"`
		Reason       string `json:"reason,omitempty"`
	}
	// PushPayload is the payload of a KindPush record.
	PushPayload struct {
		HeadRef string `json:"head_ref"`
	}
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
