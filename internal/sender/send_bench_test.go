package sender

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/signing"
)

// benchEvent is hookdtest.BenchEvent (which this package cannot import).
var benchEvent = []byte(`{"order_id":"ord_01J9Z3K4M5N6P7Q8R9S0T1U2V3","status":"paid","amount":4299,` +
	`"currency":"EUR","customer":{"id":"cus_8f2a91","email":"ana@example.com"},` +
	`"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"test":false}`)

// BenchmarkSend measures the worker's send path for one attempt, as
// deliver makes it: BuildRequest for an endpoint with one signing secret
// and a static header, then Send to a local receiver that checks the
// signature headers are there, reads the body and answers 200. allocs/op
// counts the receiver's side too.
//
//	go test -run '^$' -bench Send -benchmem -count 5 ./internal/sender/
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Header.Get("webhook-signature") == "" || r.Header.Get("webhook-id") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	s := newTestSender()
	ep := &endpoint.Compiled{Endpoint: &endpoint.Endpoint{URL: srv.URL + "/hook", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Headers: map[string]string{"X-Team": "billing"}}}
	body := (&event.Event{Type: "order.paid", Time: time.Now(), Data: event.NormalizeData(benchEvent)}).Envelope()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		req, err := BuildRequest(ep, "evt_01J9Z3K4M5N6P7Q8R9S0T1U2V3", body, 5*time.Second, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		resp, err := s.Send(ctx, req)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d, err %v", resp.StatusCode, err)
		}
	}
}

// BenchmarkSignAttempt measures what an attempt costs in building its
// request and signing it, without sending it: BuildRequest for an
// endpoint with one signing secret, then the webhook-signature value
// Send computes (signing.Signature over the ~0.3 KiB envelope).
//
//	go test -run '^$' -bench SignAttempt -benchmem -count 5 ./internal/sender/
func BenchmarkSignAttempt(b *testing.B) {
	ep := &endpoint.Compiled{Endpoint: &endpoint.Endpoint{URL: "https://example.com/hook", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}
	body := (&event.Event{Type: "order.paid", Time: time.Now(), Data: event.NormalizeData(benchEvent)}).Envelope()
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		req, err := BuildRequest(ep, "evt_01J9Z3K4M5N6P7Q8R9S0T1U2V3", body, 5*time.Second, now)
		if err != nil {
			b.Fatal(err)
		}
		if signing.Signature(req.MessageID, now, req.Body, req.Keys...) == "" {
			b.Fatal("no signature")
		}
	}
}
