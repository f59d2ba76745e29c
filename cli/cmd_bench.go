package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/hookd/hookd/bench"
)

// runBench runs `hookd bench [flags]` and `hookd bench receiver [flags]`.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "receiver" {
		return runBenchReceiver(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("hookd bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg bench.Config
	rate := fs.String("rate", "max", "events per second, driven open-loop, or max for saturation")
	syncMode := fs.String("sync", "interval", "embedded server's disk sync: interval or always")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	logLevel := fs.String("log-level", "error", "hookd's own logs: debug, info, warn or error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured part of the run to this file (go tool pprof)")
	memProfile := fs.String("memprofile", "", "write a heap profile, taken at the end of the run, to this file")
	fs.StringVar(&cfg.NATSURLs, "nats", "", "run against this NATS deployment (default: an embedded server in a temporary directory)")
	fs.StringVar(&cfg.Prefix, "prefix", "", "namespace hookd's streams, buckets and subjects, as hookd serve --prefix does")
	fs.StringVar(&cfg.ReceiverURL, "receiver-url", "", "a receiver started with `hookd bench receiver` (default: one in this process)")
	fs.IntVar(&cfg.Endpoints, "endpoints", 1, "endpoints to create, each with a filter on its own tenant value")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to drive events")
	fs.IntVar(&cfg.PayloadBytes, "payload-bytes", 0, "pad each event's data to about this size")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "deliveries in flight per endpoint, and the direct HTTP baseline's concurrency")
	fs.DurationVar(&cfg.Idle, "idle", 0, "first measure CPU and memory this long with the endpoints created and no events")
	fs.IntVar(&cfg.FailingBacklog, "failing-backlog", 0, "measure isolation: drive the endpoints without, then with, one more endpoint that answers 503 after 1s and has this many deliveries waiting (needs --rate)")
	fs.DurationVar(&cfg.FailingWait, "failing-wait", 0, "with --failing-backlog: wait this long once the backlog is in place before driving with it (2m: past JetStream's duplicate window)")
	fs.BoolVar(&cfg.NoBaselines, "no-baselines", false, "skip the direct HTTP and raw JetStream baselines (with --cluster: the one-endpoint run)")
	cluster := fs.Int("cluster", 0, "instead, start this many `hookd serve` nodes (3 or 5) as a cluster on 127.0.0.1 and measure each node's idle CPU and memory with --endpoints, after a one-endpoint run as the baseline (Linux)")
	fs.Usage = func() {
		_, _ = fmt.Fprint(fs.Output(), "Usage: hookd bench [flags]\n       hookd bench receiver [--listen ADDR]\n\n"+
			"Runs the whole pipeline against a receiver, drives events, and reports throughput, latency,\n"+
			"CPU, memory, an exact ledger, and same-run baselines.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *cluster != 0 {
		return runBenchCluster(ctx, fs, cfg, *cluster, *asJSON, *logLevel, stdout, stderr)
	}
	if *rate != "max" {
		r, err := strconv.ParseFloat(*rate, 64)
		if err != nil || r <= 0 {
			return &usageError{fmt.Errorf("--rate must be a positive number of events per second, or max, not %q", *rate)}
		}
		cfg.Rate = r
	}
	switch *syncMode {
	case "interval":
	case "always":
		cfg.SyncAlways = true
	default:
		return &usageError{fmt.Errorf("--sync must be interval or always, not %q", *syncMode)}
	}
	log, err := newLogger(*logLevel, "text", stderr)
	if err != nil {
		return &usageError{err}
	}
	cfg.Logger = log
	if err := cfg.Validate(); err != nil {
		return &usageError{err}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return &usageError{fmt.Errorf("--cpuprofile: %v", err)}
		}
		defer f.Close()
		// The measured part only: not the start-up and endpoint creation.
		cfg.AtStart = func() {
			if err := pprof.StartCPUProfile(f); err != nil {
				_, _ = fmt.Fprintln(stderr, "hookd: --cpuprofile:", err)
			}
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		cfg.AtEnd = func() {
			f, err := os.Create(*memProfile)
			if err != nil {
				_, _ = fmt.Fprintln(stderr, "hookd: --memprofile:", err)
				return
			}
			defer f.Close()
			_ = pprof.Lookup("heap").WriteTo(f, 0)
		}
	}
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return res.WriteText(stdout)
}

// runBenchCluster runs `hookd bench --cluster N`: only --endpoints,
// --idle, --no-baselines, --json and --log-level apply; the other flags
// shape the one-node pipeline and are refused rather than ignored.
func runBenchCluster(ctx context.Context, fs *flag.FlagSet, one bench.Config, nodes int, asJSON bool, logLevel string, stdout, stderr io.Writer) error {
	var refused error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "cluster", "endpoints", "idle", "no-baselines", "json", "log-level":
		default:
			if refused == nil {
				refused = &usageError{fmt.Errorf("--%s does not apply with --cluster", f.Name)}
			}
		}
	})
	if refused != nil {
		return refused
	}
	log, err := newLogger(logLevel, "text", stderr)
	if err != nil {
		return &usageError{err}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--cluster starts nodes from this binary: %w", err)
	}
	cfg := bench.ClusterConfig{Binary: self, Nodes: nodes, Endpoints: one.Endpoints, Idle: one.Idle, NoBaselines: one.NoBaselines, Logger: log}
	if err := cfg.Validate(); err != nil {
		return &usageError{err}
	}
	res, err := bench.RunCluster(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return res.WriteText(stdout)
}

func runBenchReceiver(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hookd bench receiver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9000", "address to receive deliveries on")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return &usageError{fmt.Errorf("--listen: %v", err)}
	}
	srv := &http.Server{Handler: bench.NewReceiver(), ReadHeaderTimeout: 10 * time.Second}
	_, _ = fmt.Fprintf(stdout, "bench receiver on http://%s (GET /stats, POST /reset); pass --receiver-url http://%s to hookd bench\n", ln.Addr(), ln.Addr())
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
