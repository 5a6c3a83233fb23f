package checks

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/modelgate/modelgate/checks/evaluation"
	"github.com/modelgate/modelgate/checks/fairness"
	"github.com/modelgate/modelgate/checks/table"
	"github.com/modelgate/modelgate/manifest"
)

// defaultThreshold turns scores into predictions when the manifest names neither
// a prediction column nor a threshold.
const defaultThreshold = 0.5

// evaluation reads the predictions and the baseline and starts, as each is
// read, the computation of its metrics, and of the fairness across sensitive
// attributes.
func (r *runner) evaluation(ctx context.Context, checks *pending, task string, e *manifest.Evaluation, f *manifest.Fairness) error {
	if f != nil && task != manifest.BinaryClassification {
		return fmt.Errorf("fairness compares selection and error rates, which need a binary_classification task, not %s", task)
	}
	var attrs []string
	if f != nil {
		attrs = f.SensitiveAttributes
	}
	pred, err := r.predictions(ctx, RolePredictions, task, e, e.Predictions, attrs)
	if err != nil {
		return err
	}
	ev := &Evaluation{Task: task, Rows: pred.rows}
	r.ev.Evaluation = ev
	checks.start(func() error {
		tasks := []func() error{func() error {
			ev.Metrics = numbers(pred.metrics(task))
			return nil
		}}
		groups := make([]*Attribute, len(attrs))
		for i, a := range attrs {
			tasks = append(tasks, func() error {
				groups[i] = compareGroups(pred, pred.table.Column(a), f.ReferenceGroups[a])
				return nil
			})
		}
		if err := parallel(tasks...); err != nil {
			return err
		}
		if f != nil {
			r.ev.Fairness = make(map[string]*Attribute, len(attrs))
			for i, a := range attrs {
				r.ev.Fairness[a] = groups[i]
			}
		}
		return nil
	})
	if e.Baseline == "" {
		return nil
	}
	base, err := r.predictions(ctx, RoleBaseline, task, e, e.Baseline, nil)
	if err != nil {
		return err
	}
	checks.start(func() error {
		ev.Baseline = &Baseline{Rows: base.rows, Metrics: numbers(base.metrics(task))}
		return nil
	})
	return nil
}

// predictions is what the metrics need of a predictions file.
type predictions struct {
	table  *table.Table
	rows   int
	labels []int32 // binary: 0 or 1; multiclass: class codes
	preds  []int32
	scores []float64
	// regression
	labelValues, predValues []float64
	classes                 int
}

func (p *predictions) metrics(task string) evaluation.Metrics {
	switch task {
	case manifest.BinaryClassification:
		return evaluation.Binary(p.labels, p.preds, p.scores)
	case manifest.MulticlassClassification:
		return evaluation.Multiclass(p.labels, p.preds, p.classes)
	}
	return evaluation.Regression(p.labelValues, p.predValues)
}

