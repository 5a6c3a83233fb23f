package githubtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// spec is GitHub's OpenAPI description, parsed once per process: the file is
// 13 MB and takes seconds to load.
type spec struct {
	doc     *openapi3.T
	options *openapi3filter.Options
}

var loadSpec = sync.OnceValues(func() (*spec, error) {
	path, err := openAPIFile()
	if err != nil {
		return nil, err
	}
	// The description has only local references (#/components/...), so the
	// loader needs no access to external files or URLs.
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("githubtest: load %s: %w", path, err)
	}
	options := &openapi3filter.Options{
		// Report every violation of a message at once, not only the first.
		MultiError: true,
		// A status that the operation does not declare is an error; by default
		// kin-openapi accepts it without looking at the body.
		IncludeResponseStatus: true,
		// Validation observes requests: by default kin-openapi writes the
		// schema's defaults into the request it validates.
		SkipSettingDefaults: true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidator("uri", openapi3.NewCallbackValidator(validateURI)),
		},
	}
	options.WithCustomSchemaErrorFunc(schemaError)
	return &spec{doc: doc, options: options}, nil
})

// validateURI checks the "uri" format, which kin-openapi leaves unchecked by
// default, so that an emulated object with a broken URL is caught. GitHub
// itself sends "" in some uri fields (a deployment status's target_url).
func validateURI(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", s)
	}
	return nil
}

// route returns the kin-openapi route of an operation of the description.
func (sp *spec) route(method, template string) (*routers.Route, error) {
	item := sp.doc.Paths.Value(template)
	if item == nil {
		return nil, fmt.Errorf("githubtest: GitHub's OpenAPI description has no path %s", template)
	}
	op := item.GetOperation(method)
	if op == nil {
		return nil, fmt.Errorf("githubtest: GitHub's OpenAPI description has no operation %s %s", method, template)
	}
	return &routers.Route{Spec: sp.doc, Path: template, PathItem: item, Method: method, Operation: op}, nil
}

// validateRequest checks the path parameters, query and body of a request
// against the operation; the emulator's router has already extracted the path
// parameters, so the description's servers (api.github.com) do not matter.
func (sp *spec) validateRequest(r *http.Request, template string, params map[string]string, body []byte) error {
	rt, err := sp.route(r.Method, template)
	if err != nil {
		return err
	}
	// go-github sends the JSON null as the body of a call without options
	// (CreateInstallationToken(ctx, id, nil)); GitHub takes it for no body,
	// which an operation with an optional body accepts.
	if rb := rt.Operation.RequestBody; rb != nil && !rb.Value.Required && bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		body = nil
	}
	clone := r.Clone(r.Context())
	clone.Body = io.NopCloser(bytes.NewReader(body))
	return openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
		Request: clone, PathParams: params, Route: rt, Options: sp.options,
	})
}

// commonErrors are the statuses that GitHub may answer any operation with —
// bad credentials, rate limits, missing or inaccessible resources, validation
// failures, server faults — although its description declares them for some
// operations only. Where an operation does not declare one, the body is checked
// against GitHub's generic error schema instead.
var commonErrors = map[int]string{
	http.StatusUnauthorized:        "basic-error",
	http.StatusForbidden:           "basic-error",
	http.StatusNotFound:            "basic-error",
	http.StatusUnprocessableEntity: "validation-error",
	http.StatusTooManyRequests:     "basic-error",
	http.StatusInternalServerError: "basic-error",
	http.StatusBadGateway:          "basic-error",
	http.StatusServiceUnavailable:  "basic-error",
	http.StatusGatewayTimeout:      "basic-error",
}

func (sp *spec) validateResponse(r *http.Request, template string, status int, header http.Header, body []byte) error {
	rt, err := sp.route(r.Method, template)
	if err != nil {
		return err
	}
	if rt.Operation.Responses.Status(status) == nil {
		if schema, ok := commonErrors[status]; ok {
			return sp.validateError(schema, body)
		}
	}
	return openapi3filter.ValidateResponse(r.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, Route: rt, Options: sp.options},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                sp.options,
	})
}

func (sp *spec) validateError(schema string, body []byte) error {
	ref := sp.doc.Components.Schemas[schema]
	if ref == nil {
		return fmt.Errorf("githubtest: GitHub's OpenAPI description has no schema %s", schema)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("error body is not JSON: %w", err)
	}
	return ref.Value.VisitJSON(v, openapi3.MultiErrors())
}

// webhookSchema returns the schema of an event and action's payload, the
// components/schemas/webhook-<event>-<action> (webhook-<event> for an event
// without actions) that the description's x-webhooks section refers to.
func (sp *spec) webhookSchema(event, action string) (*openapi3.Schema, error) {
	name := "webhook-" + event
	if action != "" {
		name += "-" + action
	}
	name = strings.ReplaceAll(name, "_", "-")
	ref := sp.doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return nil, fmt.Errorf("githubtest: GitHub's OpenAPI description has no webhook schema %s", name)
	}
	return ref.Value, nil
}

// payloadFields returns the top-level fields of an event and action's payload.
func (sp *spec) payloadFields(event, action string) (map[string]bool, error) {
	schema, err := sp.webhookSchema(event, action)
	if err != nil {
		return nil, err
	}
	fields := map[string]bool{}
	for name := range schema.Properties {
		fields[name] = true
	}
	return fields, nil
}

// validatePayload checks a webhook payload against its schema.
func (sp *spec) validatePayload(event, action string, payload []byte) error {
	schema, err := sp.webhookSchema(event, action)
	if err != nil {
		return err
	}
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		return fmt.Errorf("payload is not JSON: %w", err)
	}
	return schema.VisitJSON(v, openapi3.MultiErrors(), openapi3.SetSchemaErrorMessageCustomizer(schemaError))
}

// schemaError formats a schema violation as its location and reason, and
// the violation inside for allOf, anyOf and oneOf. kin-openapi's default
// message embeds the whole schema, thousands of lines for a pull request.
func schemaError(err *openapi3.SchemaError) string {
	msg := fmt.Sprintf("at /%s: %s", strings.Join(err.JSONPointer(), "/"), err.Reason)
	if err.Origin != nil {
		msg += " (" + err.Origin.Error() + ")"
	}
	return msg
}

// ValidateResponse checks a response of GitHub's REST API against GitHub's
// OpenAPI description, as the Server checks each of its own: method and route
// name the operation as in Call (for example "GET" and
// "/repos/{owner}/{repo}/pulls/{pull_number}"); the status must be one the
// operation declares, or a common error such as 401, 403, 404, 422 or 429 with
// GitHub's error body. It returns nil for a valid response.
func ValidateResponse(method, route string, status int, header http.Header, body []byte) error {
	sp, err := loadSpec()
	if err != nil {
		return err
	}
	r, err := http.NewRequestWithContext(context.Background(), method, "http://githubtest.invalid/", nil)
	if err != nil {
		return err
	}
	if err := sp.validateResponse(r, route, status, header, body); err != nil {
		return errors.Join(fmt.Errorf("%s %s %d violates GitHub's OpenAPI description", method, route, status), err)
	}
	return nil
}
