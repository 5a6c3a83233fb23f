package githubtest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/githubtest"
)

func TestValidateResponse(t *testing.T) {
	jsonHeader := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	const pull = "/repos/{owner}/{repo}/pulls/{pull_number}"
	for _, tc := range []struct {
		name, method, route string
		status              int
		body                string
		want                string // in the error; "" for a valid response
	}{
		{"pull request without its fields", "GET", pull, 200, `{"number": 1, "state": "open"}`, `property "head" is missing`},
		{"wrong type", "GET", pull, 200, `[]`, "value must be an object"},
		{"status the operation does not declare", "GET", pull, 418, `{"message": "teapot"}`, "status is not supported"},
		{"declared error", "GET", pull, 404, `{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}`, ""},
		{"common error GitHub sends everywhere", "POST", "/repos/{owner}/{repo}/check-runs", 401, `{"message": "Bad credentials"}`, ""},
		{"common error with a bad body", "POST", "/repos/{owner}/{repo}/check-runs", 403, `{"message": 403}`, "must be a string"},
		{"merge conflict", "PUT", pull + "/merge", 409, `{"message": "Head branch was modified. Review and try the merge again."}`, ""},
		{"unknown operation", "DELETE", pull, 204, ``, "no operation DELETE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := githubtest.ValidateResponse(tc.method, tc.route, tc.status, jsonHeader, []byte(tc.body))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("valid response rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want one with %q", err, tc.want)
			}
		})
	}
}
