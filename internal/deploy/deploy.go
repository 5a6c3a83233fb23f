// Package deploy is what modelgate and a deployer agree on about a deployment
// of a model version to a stage: the payload the App puts on the GitHub
// Deployment, the states a deployer reports and which may follow which, and
// the form in which a deployer names the artifact it deployed.
package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Task is the task of every deployment the App creates; deployments of other
// tasks are not modelgate's.
const Task = "deploy:model"

// Artifact is the model artifact a deployment must run.
type Artifact struct {
	URI    string `json:"uri"`
	Digest string `json:"digest"`
}

// Payload is the payload of a deployment: which version of which model
// replaces which, and the artifact the deployer must run, taken from the
// version's manifest.
type Payload struct {
	Model   string `json:"model"`
	Version string `json:"version"`
	// PreviousVersion is the version the stage ran before; "" for the first.
	PreviousVersion string   `json:"previous_version"`
	ManifestPath    string   `json:"manifest_path"`
	Artifact        Artifact `json:"artifact"`
}

var (
	// modelRE is the manifest schema's metadata.name: a DNS label.
	modelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// digestRE is the manifest schema's spec.artifact.digest.
	digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// Validate reports the first field of the payload that a deployer could not
// act on safely.
func (p Payload) Validate() error {
	switch {
	case !modelRE.MatchString(p.Model):
		return fmt.Errorf("payload.model: %q is not a model name (a DNS label)", p.Model)
	case p.Version == "":
		return errors.New("payload.version: missing")
	case p.ManifestPath == "":
		return errors.New("payload.manifest_path: missing")
	case p.Artifact.URI == "":
		return errors.New("payload.artifact.uri: missing")
	}
	return CheckDigest("payload.artifact.digest", p.Artifact.Digest)
}

// CheckDigest reports whether digest has the form sha256:<64 lower-case hex>;
// field names it in the error.
func CheckDigest(field, digest string) error {
	if !digestRE.MatchString(digest) {
		return fmt.Errorf("%s: %q is not a digest of the form sha256:<64 lower-case hex digits>", field, digest)
	}
	return nil
}

// ParsePayload decodes and validates a deployment's payload. A field it does
// not know is an error: the payload is modelgate's, and a deployer that
// acted on a payload it half understood could run the wrong artifact.
func ParsePayload(raw []byte) (Payload, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var p Payload
	if err := dec.Decode(&p); err != nil {
		return Payload{}, fmt.Errorf("deployment payload: %w", err)
	}
	if dec.More() {
		return Payload{}, errors.New("deployment payload: data after the JSON object")
	}
	if err := p.Validate(); err != nil {
		return Payload{}, fmt.Errorf("deployment payload: %w", err)
	}
	return p, nil
}

// State is what a deployer reports of a deployment.
type State string

// The states of a deployment, as GitHub names them.
const (
	Queued     State = "queued"
	InProgress State = "in_progress"
	Success    State = "success"
	Failure    State = "failure"
	Error      State = "error"
	// Inactive is a deployment that no longer runs: a newer one replaced it.
	Inactive State = "inactive"
)

var states = []State{Queued, InProgress, Success, Failure, Error, Inactive}

// ParseState returns the state s names.
func ParseState(s string) (State, error) {
	for _, st := range states {
		if string(st) == s {
			return st, nil
		}
	}
	names := make([]string, len(states))
	for i, st := range states {
		names[i] = string(st)
	}
	return "", fmt.Errorf("deployment state %q is not one of %s", s, strings.Join(names, ", "))
}

// Failed reports whether the deployment did not run as it should: a version
// whose deployment failed in a stage never counts as having run there.
func (s State) Failed() bool { return s == Failure || s == Error }

// follows lists the states each state may be followed by. A deployment
// that succeeded may still fail (its health degrades after the sync) or be
// replaced; one that failed, errored or was replaced is over, and trying
// again is a new deployment.
var follows = map[State][]State{
	"":         {Queued, InProgress, Success, Failure, Error},
	Queued:     {Queued, InProgress, Success, Failure, Error, Inactive},
	InProgress: {InProgress, Success, Failure, Error, Inactive},
	Success:    {Failure, Error, Inactive},
}

// ErrTransition is returned by Transition for a state that may not follow
// the one before.
var ErrTransition = errors.New("deployment state may not follow")

// Transition reports whether a deployment in state from (empty for a new
// deployment, without a status yet) may move to state to.
func Transition(from, to State) error {
	for _, s := range follows[from] {
		if s == to {
			return nil
		}
	}
	if from == "" {
		return fmt.Errorf("%w a new deployment: %s", ErrTransition, to)
	}
	return fmt.Errorf("%w %s: %s", ErrTransition, from, to)
}

// maxDescription is GitHub's limit on a deployment status's description,
// in characters.
const maxDescription = 140

// deployedPrefix starts the description of every success a deployer posts
// through modelgate, followed by the digest it deployed.
const deployedPrefix = "deployed "

// StatusDescription is the description of a status in state: for a success,
// the digest the deployer deployed, in the form DeployedDigest reads, then
// note; for the others, note. It is cut to GitHub's limit, which refuses a
// longer one: a failure report must not be lost for its length.
func StatusDescription(state State, digest, note string) string {
	d := note
	if state == Success {
		d = deployedPrefix + digest
		if note != "" {
			d += "; " + note
		}
	}
	if r := []rune(d); len(r) > maxDescription {
		d = string(r[:maxDescription])
	}
	return d
}

// DeployedDigest returns the digest a success status's description names,
// as StatusDescription writes it.
func DeployedDigest(description string) (string, bool) {
	rest, ok := strings.CutPrefix(description, deployedPrefix)
	if !ok {
		return "", false
	}
	digest, _, _ := strings.Cut(rest, ";")
	if CheckDigest("", digest) != nil {
		return "", false
	}
	return digest, true
}

// ErrDigestMismatch is returned by Payload.Deployed when a deployer names
// another artifact than the deployment's.
var ErrDigestMismatch = errors.New("the deployed digest is not the deployment's artifact")

// Deployed checks that digest, the artifact a deployer says it deployed, is
// the one the payload names.
func (p Payload) Deployed(digest string) error {
	if err := CheckDigest("digest", digest); err != nil {
		return err
	}
	if digest != p.Artifact.Digest {
		return fmt.Errorf("%w: deployed %s, but %s %s is %s", ErrDigestMismatch, digest, p.Model, p.Version, p.Artifact.Digest)
	}
	return nil
}
