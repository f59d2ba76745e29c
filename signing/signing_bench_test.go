package signing_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/hookd/hookd/signing"
)

const (
	benchSecret1 = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	benchSecret2 = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
)

// benchBody is a ~1 KiB delivery body.
var benchBody = append([]byte(`{"type":"order.paid","timestamp":"2026-11-27T10:11:12.123456789Z","data":{"pad":"`),
	append(bytes.Repeat([]byte("x"), 1024-96), `"}}`...)...)

func benchKeys(b *testing.B, secrets ...string) []signing.Key {
	b.Helper()
	keys := make([]signing.Key, len(secrets))
	for i, s := range secrets {
		k, err := signing.ParseKey(s)
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = k
	}
	return keys
}

// BenchmarkHeaders measures signing one delivery attempt of a ~1 KiB body
// as the worker does (signing.Headers: the three Standard Webhooks
// headers), with one key and with two (during a secret rotation).
//
//	go test -run '^$' -bench 'Headers' -benchmem -count 3 ./signing/
func BenchmarkHeaders(b *testing.B) {
	for _, c := range []struct {
		name    string
		secrets []string
	}{{"keys=1", []string{benchSecret1}}, {"keys=2", []string{benchSecret1, benchSecret2}}} {
		b.Run(c.name, func(b *testing.B) {
			keys := benchKeys(b, c.secrets...)
			ts := time.Unix(1764238272, 0)
			b.ReportAllocs()
			b.SetBytes(int64(len(benchBody)))
			for b.Loop() {
				h := signing.Headers("msg_01J9Z3K4M5N6P7Q8R9S0T1U2V3", ts, benchBody, keys...)
				if h[signing.HeaderSignature] == "" {
					b.Fatal("no signature")
				}
			}
		})
	}
}

// BenchmarkSign measures one signature of a ~1 KiB body (Key.Sign),
// without building the header map: v1 (HMAC-SHA256) and v1a (ed25519).
//
//	go test -run '^$' -bench 'Sign' -benchmem -count 3 ./signing/
func BenchmarkSign(b *testing.B) {
	for _, c := range []struct{ name, secret string }{{"v1", benchSecret1}, {"v1a", signing.NewEd25519Secret()}} {
		b.Run(c.name, func(b *testing.B) {
			key := benchKeys(b, c.secret)[0]
			ts := time.Unix(1764238272, 0)
			b.ReportAllocs()
			b.SetBytes(int64(len(benchBody)))
			for b.Loop() {
				if key.Sign("msg_01J9Z3K4M5N6P7Q8R9S0T1U2V3", ts, benchBody) == "" {
					b.Fatal("no signature")
				}
			}
		})
	}
}

// BenchmarkParseKey measures decoding a "whsec_" secret, done per
// delivery by the worker.
//
//	go test -run '^$' -bench 'ParseKey' -benchmem -count 3 ./signing/
func BenchmarkParseKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := signing.ParseKey(benchSecret1); err != nil {
			b.Fatal(err)
		}
	}
}
