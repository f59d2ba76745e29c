package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// defaultProbeURL is what hookd healthcheck asks without an argument.
const defaultProbeURL = "http://127.0.0.1:8080/readyz"

// runHealthcheck GETs a probe URL and fails unless it answers 2xx: a
// container health check for images without a shell, wget or curl (hookd's
// is distroless), e.g. ["CMD", "/hookd", "healthcheck",
// "http://127.0.0.1:9090/readyz"] in compose.yaml.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	target, timeout, err := parseHealthcheck(args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return &usageError{err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("healthcheck: %s answered %d: %s", target, resp.StatusCode, body)
	}
	_, _ = fmt.Fprintf(stdout, "%s", body)
	return nil
}

// parseHealthcheck reads hookd healthcheck's flags and URL (compose_test
// reads compose.yaml's health checks with it too).
func parseHealthcheck(args []string, stderr io.Writer) (string, time.Duration, error) {
	fs := flag.NewFlagSet("hookd healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "Usage: hookd healthcheck [--timeout 5s] [URL]\n\nGETs URL (default %s); exits 0 on a 2xx answer, 1 otherwise.\n", defaultProbeURL)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return "", 0, err
		}
		return "", 0, &usageError{err}
	}
	if *timeout <= 0 {
		return "", 0, &usageError{fmt.Errorf("--timeout must be positive, not %s", *timeout)}
	}
	target, err := probeURL(fs.Args())
	if err != nil {
		return "", 0, &usageError{err}
	}
	return target, *timeout, nil
}

// probeURL is the URL argument, checked: an absolute http(s) URL.
func probeURL(args []string) (string, error) {
	switch len(args) {
	case 0:
		return defaultProbeURL, nil
	case 1:
		u, err := url.Parse(args[0])
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("healthcheck: %q is not an http:// URL", args[0])
		}
		return args[0], nil
	default:
		return "", fmt.Errorf("healthcheck takes one URL, not %q", args)
	}
}
