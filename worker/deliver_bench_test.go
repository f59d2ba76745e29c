package worker_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/hookdtest"
)

// countingReceiver starts an HTTP server that reads each request's body,
// answers 200 and counts the requests; it is closed when the benchmark ends.
func countingReceiver(b *testing.B) (*httptest.Server, *atomic.Int64) {
	b.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	return srv, &n
}

// BenchmarkDeliverPerDelivery measures the end-to-end cost of one delivery
// through the full pipeline (API, router, worker on an embedded JetStream):
// b.N events published async to events.order.paid, one endpoint matching
// them all, timed until its receiver has answered b.N POSTs. Compare
// deliveries/s with BenchmarkDirectHTTPBaseline's req/s from the same run.
// allocs/op counts the whole process (nats-server and receiver included)
// per delivery.
//
//	go test -run '^$' -bench 'DeliverPerDelivery|DirectHTTPBaseline' -benchtime 3000x -count 2 ./worker/
func BenchmarkDeliverPerDelivery(b *testing.B) {
	srv, got := countingReceiver(b)
	h := hookdtest.Start(b, app.Config{})
	h.CreateEndpoint(b, map[string]any{"url": srv.URL + "/hook", "events": []string{"order.*"}})
	js := h.App.JetStream()
	b.ReportAllocs()
	b.ResetTimer()
	hookdtest.PublishAsync(b, js, event.Subject("order.paid"), hookdtest.BenchEvent, b.N)
	hookdtest.WaitFor(b, 2*time.Minute, "every delivery received", func() bool { return got.Load() >= int64(b.N) })
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkDirectHTTPBaseline is the ceiling for BenchmarkDeliverPerDelivery
// on the same machine: b.N POSTs of a delivery-sized body (the envelope of
// the same event) to the same kind of receiver, from 32 goroutines over a
// transport tuned like the worker's, with no JetStream, routing or signing.
//
//	go test -run '^$' -bench 'DeliverPerDelivery|DirectHTTPBaseline' -benchtime 3000x -count 2 ./worker/
func BenchmarkDirectHTTPBaseline(b *testing.B) {
	const workers = 32
	srv, got := countingReceiver(b)
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	b.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport, Timeout: 15 * time.Second}
	body := (&event.Event{Type: "order.paid", Time: time.Now(), Data: event.NormalizeData(hookdtest.BenchEvent)}).Envelope()
	url := srv.URL + "/hook"

	var next atomic.Int64
	errs := make(chan error, workers)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- errors.New(resp.Status)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	if got.Load() != int64(b.N) {
		b.Fatalf("receiver counted %d requests, want %d", got.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
