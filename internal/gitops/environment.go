package gitops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/modelgate/modelgate/internal/schema"
)

// Environment is environments/<stage>.yaml: the version of each model that runs in
// the stage.
type Environment struct {
	Stage  string            `json:"stage"`
	Models map[string]string `json:"models"`
}

// EnvironmentPath is the file of a stage.
func EnvironmentPath(stage string) string {
	return path.Join(EnvironmentDir, stage+".yaml")
}

// StageOf returns the stage whose environment file path is, and whether it is one.
func StageOf(p string) (string, bool) {
	dir, file := path.Split(p)
	if dir != EnvironmentDir+"/" || !strings.HasSuffix(file, ".yaml") {
		return "", false
	}
	return strings.TrimSuffix(file, ".yaml"), true
}

// ParseEnvironment validates an environment file; the stage it declares must be
// the one its file name says.
func ParseEnvironment(v *schema.Validator, filename string, data []byte) (*Environment, error) {
	var env Environment
	if err := v.Decode(schema.Environment, filename, data, &env); err != nil {
		return nil, err
	}
	if stage, ok := StageOf(filename); ok && stage != env.Stage {
		return nil, fmt.Errorf("%s: declares stage %q but the file is named for stage %q", filename, env.Stage, stage)
	}
	if env.Models == nil {
		env.Models = map[string]string{}
	}
	return &env, nil
}

// LoadEnvironment reads a stage's environment file; a stage without one runs no
// model.
func LoadEnvironment(ctx context.Context, snap Snapshot, v *schema.Validator, stage string) (*Environment, error) {
	p := EnvironmentPath(stage)
	data, err := snap.ReadFile(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return &Environment{Stage: stage, Models: map[string]string{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return ParseEnvironment(v, p, data)
}
