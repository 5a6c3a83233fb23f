package gitops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/modelgate/modelgate/internal/schema"
)

// SetPin returns the text of the stage's environment file with model pinned
// to version, for a pull request the App opens. data is the file as it is
// (nil when the stage has none yet). Everything else a person wrote — the
// other pins, their order, comments, quoting — is kept: the pull request's
// diff must show the one pin it changes, and nothing a reviewer has to read
// twice. The result is checked against the environment schema and must pin
// exactly what data pinned but model's version, or SetPin fails.
func SetPin(v *schema.Validator, stage string, data []byte, model, version string) ([]byte, error) {
	path := EnvironmentPath(stage)
	before := &Environment{Stage: stage, Models: map[string]string{}}
	var out []byte
	if len(bytes.TrimSpace(data)) == 0 {
		out = fmt.Appendf(nil, "stage: %s\nmodels:\n  %s: %s\n", stage, model, yamlScalar(version))
	} else {
		var err error
		if before, err = ParseEnvironment(v, path, data); err != nil {
			return nil, fmt.Errorf("pin %s %s in %s: %w", model, version, path, err)
		}
		if out, err = setPin(data, model, version); err != nil {
			return nil, fmt.Errorf("pin %s %s in %s: %w", model, version, path, err)
		}
	}
	after, err := ParseEnvironment(v, path, out)
	if err != nil {
		return nil, fmt.Errorf("pin %s %s in %s: the edited file is invalid: %w", model, version, path, err)
	}
	want := maps.Clone(before.Models)
	want[model] = version
	if after.Stage != stage || !maps.Equal(after.Models, want) {
		return nil, fmt.Errorf("pin %s %s in %s: the edited file pins %v in stage %q, not %v in %q", model, version, path, after.Models, after.Stage, want, stage)
	}
	return out, nil
}

// setPin edits the YAML text of a valid environment file.
func setPin(data []byte, model, version string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a single YAML mapping")
	}
	root := doc.Content[0]
	models := mappingValue(root, "models")
	if models == nil {
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "models"},
			&yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"})
		models = root.Content[len(root.Content)-1]
	}
	if models.Kind != yaml.MappingNode {
		return nil, errors.New("models is not a mapping")
	}
	if pin := mappingValue(models, model); pin != nil {
		// The common case, a version replaced: the one scalar's bytes are
		// replaced, so that the file is otherwise byte for byte the same.
		if out, ok := spliceScalar(data, pin, version); ok {
			return out, nil
		}
		pin.Kind, pin.Style, pin.Tag, pin.Value, pin.Alias = yaml.ScalarNode, 0, "!!str", version, nil
		return encode(&doc, data)
	}
	models.Content = append(models.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: model},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: version})
	return encode(&doc, data)
}

// mappingValue returns the value of key in a mapping node, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// spliceScalar replaces a one-line scalar where it stands in data, when its
// text there is exactly what its style makes of its value; ok is false when
// it is not (an escape, an alias, a multi-line form), and the file is then
// encoded anew.
func spliceScalar(data []byte, n *yaml.Node, version string) ([]byte, bool) {
	if n.Kind != yaml.ScalarNode || n.Line < 1 || n.Column < 1 || n.Anchor != "" {
		return nil, false
	}
	var old, repl string
	switch n.Style {
	case 0:
		old, repl = n.Value, yamlScalar(version)
	case yaml.DoubleQuotedStyle:
		old, repl = `"`+n.Value+`"`, `"`+version+`"`
	case yaml.SingleQuotedStyle:
		old, repl = `'`+n.Value+`'`, `'`+version+`'`
	default:
		return nil, false
	}
	start := 0
	for range n.Line - 1 {
		i := bytes.IndexByte(data[start:], '\n')
		if i < 0 {
			return nil, false
		}
		start += i + 1
	}
	// The column counts characters, not bytes.
	for range n.Column - 1 {
		if start >= len(data) || data[start] == '\n' {
			return nil, false
		}
		_, size := utf8.DecodeRune(data[start:])
		start += size
	}
	if !bytes.HasPrefix(data[start:], []byte(old)) || strings.ContainsAny(version, `"'\`) {
		return nil, false
	}
	out := make([]byte, 0, len(data)-len(old)+len(repl))
	out = append(out, data[:start]...)
	out = append(out, repl...)
	return append(out, data[start+len(old):]...), true
}

// yamlScalar writes a version as a YAML string: plain when YAML reads it back
// as that string, quoted otherwise (1.10 would be a number).
func yamlScalar(s string) string {
	var back any
	if err := yaml.Unmarshal([]byte(s), &back); err == nil {
		if str, ok := back.(string); ok && str == s {
			return s
		}
	}
	q, _ := json.Marshal(s)
	return string(q)
}

// encode writes the edited document with the indentation data used.
func encode(doc *yaml.Node, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(indentOf(data))
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// indentOf is the indentation of the first indented line, 2 if none.
func indentOf(data []byte) int {
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		trimmed := bytes.TrimLeft(line, " ")
		if n := len(line) - len(trimmed); n > 0 && len(trimmed) > 0 && trimmed[0] != '#' {
			return n
		}
	}
	return 2
}
