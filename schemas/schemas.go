// Package schemas holds modelgate's CUE definitions: the model manifest, the
// environment file, the repository config, the evidence document and the
// compliance report's JSON. They are the single source of truth for what
// those documents may contain.
package schemas

import "embed"

// FS holds every *.cue file of the package, compiled together as one CUE package.
//
//go:embed *.cue
var FS embed.FS