// predictions reads a predictions file and checks that every row has what the
// task's metrics need.
func (r *runner) predictions(ctx context.Context, role, task string, e *manifest.Evaluation, name string, attrs []string) (*predictions, error) {
	var specs []table.Spec
	need := func(col string, typ table.Type, tests ...table.Test) {
		if col != "" {
			specs = addSpec(specs, table.Spec{Name: col, Type: typ, Keep: table.Values, Tests: tests})
		}
	}
	switch task {
	case manifest.BinaryClassification:
		need(e.Label, table.Bool)
		need(e.Score, table.Float, table.Test{Number: func(v float64) bool { return 0 <= v && v <= 1 }})
		need(e.Prediction, table.Bool)
	case manifest.MulticlassClassification:
		need(e.Label, table.String)
		need(e.Prediction, table.String)
	default:
		need(e.Label, table.Float)
		need(e.Prediction, table.Float)
	}
	for _, a := range attrs {
		if slices.ContainsFunc(specs, func(s table.Spec) bool { return s.Name == a }) {
			return nil, fmt.Errorf("sensitive attribute %q is also the label, score or prediction column", a)
		}
		specs = append(specs, table.Spec{Name: a, Type: table.String, Keep: table.Values})
	}
	t, err := r.read(ctx, role, name, specs)
	if err != nil {
		return nil, err
	}
	if err := wellFormed(t); err != nil {
		return nil, err
	}
	p := &predictions{table: t, rows: t.Rows}
	for _, s := range specs {
		c := t.Column(s.Name)
		if c == nil {
			return nil, fmt.Errorf("%s: no column %q", name, s.Name)
		}
		if slices.Contains(attrs, s.Name) {
			continue // a row without a group is left out of the groups
		}
		if c.Nulls.Count > 0 {
			return nil, fmt.Errorf("%s: row %d: column %q is empty, and every row needs it", name, c.Nulls.Rows[0], s.Name)
		}
		if c.Invalid.Count > 0 {
			return nil, fmt.Errorf("%s: row %d: column %q: %s is not %s", name, c.Invalid.Rows[0], s.Name, table.Describe(c.Invalid.Example), expected(task, s))
		}
		if len(c.Failed) > 0 && c.Failed[0].Count > 0 {
			return nil, fmt.Errorf("%s: row %d: column %q: %s is not a probability between 0 and 1", name, c.Failed[0].Rows[0], s.Name, table.Describe(c.Failed[0].Example))
		}
	}
	switch task {
	case manifest.BinaryClassification:
		p.labels = t.Column(e.Label).Codes
		p.scores = t.Column(e.Score).Floats
		if e.Prediction != "" {
			p.preds = t.Column(e.Prediction).Codes
		} else {
			threshold := defaultThreshold
			if e.Threshold != nil {
				threshold = *e.Threshold
			}
			p.preds = make([]int32, len(p.scores))
			for i, s := range p.scores {
				if s >= threshold {
					p.preds[i] = 1
				}
			}
		}
	case manifest.MulticlassClassification:
		p.labels, p.preds, p.classes = classes(t.Column(e.Label), t.Column(e.Prediction))
	default:
		p.labelValues = t.Column(e.Label).Floats
		p.predValues = t.Column(e.Prediction).Floats
	}
	return p, nil
}

func expected(task string, s table.Spec) string {
	switch {
	case task == manifest.BinaryClassification && s.Type == table.Bool:
		return "a binary label (0, 1, true or false)"
	case s.Type.Numeric():
		return "a number"
	}
	return "a " + s.Type.String()
}

// classes maps the labels and predictions of a multiclass classifier to codes of
// one set of classes. Classes written as numbers are equal when their values
// are ("1" and "1.0").
func classes(labels, preds *table.Column) ([]int32, []int32, int) {
	index := make(map[string]int32)
	remap := func(c *table.Column) []int32 {
		m := make([]int32, len(c.Dict))
		for i, e := range c.Dict {
			key := e.Value
			if v, ok := table.ParseNumber([]byte(key)); ok {
				key = num(v)
			}
			code, ok := index[key]
			if !ok {
				code = int32(len(index))
				index[key] = code
			}
			m[i] = code
		}
		out := make([]int32, len(c.Codes))
		for i, code := range c.Codes {
			out[i] = m[code]
		}
		return out
	}
	l := remap(labels)
	p := remap(preds)
	return l, p, len(index)
}

// compareGroups compares the groups of a sensitive attribute.
func compareGroups(p *predictions, attr *table.Column, reference string) *Attribute {
	ref := -1
	if reference != "" {
		ref = slices.IndexFunc(attr.Dict, func(e table.Entry) bool { return e.Value == reference })
	}
	cmp := fairness.Compare(p.labels, p.preds, attr.Codes, len(attr.Dict), ref)
	out := &Attribute{
		ReferenceGroup:              reference,
		Groups:                      make(map[string]*Group, len(attr.Dict)),
		DemographicParityDifference: Number(cmp.DemographicParityDifference),
		DemographicParityRatio:      Number(cmp.DemographicParityRatio),
		EqualizedOddsDifference:     Number(cmp.EqualizedOddsDifference),
		EqualOpportunityDifference:  Number(cmp.EqualOpportunityDifference),
		DisparateImpactRatio:        Number(cmp.DisparateImpactRatio),
	}
	for i, g := range cmp.Groups {
		out.Groups[attr.Dict[i].Value] = &Group{
			Count:         g.Count,
			SelectionRate: Number(g.SelectionRate),
			TPR:           Number(g.TPR),
			FPR:           Number(g.FPR),
			Accuracy:      Number(g.Accuracy),
		}
	}
	if reference != "" && ref < 0 {
		// Without rows of the reference group there is nothing to compare with.
		out.DisparateImpactRatio = Number(math.NaN())
	}
	return out
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
