// Package policy decides promotions with Rego policies: the built-in ones and the
// repository's own, compiled once with the OPA library and evaluated on one input
// document per promotion. Whatever goes wrong denies.
package policy

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Module is one Rego file.
type Module struct {
	Path   string
	Source []byte
	// Builtin marks modelgate's own policies: only they may define rules in
	// the built-in packages.
	Builtin bool
}

// Message is one deny or warn.
type Message struct {
	Code    string         `json:"code,omitempty"`
	Msg     string         `json:"msg"`
	Package string         `json:"package"`
	Fields  map[string]any `json:"fields,omitempty"`
	// Position is where in the repository the problem is, when the gate
	// knows it (a document it could not read, a policy that does not
	// compile); Msg then says what without where. Reports place the
	// message by it rather than by reading Msg.
	Position *Position `json:"position,omitempty"`
	// Waiver is the waiver that turned a deny into this warning.
	Waiver *Waiver `json:"waiver,omitempty"`
}

// Text is the message as a person reads it where nothing else shows its
// position: prefixed with it, as compilers write theirs.
func (m Message) Text() string { return m.Position.Label(m.Msg) }

// Position is a place in a file of the repository. Column is 0 when only
// the line is known.
type Position struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column,omitempty"`
}

// String is the place as compilers write it: file:line:column, or
// file:line without a column.
func (p Position) String() string {
	if p.Column < 1 {
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Label prefixes text with the position, as compilers write their
// messages; without a position the text stays as it is.
func (p *Position) Label(text string) string {
	if p == nil {
		return text
	}
	return p.String() + ": " + text
}

// WithWaiver is the message as it reads where its position is shown apart,
// as an annotation's is: with the waiver that turned it into a warning. A
// report that lists the waivers beside the messages shows Text instead.
func (m Message) WithWaiver() string {
	if m.Waiver == nil {
		return m.Msg
	}
	return m.Msg + " (" + m.Waiver.String() + ")"
}

// Decision is the verdict on one input document.
type Decision struct {
	Allow        bool      `json:"allow"`
	Deny         []Message `json:"deny"`
	Warn         []Message `json:"warn"`
	BundleDigest string    `json:"bundle_digest"`
	InputDigest  string    `json:"input_digest"`
}

// Codes of the denials the engine itself makes.
const (
	CodeCompile    = "policy.compile"
	CodeEvaluation = "policy.evaluation"
)

// Timeout bounds one evaluation: a policy that loops must deny, not hang a gate.
const Timeout = 10 * time.Second

// Engine evaluates a compiled bundle of policies.
type Engine struct {
	query  rego.PreparedEvalQuery
	rules  []ruleRef
	config any
	// input.config as JSON and as OPA's value: the same in every input, so
	// worked out once.
	known  member
	digest string
	broken error // the bundle does not compile: every decision denies
}

// ruleRef is a deny or warn rule of one package, bound to a query variable.
type ruleRef struct {
	pkg, kind, variable string
}

// Compile compiles the modules, with the repository config they judge by. It
// never fails: an engine whose bundle does not compile denies every decision and
// says why. Test files (_test.rego) are not part of a bundle.
func Compile(ctx context.Context, modules []Module, config any) *Engine {
	e := &Engine{config: config}
	cfg, err := json.Marshal(config)
	if err != nil {
		e.broken = fmt.Errorf("encode config: %w", err)
		return e
	}
	e.digest = bundleDigest(modules, cfg)
	// Should the config not parse, no input will either: Evaluate says so.
	if v, err := parseValue(cfg, member{}); err == nil {
		e.known = member{key: "config", json: cfg, value: ast.NewTerm(v)}
	}
	var opts []func(*rego.Rego)
	var builtin, own []*ast.Module
	paths := map[string]bool{}
	for _, m := range modules {
		if strings.HasSuffix(m.Path, "_test.rego") {
			continue
		}
		// OPA keeps one module per file name: a second would take the
		// place of the first, a built-in one included.
		if paths[m.Path] {
			e.broken = fmt.Errorf("%s: two policy files have this path", m.Path)
			return e
		}
		paths[m.Path] = true
		parsed, err := ast.ParseModuleWithOpts(m.Path, string(m.Source), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			e.broken = compileError(err)
			return e
		}
		if parsed == nil {
			continue // an empty file
		}
		if m.Builtin {
			builtin = append(builtin, parsed)
		} else {
			own = append(own, parsed)
		}
		e.rules = append(e.rules, decisionRules(parsed)...)
		opts = append(opts, rego.ParsedModule(parsed))
	}
	if err := ownPackages(own, builtin); err != nil {
		e.broken = compileError(err)
		return e
	}
	e.rules = slices.CompactFunc(sortRules(e.rules), func(a, b ruleRef) bool { return a.pkg == b.pkg && a.kind == b.kind })
	if len(e.rules) == 0 {
		e.broken = errors.New("no policy defines deny or warn under package modelgate")
		return e
	}
	var query []string
	for i := range e.rules {
		e.rules[i].variable = fmt.Sprintf("r%d", i)
		query = append(query, fmt.Sprintf("%s := data.%s.%s", e.rules[i].variable, e.rules[i].pkg, e.rules[i].kind))
	}
	caps, err := capabilities()
	if err != nil {
		e.broken = err
		return e
	}
	opts = append(opts,
		rego.Query(strings.Join(query, "; ")),
		rego.SetRegoVersion(ast.RegoV1),
		rego.Capabilities(caps),
		rego.StrictBuiltinErrors(true), // a builtin that fails must fail the decision, not skip a rule
	)
	prepared, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		e.broken = compileError(err)
		return e
	}
	e.query = prepared
	return e
}

// compileError keeps where each of OPA's errors is, without the source
// excerpts OPA adds; any other error stays as it is.
func compileError(err error) error {
	var list ast.Errors
	if !errors.As(err, &list) {
		return err
	}
	out := make(compileErrors, len(list))
	for i, e := range list {
		out[i] = compileProblem{Message: e.Message}
		if l := e.Location; l != nil {
			out[i].Position = &Position{File: l.File, Line: l.Row, Column: l.Col}
		}
	}
	return out
}

// compileProblem is one reason the policies do not compile, at its place in
// a policy file when OPA says it.
type compileProblem struct {
	Position *Position
	Message  string
}

func (e compileProblem) Error() string { return e.Position.Label(e.Message) }

// compileErrors are the reasons the policies do not compile, one a line.
type compileErrors []compileProblem

func (l compileErrors) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// root is the package that holds every decision package.
var root = ast.MustParseRef("data.modelgate")

// ownPackages says which repository modules are not in packages of their own
// under modelgate. A rule added to a built-in package takes part in the
// built-in rules (a helper redefined so that any team matches, every promotion
// declared a rollback), and a package above one reaches into it with a rule's
// ref head, so only the built-in modules may define them.
func ownPackages(own, builtin []*ast.Module) error {
	var errs ast.Errors
	for _, m := range own {
		if problem := packageProblem(m.Package.Path, builtin); problem != "" {
			errs = append(errs, ast.NewError(ast.CompileErr, m.Package.Location,
				"package %s %s: repository policies add rules only to packages of their own under modelgate, such as modelgate.acme",
				packageName(m.Package.Path), problem))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// packageProblem says why a repository module may not declare the package at
// path, or "" when it may.
func packageProblem(path ast.Ref, builtin []*ast.Module) string {
	if !path.HasPrefix(root) {
		return "is not under modelgate"
	}
	for _, b := range builtin {
		switch bp := b.Package.Path; {
		case path.Equal(bp):
			return "is a built-in package"
		case path.HasPrefix(bp):
			return "is inside the built-in package " + packageName(bp)
		case bp.HasPrefix(path):
			return "holds the built-in package " + packageName(bp)
		}
	}
	return ""
}

// packageName is a package's path as a package clause writes it: modelgate.lib.
func packageName(path ast.Ref) string {
	return strings.TrimPrefix(path.String(), "data.")
}

// decisionRules lists the deny and warn rules of a module under package
// modelgate, each in the package its ref head puts it in: team.deny in package
// modelgate.acme is the deny of modelgate.acme.team, and must be evaluated as
// such rather than left out.
func decisionRules(m *ast.Module) []ruleRef {
	var refs []ruleRef
	for _, r := range m.Rules {
		ref := r.Ref()
		kind, ok := ref[len(ref)-1].Value.(ast.String)
		pkg := ref[:len(ref)-1]
		if ok && (kind == "deny" || kind == "warn") && pkg.HasPrefix(root) && !pkg.Equal(root) {
			refs = append(refs, ruleRef{pkg: packageName(pkg), kind: string(kind)})
		}
	}
	return refs
}

func sortRules(rs []ruleRef) []ruleRef {
	slices.SortFunc(rs, func(a, b ruleRef) int { return cmp.Or(strings.Compare(a.pkg, b.pkg), strings.Compare(a.kind, b.kind)) })
	return rs
}

// Digest identifies the bundle: every module and the config.
func (e *Engine) Digest() string { return e.digest }

// Err says why the bundle does not compile, or nil.
func (e *Engine) Err() error { return e.broken }

// Evaluate decides on one input. The config the engine was compiled with is
// set as input.config, so that no caller can judge by any other.
func (e *Engine) Evaluate(ctx context.Context, input Input) Decision {
	input.Config = e.config
	if e.known.value != nil {
		// What the config marshals to, without going over it again.
		input.Config = json.RawMessage(e.known.json)
	}
	d := Decision{BundleDigest: e.digest}
	doc, err := json.Marshal(input)
	if err != nil {
		return d.fail(CodeEvaluation, fmt.Errorf("encode input: %w", err))
	}
	d.InputDigest = digest(doc)
	var broken compileErrors
	if errors.As(e.broken, &broken) && len(broken) > 0 {
		// One message a problem, each at its place in a policy file, as a
		// compiler says it: the code says that the policies do not compile.
		for _, b := range broken {
			d.Deny = append(d.Deny, Message{Code: CodeCompile, Msg: b.Message, Package: "modelgate", Position: b.Position})
		}
		return d
	}
	if e.broken != nil {
		return d.fail(CodeCompile, fmt.Errorf("the policies do not compile: %w", e.broken))
	}
	value, err := parseValue(doc, e.known)
	if err != nil {
		return d.fail(CodeEvaluation, fmt.Errorf("decode input: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	// OPA would start a goroutine per evaluation to watch ctx; a callback
	// registered on ctx does the same without one.
	stop := topdown.NewCancel()
	unregister := context.AfterFunc(ctx, stop.Cancel)
	defer unregister()
	rs, err := e.query.Eval(ctx, rego.EvalParsedInput(value), rego.EvalExternalCancel(stop))
	if err != nil {
		return d.fail(CodeEvaluation, fmt.Errorf("policy evaluation failed: %w", err))
	}
	if len(rs) != 1 {
		return d.fail(CodeEvaluation, fmt.Errorf("policy evaluation returned %d results, want 1", len(rs)))
	}
	for _, r := range e.rules {
		set, ok := rs[0].Bindings[r.variable].([]any)
		if !ok {
			return d.fail(CodeEvaluation, fmt.Errorf("data.%s.%s is not a set", r.pkg, r.kind))
		}
		for _, v := range set {
			m := message(r.pkg, v)
			if r.kind == "deny" {
				d.Deny = append(d.Deny, m)
			} else {
				d.Warn = append(d.Warn, m)
			}
		}
	}
	d.Allow = len(d.Deny) == 0
	return d
}

func (d Decision) fail(code string, err error) Decision {
	d.Allow = false
	d.Deny = append(d.Deny, Message{Code: code, Msg: err.Error(), Package: "modelgate"})
	return d
}

// message reads a deny or warn value: a string, or an object with msg and code.
// Any other value still counts, as its JSON text.
func message(pkg string, v any) Message {
	switch x := v.(type) {
	case string:
		return Message{Msg: x, Package: pkg}
	case map[string]any:
		m := Message{Package: pkg, Fields: map[string]any{}}
		for k, val := range x {
			switch s, isString := val.(string); {
			case k == "msg" && isString:
				m.Msg = s
			case k == "code" && isString:
				m.Code = s
			default:
				m.Fields[k] = val
			}
		}
		if m.Msg == "" {
			text, _ := json.Marshal(x)
			m.Msg = string(text)
		}
		if len(m.Fields) == 0 {
			m.Fields = nil
		}
		return m
	}
	text, _ := json.Marshal(v)
	return Message{Msg: string(text), Package: pkg}
}

// bundleDigest is the SHA-256 of the modules, in path order, and the config.
func bundleDigest(modules []Module, config []byte) string {
	sorted := slices.SortedFunc(slices.Values(modules), func(a, b Module) int { return strings.Compare(a.Path, b.Path) })
	h := sha256.New()
	for _, m := range sorted {
		fmt.Fprintf(h, "%d:%s\n%d:", len(m.Path), m.Path, len(m.Source))
		h.Write(m.Source)
	}
	h.Write(config)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Package returns the package a module declares, as modelgate.fairness.
func Package(m Module) (string, error) {
	parsed, err := ast.ParseModuleWithOpts(m.Path, string(m.Source), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return "", compileError(err)
	}
	if parsed == nil {
		return "", fmt.Errorf("%s: empty policy file", m.Path)
	}
	return packageName(parsed.Package.Path), nil
}
