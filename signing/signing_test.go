package signing

import (
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The official Standard Webhooks verifier must accept what hookd signs.
func TestOfficialVerifierAccepts(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	key, err := ParseKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"a.b","timestamp":"2026-01-01T00:00:00Z","data":{"x":1}}`)
	h := http.Header{}
	for k, v := range Headers("evt_1", time.Now(), body, key) {
		h.Set(k, v)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("official verifier refused: %v", err)
	}
	if err := wh.Verify(append(body, ' '), h); err == nil {
		t.Fatal("official verifier accepted a changed body")
	}
}

// Test vector from the Standard Webhooks specification's examples.
func TestSignMatchesKnownVector(t *testing.T) {
	key, err := ParseKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := key.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	const want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestHeadersCarryEverySignature(t *testing.T) {
	k1, _ := ParseKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	k2, _ := ParseKey("whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	h := Headers("id", time.Unix(1, 0), []byte("{}"), k1, k2)
	if h[HeaderTimestamp] != "1" || h[HeaderID] != "id" {
		t.Fatalf("headers: %v", h)
	}
	want := k1.Sign("id", time.Unix(1, 0), []byte("{}")) + " " + k2.Sign("id", time.Unix(1, 0), []byte("{}"))
	if h[HeaderSignature] != want {
		t.Fatalf("signature header %q, want %q", h[HeaderSignature], want)
	}
}
