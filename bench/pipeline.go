package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hookd/hookd/app"
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

// createEndpoints creates n endpoints through the API, endpoint i taking
// the events of tenant value "t-<i>", and waits until the router sees them.
func (p *pipeline) createEndpoints(ctx context.Context, n int, receiverURL string) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range min(n, 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				body := fmt.Sprintf(`{"url":%q,"events":["bench.*"],"filter":"data.tenant == \"t-%d\"","name":"bench %d"}`,
					receiverURL+"/e/"+strconv.Itoa(i), i, i)
				if err := p.post(ctx, "/v1/endpoints", body); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("create endpoints: %w", err)
	}
	deadline := time.Now().Add(time.Minute)
	for len(p.app.Registry().Snapshot().All()) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("create endpoints: the router saw %d of %d", len(p.app.Registry().Snapshot().All()), n)
		}
		time.Sleep(10 * time.Millisecond) // polling the registry's size
	}
	return nil
}

func (p *pipeline) post(ctx context.Context, path, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.app.HTTPAddr()+path, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		out, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, out)
	}
	return nil
}
