package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
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

// AppendSign appends to what dst holds, and signs what Sign signs: the
// content written piece by piece is "id.timestamp.body", as one buffer.
func TestAppendSignAppends(t *testing.T) {
	hk, _ := ParseKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	ek, err := ParseKey(NewEd25519Secret())
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("i", 200) // longer than the stack buffer of the content's head
	body := []byte(strings.Repeat("b", 5000))
	ts := time.Unix(1764238272, 0)
	mac := hmac.New(sha256.New, hk.(*HMACKey).key)
	mac.Write([]byte(long + ".1764238272." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, k := range []Key{hk, ek} {
		got := string(k.AppendSign([]byte("prefix "), long, ts, body))
		if got != "prefix "+k.Sign(long, ts, body) {
			t.Fatalf("AppendSign %q, want the prefix then Sign's %q", got, k.Sign(long, ts, body))
		}
	}
	if got := hk.Sign(long, ts, body); got != want {
		t.Fatalf("HMAC signature %s, want %s (crypto/hmac over the whole content)", got, want)
	}
	if got := Signature(long, ts, body); got != "" {
		t.Fatalf("signature without keys %q, want empty", got)
	}
	if got := Signature(long, ts, body, hk, ek, hk); got != want+" "+ek.Sign(long, ts, body)+" "+want {
		t.Fatalf("three keys: %q", got)
	}
}

// A key reuses its MAC state from one signature to the next, however many
// sign at once: every signature is still crypto/hmac's over its own
// content, and an idle key's spare state goes to the collector.
func TestHMACKeyReusesItsStateSafely(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	k, err := ParseHMACKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	want := func(id string, body []byte) string {
		mac := hmac.New(sha256.New, k.key)
		mac.Write([]byte(id + ".1764238272." + string(body)))
		return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	ts := time.Unix(1764238272, 0)
	errs := make(chan string, 8)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id, body := fmt.Sprintf("msg_%d_%d", g, i), []byte(strings.Repeat(strconv.Itoa(i), i))
				if got := k.Sign(id, ts, body); got != want(id, body) {
					errs <- fmt.Sprintf("%s: %s, want %s", id, got, want(id, body))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	buf, body := make([]byte, 0, 64), []byte("{}")
	if allocs := testing.AllocsPerRun(100, func() { k.AppendSign(buf[:0], "msg_1", ts, body) }); allocs > 0 {
		t.Errorf("a signature with a spare state made %.0f allocations, want none", allocs)
	}
	k.Sign("msg_1", ts, nil)
	if k.spare.Value() == nil {
		t.Fatal("no spare state kept after a signature")
	}
	runtime.GC()
	if k.spare.Value() != nil {
		t.Fatal("an idle key still holds its spare state after a collection")
	}
	if got := k.Sign("msg_2", ts, []byte("x")); got != want("msg_2", []byte("x")) {
		t.Fatalf("after the collection: %s, want %s", got, want("msg_2", []byte("x")))
	}
}
