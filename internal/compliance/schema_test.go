package compliance

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/schema"
)

// validateReport checks a report's JSON against schemas/report.cue.
func validateReport(t *testing.T, data []byte) {
	t.Helper()
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := v.Decode(schema.Report, "report.json", data, &out); err != nil {
		t.Errorf("report does not match #Report: %v\n%s", err, data)
	}
}

// full is a report with every field of every type set, omitempty or not,
// so that a field the schema does not name fails it.
func full(t *testing.T) *Report {
	t.Helper()
	var rep Report
	fill(reflect.ValueOf(&rep).Elem())
	// The fields the schema gives a set of values.
	rep.Schema = Schema
	for i := range rep.Summary {
		rep.Summary[i].State = StateSoaking
	}
	for _, v := range rep.Versions {
		for _, s := range v.Stages {
			for i := range s.Proposals {
				s.Proposals[i].Status = StatusMerged
				for j := range s.Proposals[i].Approvals {
					s.Proposals[i].Approvals[j].SubmittedAt = "2025-06-01T09:00:00Z"
				}
			}
		}
	}
	return &rep
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func fill(v reflect.Value) {
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)))
		return
	case v.Type() == rawType:
		v.SetBytes([]byte(`{"deployment_id":1}`))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Float64:
		v.SetFloat(0.5)
	}
}

// TestSchemaNamesEveryField validates a report with every field set, and
// real ones, against the closed definitions of schemas/report.cue: a field
// added to the report without the schema fails here.
func TestSchemaNamesEveryField(t *testing.T) {
	var buf bytes.Buffer
	if err := full(t).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	validateReport(t, buf.Bytes())

	s := history(t, "x")
	s.records[4].Payload = json.RawMessage(`not json`)
	s.broken = &audit.ChainError{Seq: 5, Reason: "digest mismatch (record edited)"}
	for _, rep := range []*Report{load(t, history(t, "x"), ""), load(t, s, "1.4.0")} {
		buf.Reset()
		if err := rep.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		validateReport(t, buf.Bytes())
	}
}

// TestSchemaRefusesAnUnknownField checks that the schema is closed.
func TestSchemaRefusesAnUnknownField(t *testing.T) {
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := load(t, history(t, "x"), "").WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	data := bytes.Replace(buf.Bytes(), []byte(`"intact": true`), []byte(`"intact": true, "extra": 1`), 1)
	var out any
	if err := v.Decode(schema.Report, "report.json", data, &out); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("a report with an unknown key: %v, want it refused", err)
	}
}

// TestDocsNameEveryField checks that docs/report.md documents every key the
// report writes.
func TestDocsNameEveryField(t *testing.T) {
	doc, err := os.ReadFile("../../docs/report.md")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := full(t).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				keys[k] = true
				// A payload as recorded, and a map by task and metric,
				// have keys of the data's, not of the report's.
				if k != "details" && k != "minimum" {
					walk(e)
				}
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	for k := range keys {
		if !regexp.MustCompile("`" + regexp.QuoteMeta(k) + "`").Match(doc) {
			t.Errorf("docs/report.md does not document the key %q", k)
		}
	}
}
