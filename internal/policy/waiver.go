package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/gitops"
	"github.com/modelgate/modelgate/internal/schema"
)

// Waiver is a documented, time-limited exception to one deny code.
type Waiver struct {
	Model      string `json:"model"`
	Version    string `json:"version,omitempty"`
	Code       string `json:"code"`
	Reason     string `json:"reason"`
	ApprovedBy string `json:"approvedBy"`
	Expires    string `json:"expires"`
}

// CodeWaiverExpired warns of a waiver of the judged model that no longer
// applies: its denial blocks again.
const CodeWaiverExpired = "waiver.expired"

// unwaivable are the codes no waiver lifts: a waiver cannot stand in for the
// people who must approve, nor for a policy that could not be evaluated.
var unwaivable = []string{"approvals.", "policy_change.", "policy."}

// LoadWaivers reads .modelgate/waivers.yaml from a snapshot. Each entry is
// validated on its own: a malformed one is left out with a warning and the others
// still apply. A file that cannot be read as a list of waivers gives none, with a
// warning.
func LoadWaivers(ctx context.Context, snap gitops.Snapshot, v *schema.Validator) ([]Waiver, []string, error) {
	data, err := snap.ReadFile(ctx, gitops.WaiversPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", gitops.WaiversPath, err)
	}
	var file struct{ Waivers []json.RawMessage }
	if err := v.Decode(schema.WaiverEntries, gitops.WaiversPath, data, &file); err != nil {
		return nil, []string{fmt.Sprintf("all waivers ignored: %v", err)}, nil
	}
	var (
		waivers  []Waiver
		warnings []string
	)
	for i, raw := range file.Waivers {
		var w Waiver
		if err := v.Decode(schema.Waiver, "waiver.json", raw, &w); err != nil {
			warnings = append(warnings, fmt.Sprintf("waiver %d of %s ignored: %s", i+1, gitops.WaiversPath, entryProblems(err)))
			continue
		}
		waivers = append(waivers, w)
	}
	return waivers, warnings, nil
}

// entryProblems says what is wrong with one entry by field, not by position: the
// entry was validated apart from its file.
func entryProblems(err error) string {
	var list schema.Errors
	if !errors.As(err, &list) {
		return err.Error()
	}
	problems := make([]string, len(list))
	for i, e := range list {
		problems[i] = e.Path + ": " + e.Message
	}
	return strings.Join(problems, "; ")
}

// ApplyWaivers turns each deny that a waiver in force covers into a warning
// that carries the waiver; the message stays the policy's, so that a report
// states the waiver once however many denials it lifted. A denial that only an
// expired waiver covers stays denied, with one waiver.expired warning per such
// waiver: a waiver that covers none of the denials is not mentioned.
func ApplyWaivers(d Decision, waivers []Waiver, model, version string, now time.Time) Decision {
	today := now.UTC().Format(time.DateOnly)
	var (
		deny    []Message
		expired []Waiver
	)
	for _, m := range d.Deny {
		var lapsed []Waiver
		waived := false
		for _, w := range waivers {
			if !w.covers(m.Code, model, version) {
				continue
			}
			if w.inForce(today) {
				m.Waiver = &w
				waived = true
				break
			}
			lapsed = append(lapsed, w)
		}
		if waived {
			d.Warn = append(d.Warn, m)
			continue
		}
		deny = append(deny, m)
		for _, w := range lapsed {
			if !slices.Contains(expired, w) {
				expired = append(expired, w)
			}
		}
	}
	for _, w := range expired {
		d.Warn = append(d.Warn, Message{Code: CodeWaiverExpired, Package: "modelgate",
			Msg: fmt.Sprintf("waiver of %s for %s %s expired on %s (approved by %s: %s): the denial blocks again",
				w.Code, model, version, w.Expires, w.ApprovedBy, w.Reason),
			Fields: map[string]any{"waived_code": w.Code, "model": model, "version": version, "expires": w.Expires}})
	}
	d.Deny = deny
	d.Allow = len(deny) == 0
	return d
}

// covers reports whether w is a waiver of the denial code of model at
// version, whether or not it is still in force: the one rule of which waiver
// matches which denial.
func (w Waiver) covers(code, model, version string) bool {
	switch {
	case code == "" || w.Code != code:
		return false
	case w.Model != model:
		return false
	case w.Version != "" && w.Version != version:
		return false
	}
	for _, prefix := range unwaivable {
		if strings.HasPrefix(code, prefix) {
			return false
		}
	}
	return true
}

// inForce reports whether w still holds on the UTC day today (YYYY-MM-DD):
// it holds through its expires day.
func (w Waiver) inForce(today string) bool {
	return w.Expires >= today
}

// String says until when, by whom and why w waives its code.
func (w Waiver) String() string {
	return fmt.Sprintf("waived until %s by %s: %s", w.Expires, w.ApprovedBy, w.Reason)
}
