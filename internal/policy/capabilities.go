package policy

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// capabilitiesJSON is what policies may use: OPA's builtins without those that
// reach the network, read the environment or the clock, or are random, so that
// a decision depends on its input alone and sends it nowhere. `make compat`
// checks the built-in policies with the same file.
//
//go:embed capabilities.json
var capabilitiesJSON []byte

var capabilities = sync.OnceValues(func() (*ast.Capabilities, error) {
	c, err := ast.LoadCapabilitiesJSON(bytes.NewReader(capabilitiesJSON))
	if err != nil {
		return nil, fmt.Errorf("capabilities.json: %w", err)
	}
	return c, nil
})
