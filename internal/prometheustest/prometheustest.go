// Package prometheustest runs a real Prometheus server for a test: the
// prometheus binary on PATH (Debian's package prometheus), on a free loopback
// port, with a configuration and a data directory of its own, scraping the
// targets the test names every second.
//
// Without the binary the test is skipped, unless MODELGATE_REQUIRE_PROMETHEUS=1,
// which makes it fail.
package prometheustest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is a running Prometheus.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL    string
	cmd    *exec.Cmd
	exited chan struct{}
	log    string // the server's output, a file
}

// startDeadline bounds the wait for the server to be ready and for series to
// appear: a bound on a failing test, not a measurement.
const startDeadline = 60 * time.Second

// Start runs Prometheus scraping targets (host:port of /metrics endpoints)
// every second; it is stopped when the test ends.
func Start(t testing.TB, targets ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("MODELGATE_REQUIRE_PROMETHEUS") == "1" {
			t.Fatalf("prometheus is required (MODELGATE_REQUIRE_PROMETHEUS=1) but not on PATH: %v", err)
		}
		t.Skipf("prometheus not on PATH (apt-get install prometheus): %v", err)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	quoted := make([]string, len(targets))
	for i, target := range targets {
		quoted[i] = fmt.Sprintf("%q", target)
	}
	body := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: test\n    static_configs:\n      - targets: [%s]\n", strings.Join(quoted, ", "))
	if err := os.WriteFile(config, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	s := &Server{URL: "http://" + net.JoinHostPort("127.0.0.1", port), exited: make(chan struct{}), log: filepath.Join(dir, "prometheus.log")}
	logFile, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	s.cmd = exec.Command(bin,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+port,
		"--log.level=warn",
	)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(s.Stop)
	s.poll(t, "ready", func() (bool, error) {
		resp, err := http.Get(s.URL + "/-/ready")
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	return s
}

// freePort asks the kernel for a loopback port that is free now.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	<-s.exited
}

// WaitForSeries polls until query returns a non-empty result: the scrapes the
// test needs have landed.
func (s *Server) WaitForSeries(t testing.TB, query string) {
	t.Helper()
	s.poll(t, "series for "+query, func() (bool, error) {
		resp, err := http.Get(s.URL + "/api/v1/query?query=" + url.QueryEscape(query))
		if err != nil {
			return false, nil
		}
		defer resp.Body.Close()
		var r struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return false, fmt.Errorf("decode the response to %s: %w", query, err)
		}
		if r.Status != "success" {
			return false, fmt.Errorf("query %s: %s", query, r.Error)
		}
		return len(r.Data.Result) > 0, nil
	})
}

func (s *Server) output() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// poll calls done until it reports true, an error, the server exits or the
// deadline passes.
func (s *Server) poll(t testing.TB, what string, done func() (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startDeadline)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := done()
		if err != nil {
			t.Fatalf("prometheus: %v", err)
		}
		if ok {
			return
		}
		select {
		case <-s.exited:
			t.Fatalf("prometheus exited while waiting for %s: %s\n%s", what, s.cmd.ProcessState, s.output())
		case <-ctx.Done():
			t.Fatalf("prometheus: no %s within %v\n%s", what, startDeadline, s.output())
		case <-tick.C:
		}
	}
}
