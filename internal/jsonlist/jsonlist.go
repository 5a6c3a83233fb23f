// Package jsonlist makes an empty list encode as a JSON array. encoding/json
// writes a nil slice as null, which a policy reading
// count(input.pull_request.labels), a schema that wants an array, or a client
// of GitHub's API takes for no list at all.
package jsonlist

// NonNil returns s, or an empty slice where s is nil, so that it encodes as [].
func NonNil[S ~[]E, E any](s S) S {
	if s == nil {
		return S{}
	}
	return s
}
