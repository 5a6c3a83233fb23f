package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

const healthcheckUsage = "healthcheck [--url URL]"

// runHealthcheck asks a running App whether it is alive, for a container's
// HEALTHCHECK: an image built FROM scratch has no curl.
func runHealthcheck(ctx context.Context, c *cli, args []string) int {
	fl := c.flags("healthcheck", healthcheckUsage)
	target := fl.String("url", "http://127.0.0.1:8080/healthz", "the App's health endpoint")
	timeout := fl.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if code, ok := c.parse(fl, args); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		return c.fail(fmt.Errorf("healthcheck: %w", err))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(c.stderr, "modelgate: healthcheck: %v\n", err)
		return exitFailed
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(c.stderr, "modelgate: healthcheck: %s answered %s\n", *target, resp.Status)
		return exitFailed
	}
	return exitOK
}
