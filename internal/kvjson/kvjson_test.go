package kvjson_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/kvjson"
	"github.com/hookd/hookd/internal/natsname"
	"github.com/hookd/hookd/internal/natstest"
)

// A key a request made up (an endpoint or tenant id from a URL) never
// reaches the server when it cannot be a key: one of 5,000 bytes would
// make the server close the connection every store shares. Get and Delete
// say "not found", Put refuses, and the connection stays open.
func TestInvalidKeysNeverReachTheServer(t *testing.T) {
	js := natstest.Start(t)
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "test"})
	if err != nil {
		t.Fatal(err)
	}
	b := kvjson.Bucket[map[string]int]{KV: kv, Kind: "doc"}
	doc := map[string]int{"a": 1}
	for _, key := range []string{strings.Repeat("a", 5000), strings.Repeat("b", natsname.MaxKeyLen+1), "a.>", "a b", ""} {
		if _, _, err := b.Get(ctx, key); !errors.Is(err, kvjson.ErrNotFound) || !errors.Is(err, natsname.ErrInvalidName) {
			t.Errorf("Get(%s): %v, want ErrNotFound and ErrInvalidName", natsname.Truncate(key), err)
		}
		if err := b.Delete(ctx, key); !errors.Is(err, kvjson.ErrNotFound) {
			t.Errorf("Delete(%s): %v, want ErrNotFound", natsname.Truncate(key), err)
		}
		if err := b.Put(ctx, key, &doc, 0); !errors.Is(err, natsname.ErrInvalidName) {
			t.Errorf("Put(%s): %v, want ErrInvalidName", natsname.Truncate(key), err)
		}
		if js.Conn().IsClosed() {
			t.Fatalf("connection closed after key %s: %v", natsname.Truncate(key), js.Conn().LastError())
		}
	}
	// A valid key still works on the same connection.
	if err := b.Put(ctx, "ok", &doc, 0); err != nil {
		t.Fatal(err)
	}
	if got, _, err := b.Get(ctx, "ok"); err != nil || (*got)["a"] != 1 {
		t.Fatalf("get after refusals: %v %v", got, err)
	}
}
