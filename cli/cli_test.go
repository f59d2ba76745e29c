package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
)

func env(vars map[string]string) Env { return func(k string) string { return vars[k] } }

func parse(t *testing.T, args []string, vars map[string]string) (serveFlags, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	var f serveFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	return f, applyEnv(fs, env(vars))
}

func TestDefaults(t *testing.T) {
	f, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.data != "./hookd-data" || f.httpAddr != "127.0.0.1:8080" || f.natsListen != "127.0.0.1:4222" || f.natsURLs != "" || f.timeout != 15*time.Second {
		t.Fatalf("defaults %+v", f)
	}
	if f.retry.String() != "5s,5m0s,30m0s,2h0m0s,5h0m0s,10h0m0s,10h0m0s" {
		t.Fatalf("default retry schedule %s", f.retry.String())
	}
}

func TestEveryFlagHasAnEnvironmentVariable(t *testing.T) {
	f, err := parse(t, nil, map[string]string{
		"HOOKD_DATA":           "/tmp/x",
		"HOOKD_HTTP":           "0.0.0.0:9000",
		"HOOKD_NATS_LISTEN":    "",
		"HOOKD_NATS":           "nats://a:4222,nats://b:4222",
		"HOOKD_RETRY_SCHEDULE": "100ms,200ms,300ms",
		"HOOKD_TIMEOUT":        "2s",
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.data != "/tmp/x" || f.httpAddr != "0.0.0.0:9000" || f.natsURLs != "nats://a:4222,nats://b:4222" || f.timeout != 2*time.Second {
		t.Fatalf("from env: %+v", f)
	}
	if len(f.retry) != 3 || f.retry[0] != 100*time.Millisecond || f.retry[2] != 300*time.Millisecond {
		t.Fatalf("retry from env: %v", f.retry)
	}
}

func TestFlagBeatsEnvironment(t *testing.T) {
	f, err := parse(t, []string{"--timeout", "3s"}, map[string]string{"HOOKD_TIMEOUT": "9s"})
	if err != nil || f.timeout != 3*time.Second {
		t.Fatalf("got %s, %v", f.timeout, err)
	}
}

func TestBadValuesNameTheFlag(t *testing.T) {
	_, err := parse(t, []string{"--retry-schedule", "5s,soon"}, nil)
	if err == nil || !strings.Contains(err.Error(), "retry-schedule") || !strings.Contains(err.Error(), "soon") {
		t.Fatalf("flag error %v", err)
	}
	_, err = parse(t, nil, map[string]string{"HOOKD_TIMEOUT": "forever"})
	if err == nil || !strings.Contains(err.Error(), "HOOKD_TIMEOUT") || !strings.Contains(err.Error(), "--timeout") {
		t.Fatalf("env error %v", err)
	}
}

func TestMainExitCodes(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main([]string{"version"}, &out, &errOut, env(nil)); code != 0 || !strings.HasPrefix(out.String(), "hookd ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	if code := Main([]string{"frobnicate"}, &out, &errOut, env(nil)); code != 2 || !strings.Contains(errOut.String(), "frobnicate") {
		t.Fatalf("unknown command: %d %q", code, errOut.String())
	}
	errOut.Reset()
	if code := Main([]string{"serve", "--timeout", "-1s"}, &out, &errOut, env(nil)); code != 2 || !strings.Contains(errOut.String(), "--timeout") {
		t.Fatalf("bad timeout: %d %q", code, errOut.String())
	}
	errOut.Reset()
	if code := Main([]string{"worker"}, &out, &errOut, env(nil)); code != 2 || !strings.Contains(errOut.String(), "--nats") {
		t.Fatalf("worker without --nats: %d %q", code, errOut.String())
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"serve", "--allow-nets", "10.0.0.0/33"}, nil, "--allow-nets"},
		{[]string{"serve"}, map[string]string{"HOOKD_SECRET_KEY": "short"}, "HOOKD_SECRET_KEY"},
		{[]string{"serve", "--cluster-name", "c"}, nil, "--cluster"},
		{[]string{"serve", "--events-max-age", "1s"}, nil, "--events-max-age"},
		{[]string{"serve"}, map[string]string{"HOOKD_EVENTS_MAX_BYTES": "0"}, "--events-max-bytes"},
	} {
		errOut.Reset()
		if code := Main(c.args, &out, &errOut, env(c.env)); code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v %v: exit %d %q, want 2 naming %s", c.args, c.env, code, errOut.String(), c.want)
		}
	}
}

// serve starts on free ports and stops cleanly when its context ends.
func TestServeRunsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, "serve", []string{"--data", t.TempDir(), "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--log-format", "json"}, &syncWriter{w: &logs}, &syncWriter{w: &logs}, env(nil))
	}()
	hookdtest.WaitFor(t, 20*time.Second, "serve to start", func() bool { return strings.Contains(logsString(&logs), "hookd started") })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(logsString(&logs), "hookd stopped") {
		t.Fatal("no clean stop logged")
	}
	if !strings.Contains(logsString(&logs), "Created the first admin API key") || !strings.Contains(logsString(&logs), "hk_") {
		t.Fatal("first start did not print the admin key it created")
	}
}

// Event retention flags reach the events stream's configuration.
func TestRetentionFlagsReachTheTopology(t *testing.T) {
	f, err := parse(t, []string{"--events-max-age", "36h", "--events-max-bytes", "1073741824"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config("serve", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Topology.EventsMaxAge != 36*time.Hour || cfg.Topology.EventsMaxBytes != 1<<30 {
		t.Fatalf("topology %+v", cfg.Topology)
	}
}

// hookd bench --cluster refuses, before starting anything, a node count it
// cannot run and the one-node flags it would otherwise ignore, naming the
// flag.
func TestBenchClusterRefusesWhatDoesNotApply(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--cluster", "4"}, "--cluster"},
		{[]string{"bench", "--cluster", "3", "--rate", "100"}, "--rate"},
		{[]string{"bench", "--cluster", "3", "--nats", "nats://127.0.0.1:1"}, "--nats"},
		{[]string{"bench", "--cluster", "3", "--idle", "10ms"}, "--idle"},
		{[]string{"bench", "--cluster", "3", "--endpoints", "0"}, "--endpoints"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(c.args, &out, &errOut, env(nil)); code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d %q, want 2 naming %s", c.args, code, errOut.String(), c.want)
		}
	}
}
