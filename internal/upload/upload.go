// Package upload holds the wire types of the App's evidence upload, POST
// /api/v1/evidence, which the App serves and `modelgate evidence upload`
// calls: a GitHub Actions workflow sends the evidence it computed for a pull
// request's manifest, authenticated by its OIDC token.
package upload

import (
	"encoding/json"
	"fmt"
)

// Path is where the App takes uploads.
const Path = "/api/v1/evidence"

// MaxBody bounds a request's body: an evidence document is small, numbers
// about files, never the files.
const MaxBody = 4 << 20

// Request is the body of an upload.
type Request struct {
	// Manifest is the manifest's path in the repository, as at the head.
	Manifest string `json:"manifest"`
	// PullRequest is the pull request the evidence is for; needed only when
	// the token's ref is not refs/pull/N/merge (a push or dispatch run).
	PullRequest int `json:"pull_request,omitempty"`
	// Evidence is the document modelgate check wrote.
	Evidence json.RawMessage `json:"evidence"`
}

// Accepted is the answer to an upload the App accepted (201 Created).
type Accepted struct {
	ID          int64  `json:"id"` // the sequence number of its audit record
	Repository  string `json:"repository"`
	PullRequest int    `json:"pull_request"`
	HeadSHA     string `json:"head_sha"`
	Model       string `json:"model"`
	Version     string `json:"version"`
}

// Error is an upload the App refused, or could not take: the status it
// answered, and the body's code and message.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Refused tells a refusal, which no retry changes, from an App that could
// not take the upload now.
func (e *Error) Refused() bool { return e.Status < 500 }

// ErrorBody is the body of every answer but 201.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Codes of refusals besides the token verifier's reasons (package oidc),
// which refuse with 401 under their own names.
const (
	CodeMissingToken       = "missing_token"          // 401: no Authorization: Bearer
	CodeReplayedToken      = "replayed_token"         // 401: the token's jti was used before
	CodeNotInstalled       = "not_installed"          // 403: the App is not installed on the token's repository
	CodeRepositoryMismatch = "repository_mismatch"    // 403: the repository's id is not the token's
	CodeUntrustedWorkflow  = "untrusted_workflow"     // 403: the base config does not trust job_workflow_ref
	CodeUnknownPullRequest = "unknown_pull_request"   // 404: no such open pull request
	CodeHeadMismatch       = "head_mismatch"          // 409: the token's sha is neither the head nor its test merge commit
	CodeManifestMismatch   = "manifest_mismatch"      // 409: the evidence is not about the manifest at the head
	CodeInvalidEvidence    = "invalid_evidence"       // 400: not a valid evidence document
	CodeMalformedBody      = "malformed_body"         // 400: not a JSON body of this shape
	CodeBodyTooLarge       = "body_too_large"         // 413
	CodeUnsupportedType    = "unsupported_media_type" // 415: not application/json
	CodeUnavailable        = "unavailable"            // 503: GitHub, the issuer or the store did not answer
	CodeUploadsDisabled    = "uploads_disabled"       // 404: the App has no OIDC audience, so it takes no uploads
)
