// Package checks runs the data validation, drift, evaluation and fairness checks
// that a model manifest declares and gathers their results into the evidence
// document that policies judge. It reads files through an fs.FS, so it works
// the same on a checkout and on a repository read through an API.
package checks

import (
	"context"
	"fmt"
	"io/fs"
	"math"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/modelgate/modelgate/checks/contract"
	"github.com/modelgate/modelgate/checks/drift"
	"github.com/modelgate/modelgate/checks/internal/floats"
	"github.com/modelgate/modelgate/checks/table"
	"github.com/modelgate/modelgate/manifest"
)

// Run runs every check that m declares. fsys holds the files the manifest names,
// rooted at the manifest's folder; thresholds judge drift; limits bound each
// file. Run depends on nothing but these: it reads no config and no
// repository, and it takes a manifest as given, so that a manifest built in Go
// runs as one decoded from model.yaml does. Data that breaks the contract is
// evidence, not an error; Run fails when a declared check cannot run at all: a
// file is missing or unreadable, a column it needs is absent, or a value it
// needs is not there or not what it must be.
func Run(ctx context.Context, m *manifest.Manifest, fsys fs.FS, thresholds drift.Thresholds, limits table.Limits) (*Evidence, error) {
	if err := thresholds.Validate(); err != nil {
		return nil, err
	}
	if m.Spec.Evaluation != nil && !slices.Contains(manifest.Tasks, m.Spec.Task) {
		// The metrics are chosen by the task: an unknown one would be judged
		// as some other task's.
		return nil, fmt.Errorf("spec.task: %q is not one of %s", m.Spec.Task, strings.Join(manifest.Tasks, ", "))
	}
	ev := &Evidence{
		Schema: Schema,
		Model:  Model{Name: m.Metadata.Name, Version: m.Metadata.Version},
		Inputs: []Input{},
	}
	r := &runner{fsys: fsys, thresholds: thresholds, limits: limits, ev: ev}
	if d := m.Spec.Data; d != nil {
		if err := r.data(ctx, d); err != nil {
			return nil, err
		}
	}
	if e := m.Spec.Evaluation; e != nil {
		// The metrics of the predictions are computed while the baseline is
		// read: one read at a time, each on every core, bounds the memory that
		// reads in progress take.
		var checks pending
		err := r.evaluation(ctx, &checks, m.Spec.Task, e, m.Spec.Fairness)
		if first := checks.wait(); err == nil {
			err = first
		}
		if err != nil {
			return nil, err
		}
	} else if m.Spec.Fairness != nil {
		return nil, fmt.Errorf("fairness needs the evaluation predictions, and the manifest declares none")
	}
	return ev, nil
}

// pending runs checks in the background while more files are read.
type pending struct {
	wg   sync.WaitGroup
	errs []*error
}

// start runs check in the background.
func (p *pending) start(check func() error) {
	err := new(error)
	p.errs = append(p.errs, err)
	p.wg.Go(func() { *err = check() })
}

// wait waits for every check started and returns the error of the first one
// started that failed.
func (p *pending) wait() error {
	p.wg.Wait()
	for _, err := range p.errs {
		if *err != nil {
			return *err
		}
	}
	return nil
}

type runner struct {
	fsys       fs.FS
	thresholds drift.Thresholds
	limits     table.Limits
	ev         *Evidence
}

// read reads a file the manifest names and records it as an input.
func (r *runner) read(ctx context.Context, role, name string, specs []table.Spec) (*table.Table, error) {
	// Data named by URI is opened by its URI: the file system decides
	// whether it holds a copy (modelgate check --input).
	clean := name
	if !manifest.IsURI(name) {
		clean = path.Clean(name)
		if !fs.ValidPath(clean) {
			return nil, fmt.Errorf("%s file %q: must be a path inside the manifest's folder", role, name)
		}
	}
	t, err := table.Read(ctx, r.fsys, clean, specs, r.limits)
	if err != nil {
		return nil, err
	}
	t.Path = name
	r.ev.Inputs = append(r.ev.Inputs, Input{Role: role, Path: name, SHA256: t.SHA256, Rows: t.Rows})
	return t, nil
}

