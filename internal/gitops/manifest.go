package gitops

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/modelgate/modelgate/internal/schema"
	"github.com/modelgate/modelgate/manifest"
)

// ParseManifest validates a manifest against the schema and decodes it.
// filename is the manifest's path in the repository: errors name it, and the
// manifest must sit in the folder its name and version say.
func ParseManifest(v *schema.Validator, filename string, data []byte) (*manifest.Manifest, error) {
	var m manifest.Manifest
	if err := v.Decode(schema.Model, filename, data, &m); err != nil {
		return nil, err
	}
	// Pins resolve to folders: a manifest in the models/ tree must sit in the one
	// its name and version name.
	if name, version, ok := versionDir(filename); ok && (name != m.Metadata.Name || version != m.Metadata.Version) {
		return nil, fmt.Errorf("%s: the manifest declares %s %s but is in models/%s/%s/", filename, m.Metadata.Name, m.Metadata.Version, name, version)
	}
	return &m, nil
}

// versionDir returns the name and version of a models/<name>/<version>/<file>
// path; unlike ModelVersionOf it takes a path on disk too, which may lead to
// the models/ folder from anywhere.
func versionDir(filename string) (name, version string, ok bool) {
	parts := strings.Split(filepath.ToSlash(filename), "/")
	n := len(parts)
	if n < 4 || parts[n-4] != ModelsDir {
		return "", "", false
	}
	return parts[n-3], parts[n-2], true
}
