package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hookd/hookd/version"
)

// Env reads environment variables; nil means the process environment.
type Env func(string) string

// Main runs hookd with args (without the program name) and returns the
// process exit code: 0 success, 1 failure, 2 bad usage.
func Main(args []string, stdout, stderr io.Writer, getenv Env) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve", "api", "router", "worker":
		err = runServe(ctx, cmd, rest, stdout, stderr, getenv)
	case "endpoint", "delivery", "event", "rule", "key", "tenant", "event-type":
		g, _ := findGroup(cmd)
		err = runGroup(ctx, g, rest, stdout, stderr, getenv)
	case "recover":
		err = runCommand(ctx, cmd, recoverCommand, rest, stdout, stderr, getenv)
	case "backfill":
		err = runCommand(ctx, cmd, backfillCommand, rest, stdout, stderr, getenv)
	case "bench":
		err = runBench(ctx, rest, stdout, stderr)
	case "healthcheck":
		err = runHealthcheck(ctx, rest, stdout, stderr)
	case "version", "--version":
		_, _ = fmt.Fprintln(stdout, "hookd", version.Version)
	case "help", "-h", "--help":
		usage(stdout)
	default:
		_, _ = fmt.Fprintf(stderr, "hookd: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
	var usageErr *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usageErr):
		_, _ = fmt.Fprintln(stderr, "hookd:", err)
		return 2
	default:
		_, _ = fmt.Fprintln(stderr, "hookd:", err)
		return 1
	}
}

// usageError is a mistake on the command line or in HOOKD_* variables.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usage(w io.Writer) {
	_, _ = fmt.Fprint(w, `hookd: outgoing webhooks on NATS JetStream

Usage:
  hookd serve    run everything: embedded NATS (unless --nats), API, router, worker
  hookd api      run the HTTP API only (with --nats)
  hookd router   run a router only (with --nats)
  hookd worker   run a worker only (with --nats)
  hookd bench    measure the whole pipeline on this machine (hookd bench --help)
  hookd healthcheck [URL]
                 GET a probe (default http://127.0.0.1:8080/readyz); exit 0 on 2xx
  hookd version  print the version

Client commands (call a running hookd's API):
  hookd endpoint create|list|get|update|delete|enable|disable|secret|rotate-secret|test|test-filter
                 (create and list take --tenant T)
  hookd delivery list ENDPOINT_ID | get ID | retry ID [--force]
  hookd recover ENDPOINT_ID --since T [--until T]
  hookd backfill ENDPOINT_ID --since T [--until T] [--dry-run]
  hookd event send TYPE [--data JSON|@file] [--id ID] [--tenant T] | get ID [--tenant T]
  hookd rule test --event FILE 'EXPR'
  hookd key create [--name N --scope admin|publish|tenant --tenant T] | list | revoke ID
  hookd tenant create ID [--name N --metadata k=v --max-endpoints N --events-per-second R]
  hookd tenant list | get ID | update ID [flags] | delete ID | portal-token ID [--ttl 1h]
  hookd event-type create --name N [--description D --schema @file.json --example @file.json]
  hookd event-type list | get NAME | update NAME [flags] | delete NAME

Run "hookd serve --help" for flags. Every flag can be set with HOOKD_<FLAG>,
e.g. HOOKD_RETRY_SCHEDULE for --retry-schedule.

Client commands take --server (HOOKD_SERVER, default http://127.0.0.1:8080),
--api-key (HOOKD_API_KEY) and -o table|json; run "hookd endpoint help" or
"hookd endpoint create --help" for the rest.
`)
}
