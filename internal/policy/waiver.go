package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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

// ApplyWaivers turns each deny that a waiver in force covers into a warning that
// names the waiver. Waivers that expired are reported as warnings.
func ApplyWaivers(d Decision, waivers []Waiver, model, version string, now time.Time) Decision {
	today := now.UTC().Format(time.DateOnly)
	var deny []Message
	for _, m := range d.Deny {
		w, ok := findWaiver(waivers, m.Code, model, version, today)
		if !ok {
			deny = append(deny, m)
			continue
		}
		m.Waiver = &w
		m.Msg += WaiverNote(w)
		d.Warn = append(d.Warn, m)
	}
	for _, w := range waivers {
		if w.Model == model && (w.Version == "" || w.Version == version) && w.Expires < today {
			d.Warn = append(d.Warn, Message{Code: "waiver.expired", Package: "modelgate",
				Msg: fmt.Sprintf("waiver of %s for %s expired on %s and no longer applies", w.Code, model, w.Expires)})
		}
	}
	d.Deny = deny
	d.Allow = len(deny) == 0
	return d
}

// WaiverNote is what ApplyWaivers appends to the message of a denial that w
// turned into a warning.
func WaiverNote(w Waiver) string {
	return fmt.Sprintf(" (waived until %s by %s: %s)", w.Expires, w.ApprovedBy, w.Reason)
}

func findWaiver(waivers []Waiver, code, model, version, today string) (Waiver, bool) {
	for _, prefix := range unwaivable {
		if code == "" || strings.HasPrefix(code, prefix) {
			return Waiver{}, false
		}
	}
	for _, w := range waivers {
		if w.Code == code && w.Model == model && (w.Version == "" || w.Version == version) && w.Expires >= today {
			return w, true
		}
	}
	return Waiver{}, false
}
