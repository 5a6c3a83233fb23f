package lineage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxResponse bounds an MLflow answer: runs/get carries each metric's latest
// value only, with the run's params and tags.
const maxResponse = 32 << 20

// Server is an MLflow tracking server, read through its REST API. It may be
// used concurrently.
type Server struct {
	base   *url.URL
	token  string
	client *http.Client
}

// NewServer returns the tracking server at uri (http or https). A token is
// sent as a bearer token (MLflow's MLFLOW_TRACKING_TOKEN), and never in clear
// text to a host other than a loopback one.
func NewServer(uri, token string, client *http.Client) (*Server, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("MLflow tracking URI %q: want an http(s) URL or a file store folder", uri)
	}
	if u.User != nil {
		return nil, fmt.Errorf("MLflow tracking URI %s: credentials in the URL would end up in logs; give the token in MLFLOW_TRACKING_TOKEN", u.Redacted())
	}
	if token != "" && u.Scheme == "http" && !loopback(u.Hostname()) {
		return nil, fmt.Errorf("MLflow tracking URI %s: the token would cross the network in clear text; use https", u)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return &Server{base: u, token: token, client: client}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) URI() string { return s.base.String() }

// restRun is the answer of GET /api/2.0/mlflow/runs/get.
type restRun struct {
	Run *struct {
		Info struct {
			RunID       string `json:"run_id"`
			RunUUID     string `json:"run_uuid"`
			Status      string `json:"status"`
			ArtifactURI string `json:"artifact_uri"`
		} `json:"info"`
		Data struct {
			Metrics []struct {
				Key   string    `json:"key"`
				Value jsonFloat `json:"value"`
				Step  jsonInt   `json:"step"`
			} `json:"metrics"`
			Params []keyValue `json:"params"`
			Tags   []keyValue `json:"tags"`
		} `json:"data"`
	} `json:"run"`
}

type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// jsonFloat is a metric's value: a JSON number, or a string for NaN and the
// infinities.
type jsonFloat float64

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	s := string(b)
	if unq, err := strconv.Unquote(s); err == nil {
		s = unq
	}
	v, err := parseMetricValue(s)
	if err != nil {
		return fmt.Errorf("metric value %s is not a number", b)
	}
	*f = jsonFloat(v)
	return nil
}

// jsonInt is an int64 of MLflow's protobuf messages, which JSON may carry as
// a number or as a string.
type jsonInt int64

func (n *jsonInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if unq, err := strconv.Unquote(s); err == nil {
		s = unq
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not an integer", b)
	}
	*n = jsonInt(v)
	return nil
}

// Run reads GET /api/2.0/mlflow/runs/get?run_id=ID. Its metrics are each
// key's latest value, as MLflow reports them.
func (s *Server) Run(ctx context.Context, id string) (*Run, error) {
	var ans restRun
	u, err := s.get(ctx, "/api/2.0/mlflow/runs/get", url.Values{"run_id": {id}}, &ans)
	if err != nil {
		return nil, fmt.Errorf("MLflow run %s: %w", id, err)
	}
	if ans.Run == nil {
		return nil, fmt.Errorf("MLflow run %s: GET %s: the answer holds no run", id, u)
	}
	info := ans.Run.Info
	got := info.RunID
	if got == "" {
		got = info.RunUUID
	}
	if got != id {
		return nil, fmt.Errorf("MLflow run %s: GET %s: the answer is about run %q", id, u, got)
	}
	run := &Run{ID: id, Status: info.Status, ArtifactURI: info.ArtifactURI, Metrics: make(map[string]float64), Params: make(map[string]string)}
	for _, m := range ans.Run.Data.Metrics {
		run.Metrics[m.Key] = float64(m.Value)
	}
	for _, p := range ans.Run.Data.Params {
		run.Params[p.Key] = p.Value
	}
	for _, t := range ans.Run.Data.Tags {
		if t.Key == logModelHistory {
			if run.Models, err = parseLogModelHistory(fmt.Sprintf("MLflow run %s", id), t.Value); err != nil {
				return nil, err
			}
		}
	}
	return run, nil
}

