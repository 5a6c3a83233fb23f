package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// runHealthcheck asks a running App whether it is alive, for a container's
// HEALTHCHECK: an image built FROM scratch has no curl.
func (c *cli) healthcheckCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "healthcheck [flags]",
		Short: "exit 0 when the running App answers its health check, for container health checks",
	}
	fl := cmd.Flags()
	target := fl.String("url", "http://127.0.0.1:8080/healthz", "the App's health endpoint")
	timeout := fl.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	cmd.RunE = do(func(ctx context.Context, args []string) int {
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
	})
	return cmd
}