// parallel runs the functions, as many at a time as there are cores, and returns
// the first error.
func parallel(fns ...func() error) error {
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = fn()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// driftColumn is a column whose drift is measured.
type driftColumn struct {
	name     string
	typ      table.Type
	inferred bool // no contract types it: a number unless a value is not
}

func (c driftColumn) spec() table.Spec {
	keep := table.Values
	if !c.typ.Numeric() {
		keep = table.Distinct
	}
	return table.Spec{Name: c.name, Type: c.typ, Keep: keep}
}

// data runs the contract on the current data and the drift between reference and
// current.
func (r *runner) data(ctx context.Context, d *manifest.Data) error {
	con, err := contract.Compile(d.Contract)
	if err != nil {
		return err
	}
	var columns []driftColumn
	if d.Drift != nil {
		for _, name := range d.Drift.Columns {
			col := driftColumn{name: name, typ: table.Float, inferred: true}
			if d.Contract != nil {
				if i := slices.IndexFunc(d.Contract.Columns, func(c manifest.ColumnRule) bool { return c.Name == name }); i >= 0 {
					col.typ, _ = table.ParseType(d.Contract.Columns[i].Type) // Compile has checked it
					col.inferred = false
				}
			}
			columns = append(columns, col)
		}
	}

	specs := con.Specs()
	for _, c := range columns {
		specs = addSpec(specs, c.spec())
	}
	cur, err := r.read(ctx, RoleCurrent, d.Current, specs)
	if err != nil {
		return err
	}
	var ref *table.Table
	if len(columns) > 0 {
		refSpecs := make([]table.Spec, len(columns))
		for i, c := range columns {
			refSpecs[i] = c.spec()
		}
		if ref, err = r.read(ctx, RoleReference, d.Reference, refSpecs); err != nil {
			return err
		}
		if err := wellFormed(ref); err != nil {
			return err
		}
		if columns, err = r.settleTypes(ctx, d, columns, ref, cur); err != nil {
			return err
		}
	}

	var violations []contract.Violation
	results := make([]*DriftColumn, len(columns))
	tasks := []func() error{func() error {
		reread := func(ctx context.Context, specs []table.Spec) (*table.Table, error) {
			return table.Read(ctx, r.fsys, path.Clean(d.Current), specs, r.limits)
		}
		var err error
		violations, err = con.Check(ctx, cur, reread)
		return err
	}}
	for i, c := range columns {
		tasks = append(tasks, func() error {
			var err error
			results[i], err = r.driftOf(c, ref, cur)
			return err
		})
	}
	if err := parallel(tasks...); err != nil {
		return err
	}

	r.ev.Data = &Data{Rows: cur.Rows, Contract: Contract{Passed: len(violations) == 0, Violations: []Violation{}}}
	for _, v := range violations {
		r.ev.Data.Contract.Violations = append(r.ev.Data.Contract.Violations,
			Violation{Column: v.Column, Rule: v.Rule, Count: v.Count, Message: v.Message, Rows: v.Rows})
	}
	if len(columns) > 0 {
		dr := &Drift{Columns: make(map[string]*DriftColumn, len(columns))}
		drifted := 0
		for i, c := range columns {
			dr.Columns[c.name] = results[i]
			if results[i].Drifted {
				drifted++
			}
		}
		dr.ShareDrifted = Number(drift.ShareDrifted(drifted, len(columns)))
		r.ev.Drift = dr
	}
	return nil
}

// addSpec adds a spec, or what it keeps to the spec of the same column.
func addSpec(specs []table.Spec, s table.Spec) []table.Spec {
	i := slices.IndexFunc(specs, func(o table.Spec) bool { return o.Name == s.Name })
	if i < 0 {
		return append(specs, s)
	}
	specs[i].Keep |= s.Keep
	return specs
}

// settleTypes reads again as strings the columns that were taken for numbers but
// hold a value that is not one, in either file.
func (r *runner) settleTypes(ctx context.Context, d *manifest.Data, columns []driftColumn, ref, cur *table.Table) ([]driftColumn, error) {
	var text []table.Spec
	for i, c := range columns {
		rc, cc := ref.Column(c.name), cur.Column(c.name)
		if c.inferred && (rc != nil && rc.Invalid.Count > 0 || cc != nil && cc.Invalid.Count > 0) {
			columns[i].typ = table.String
			text = append(text, columns[i].spec())
		}
	}
	if len(text) == 0 {
		return columns, nil
	}
	for _, f := range []struct {
		name string
		t    *table.Table
	}{{d.Reference, ref}, {d.Current, cur}} {
		again, err := table.Read(ctx, r.fsys, path.Clean(f.name), text, r.limits)
		if err != nil {
			return nil, err
		}
		for _, s := range text {
			f.t.Replace(again.Column(s.Name))
		}
	}
	return columns, nil
}

// wellFormed refuses a file outside the contract that has ragged rows: its
// values cannot be told apart.
func wellFormed(t *table.Table) error {
	if t.Ragged.Count > 0 {
		return fmt.Errorf("%s: row %d: %s fields, the header has %d", t.Path, t.Ragged.Rows[0], t.Ragged.Example, len(t.Header))
	}
	return nil
}

// driftOf measures one column's drift. Nulls are left out of both samples; so are
// the current data's values that break the contract's type, which the contract
// reports.
func (r *runner) driftOf(c driftColumn, ref, cur *table.Table) (*DriftColumn, error) {
	rc, cc := ref.Column(c.name), cur.Column(c.name)
	if rc == nil {
		return nil, fmt.Errorf("%s: no column %q, which drift is declared for", ref.Path, c.name)
	}
	if cc == nil {
		return nil, fmt.Errorf("%s: no column %q, which drift is declared for", cur.Path, c.name)
	}
	if rc.Invalid.Count > 0 {
		return nil, fmt.Errorf("%s: row %d: column %q: %s is not a %s", ref.Path, rc.Invalid.Rows[0], c.name, table.Describe(rc.Invalid.Example), c.typ)
	}
	if c.typ.Numeric() {
		a, b := present(rc.Floats), present(cc.Floats)
		floats.Sort(a)
		floats.Sort(b)
		n := drift.CompareNumeric(a, b)
		method, drifted := r.thresholds.JudgeNumeric(n, ref.Rows)
		return &DriftColumn{
			Kind:              KindNumeric,
			Method:            method,
			KSStatistic:       numberPtr(n.KSStatistic),
			KSPValue:          numberPtr(n.KSPValue),
			PSI:               Number(n.PSI),
			Wasserstein:       numberPtr(n.Wasserstein),
			WassersteinNormed: numberPtr(n.WassersteinNormed),
			Drifted:           drifted,
		}, nil
	}
	refCounts, curCounts := categoryCounts(rc.Dict, cc.Dict)
	cat := drift.CompareCategorical(refCounts, curCounts)
	method, drifted := r.thresholds.JudgeCategorical(cat)
	return &DriftColumn{
		Kind:          KindCategorical,
		Method:        method,
		PSI:           Number(cat.PSI),
		JensenShannon: numberPtr(cat.JensenShannon),
		Drifted:       drifted,
	}, nil
}

// present returns the values that are not NaN, in place.
func present(v []float64) []float64 {
	out := v[:0]
	for _, x := range v {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}

// categoryCounts aligns the counts of two dictionaries over the categories of
// either, in sorted order.
func categoryCounts(ref, cur []table.Entry) ([]int, []int) {
	index := make(map[string]int)
	var names []string
	for _, d := range [][]table.Entry{ref, cur} {
		for _, e := range d {
			if _, ok := index[e.Value]; !ok && e.Count > 0 {
				index[e.Value] = 0
				names = append(names, e.Value)
			}
		}
	}
	slices.Sort(names)
	for i, n := range names {
		index[n] = i
	}
	r, c := make([]int, len(names)), make([]int, len(names))
	for _, e := range ref {
		if e.Count > 0 {
			r[index[e.Value]] += e.Count
		}
	}
	for _, e := range cur {
		if e.Count > 0 {
			c[index[e.Value]] += e.Count
		}
	}
	return r, c
}