// ModelVersion reads GET /api/2.0/mlflow/model-versions/get?name=&version=.
func (s *Server) ModelVersion(ctx context.Context, name, version string) (*ModelVersion, error) {
	var ans struct {
		ModelVersion *struct {
			Name    string  `json:"name"`
			Version jsonStr `json:"version"`
			RunID   string  `json:"run_id"`
			Source  string  `json:"source"`
			Status  string  `json:"status"`
		} `json:"model_version"`
	}
	u, err := s.get(ctx, "/api/2.0/mlflow/model-versions/get", url.Values{"name": {name}, "version": {version}}, &ans)
	if err != nil {
		return nil, fmt.Errorf("MLflow model %s version %s: %w", name, version, err)
	}
	mv := ans.ModelVersion
	if mv == nil || mv.Name != name || string(mv.Version) != version {
		return nil, fmt.Errorf("MLflow model %s version %s: GET %s: the answer holds no such model version", name, version, u)
	}
	return &ModelVersion{Name: mv.Name, Version: string(mv.Version), RunID: mv.RunID, Source: mv.Source, Status: mv.Status}, nil
}

// jsonStr is a string that an older server may send as a number.
type jsonStr string

func (s *jsonStr) UnmarshalJSON(b []byte) error {
	if v, err := strconv.Unquote(string(b)); err == nil {
		*s = jsonStr(v)
		return nil
	}
	if _, err := strconv.ParseInt(string(b), 10, 64); err != nil {
		return fmt.Errorf("%s is neither a string nor an integer", b)
	}
	*s = jsonStr(b)
	return nil
}

// APIError is an answer of the server other than 200: its status, and
// MLflow's error_code and message when the body is MLflow's error JSON.
type APIError struct {
	URL     string
	Status  int
	Code    string // RESOURCE_DOES_NOT_EXIST, UNAUTHENTICATED, ...
	Message string
}

func (e *APIError) Error() string {
	what := fmt.Sprintf("GET %s: MLflow answered %d %s", e.URL, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		what += ": " + e.Code
	}
	if e.Message != "" {
		what += ": " + e.Message
	}
	switch {
	case e.Code == "RESOURCE_DOES_NOT_EXIST" || e.Status == http.StatusNotFound:
		what += " (it does not exist there)"
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		what += " (the token in MLFLOW_TRACKING_TOKEN is missing, wrong or lacks access)"
	}
	return what
}

// get fetches path with query and decodes MLflow's JSON answer into out; it
// returns the URL it asked, for errors.
func (s *Server) get(ctx context.Context, p string, query url.Values, out any) (string, error) {
	u := *s.base
	u.Path += p
	u.RawQuery = query.Encode()
	where := u.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return where, fmt.Errorf("GET %s: %w", where, err)
	}
	req.Header.Set("Accept", "application/json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return where, fmt.Errorf("GET %s: %w", where, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return where, fmt.Errorf("GET %s: %w", where, err)
	}
	if len(body) > maxResponse {
		return where, fmt.Errorf("GET %s: the answer is larger than %d bytes", where, maxResponse)
	}
	if resp.StatusCode != http.StatusOK {
		e := &APIError{URL: where, Status: resp.StatusCode}
		var mlErr struct {
			Code    string `json:"error_code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &mlErr) == nil {
			e.Code, e.Message = clip(mlErr.Code), clip(mlErr.Message)
		}
		return where, e
	}
	if err := json.Unmarshal(body, out); err != nil {
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		return where, fmt.Errorf("GET %s: the answer (%s) is not MLflow's JSON: %w", where, orNone(ct), err)
	}
	return where, nil
}

// clip shortens what a server says to a length an error line can hold.
func clip(s string) string {
	const max = 300
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "no content type"
	}
	return s
}
