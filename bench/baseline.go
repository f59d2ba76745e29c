package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/topology"
)

// baselineDuration bounds each baseline's run.
const baselineDuration = 3 * time.Second

// directHTTP POSTs bench events straight to the receiver from concurrency
// goroutines, with the same kind of client the worker uses (keep-alive, one
// connection per goroutine), and returns requests per second: what the
// machine does with no hookd in between.
func directHTTP(ctx context.Context, url string, concurrency int, body []byte) (float64, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, baselineDuration)
	defer cancel()
	var done atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						firstErr.CompareAndSwap(nil, err)
					}
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, fmt.Errorf("direct HTTP baseline: %w", err)
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

// rawPublish publishes bench events asynchronously to a scratch stream
// stored like the events stream (file storage, same server), and returns
// acknowledged messages per second: JetStream's own limit here.
func rawPublish(ctx context.Context, js jetstream.JetStream, names topology.Names, body []byte) (float64, error) {
	stream, subject := names.BenchStream(), names.BenchSubject()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject}, Storage: jetstream.FileStorage}); err != nil {
		return 0, fmt.Errorf("raw JetStream baseline: %w", err)
	}
	defer func() { _ = js.DeleteStream(context.WithoutCancel(ctx), stream) }()
	start := time.Now()
	var n int64
	for time.Since(start) < baselineDuration && ctx.Err() == nil {
		for range 1000 {
			if _, err := js.PublishAsync(subject, body, jetstream.WithStallWait(time.Minute)); err != nil {
				return 0, fmt.Errorf("raw JetStream baseline: %w", err)
			}
		}
		n += 1000
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		return 0, fmt.Errorf("raw JetStream baseline: publishes unacknowledged after 30s")
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
