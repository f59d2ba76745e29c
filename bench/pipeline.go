package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/bulkcreate"
)

// pipeline is a running hookd (API, router, worker) the bench drives.
type pipeline struct {
	app     *app.App
	key     string
	dataDir string
	stop    context.CancelFunc
	done    chan error
}

func startPipeline(cfg Config) (*pipeline, error) {
	p := &pipeline{done: make(chan error, 1)}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	p.key = "hk_bench_" + hex.EncodeToString(b)
	acfg := app.Config{NATSURLs: cfg.NATSURLs, NATSClient: cfg.NATSClient, HTTPAddr: "127.0.0.1:0", AdminKey: p.key, SyncAlways: cfg.SyncAlways, Logger: cfg.Logger}
	acfg.Topology.Prefix = cfg.Prefix
	acfg.APIKeyRateLimit = cfg.apiKeyRateLimit
	acfg.Worker.EndpointConcurrency = cfg.Concurrency
	// The bench's receiver is on this machine (or --receiver-url names one
	// the operator chose): open the SSRF guard to it.
	acfg.Worker.AllowNets = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	if cfg.NATSURLs == "" {
		dir, err := os.MkdirTemp("", "hookd-bench-")
		if err != nil {
			return nil, err
		}
		p.dataDir = dir
		// Producers connect over TCP, as real ones do.
		acfg.DataDir, acfg.NATSListen = dir, "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, acfg)
	if err != nil {
		cancel()
		p.cleanup()
		return nil, fmt.Errorf("start hookd: %w", err)
	}
	p.app, p.stop = a, cancel
	go func() { p.done <- a.Run(ctx) }()
	return p, nil
}

// natsURL is where producers connect.
func (p *pipeline) natsURL(cfg Config) string {
	if cfg.NATSURLs != "" {
		return cfg.NATSURLs
	}
	return p.app.NATSURL()
}

// close stops hookd and removes the embedded server's data.
func (p *pipeline) close() {
	p.stop()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
	}
	p.cleanup()
}

func (p *pipeline) cleanup() {
	if p.dataDir != "" {
		_ = os.RemoveAll(p.dataDir)
	}
}

// creation is how long creating the endpoints took.
type creation struct {
	// api is until the last bulk answer; routable until the router saw
	// every endpoint.
	api, routable time.Duration
}

// createEndpoints creates n endpoints through the API's bulk route
// (POST /v1/endpoints/bulk, a few requests in flight), endpoint i taking
// the events of tenant value "t-<i>", and waits until the router sees
// them.
func (p *pipeline) createEndpoints(ctx context.Context, n int, receiverURL string) (creation, error) {
	start := time.Now()
	items := make([]json.RawMessage, n)
	for i := range items {
		items[i] = json.RawMessage(fmt.Sprintf(`{"url":%q,"events":["bench.*"],"filter":"data.tenant == \"t-%d\"","name":"bench %d"}`,
			receiverURL+"/e/"+strconv.Itoa(i), i, i))
	}
	send := bulkcreate.HTTPSend(http.DefaultClient, "http://"+p.app.HTTPAddr(), http.Header{"Authorization": {"Bearer " + p.key}})
	res, err := bulkcreate.Create(ctx, items, send, bulkcreate.Options{})
	if err != nil {
		return creation{}, fmt.Errorf("create endpoints: %w", err)
	}
	for _, r := range res {
		if !r.Created() {
			return creation{}, fmt.Errorf("create endpoints: item %d: %d %s %s: %s", r.Index, r.Status, r.Error.Code, r.Error.Field, r.Error.Message)
		}
	}
	c := creation{api: time.Since(start)}
	// Waiting while the router makes progress, for as long as that takes.
	seen, progress := 0, time.Now()
	for seen < n {
		if now := p.app.Registry().Snapshot().Len(); now > seen {
			seen, progress = now, time.Now()
		}
		if time.Since(progress) > time.Minute {
			return c, fmt.Errorf("create endpoints: the router saw %d of %d, none more for a minute", seen, n)
		}
		time.Sleep(10 * time.Millisecond) // polling the registry's size
	}
	c.routable = time.Since(start)
	return c, nil
}
