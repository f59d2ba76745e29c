package topology

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/embedded"
)

func TestValidTokenAndKey(t *testing.T) {
	for _, c := range []struct {
		s          string
		token, key bool
	}{
		{"ep_01jb7k2m3n4p5q6r7s8t9v0wxy", true, true},
		{"acme-1", true, true},
		{"key_0123456789abcdef0123", true, true},
		{strings.Repeat("a", MaxTokenLen), true, true},
		{strings.Repeat("a", MaxTokenLen+1), false, true},
		{strings.Repeat("a", MaxKeyLen), false, true},
		{strings.Repeat("a", MaxKeyLen+1), false, false},
		{strings.Repeat("a", 5000), false, false},
		{"order.paid", false, true},
		{"pause.ep_1", false, true},
		{"a=b/c", false, true},
		{"", false, false},
		{"*", false, false},
		{">", false, false},
		{"a.*", false, false},
		{"a b", false, false},
		{".a", false, false},
		{"a.", false, false},
		{"a..b", false, false},
		{"é", false, false},
		{"a\x00", false, false},
	} {
		if err := ValidToken(c.s); (err == nil) != c.token || err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidToken(%s) = %v, want valid %v", Truncate(c.s), err, c.token)
		}
		if err := ValidKey(c.s); (err == nil) != c.key || err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidKey(%s) = %v, want valid %v", Truncate(c.s), err, c.key)
		}
	}
	if got := Truncate(strings.Repeat("x", 5000)); len(got) > 100 || !strings.Contains(got, "5000 bytes") {
		t.Errorf("Truncate of 5000 bytes: %s", got)
	}
}

// An endpoint id that a request made up, however long, never reaches the
// server: a JetStream API subject longer than the control line (4 KiB)
// makes the server close the connection, which every part of a process
// shares. Each call fails with ErrInvalidName (or ErrEndpointMissing) and
// the connection stays open.
func TestEndpointNamesNeverCloseTheConnection(t *testing.T) {
	ns, err := embedded.Start(embedded.Config{StoreDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	topo, _ := New(js, Config{})
	ctx := context.Background()
	if err := topo.EnsureCore(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{strings.Repeat("a", 5000), "a.b", "a*", ">", ""} {
		if err := topo.EnsureEndpoint(ctx, id, EndpointLayout{}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("EnsureEndpoint(%s): %v, want ErrInvalidName", Truncate(id), err)
		}
		if err := topo.DeleteEndpoint(ctx, id); !errors.Is(err, ErrInvalidName) {
			t.Errorf("DeleteEndpoint(%s): %v, want ErrInvalidName", Truncate(id), err)
		}
		if _, err := topo.EndpointConsumers(ctx, id, EndpointLayout{}); !errors.Is(err, ErrEndpointMissing) || !errors.Is(err, ErrInvalidName) {
			t.Errorf("EndpointConsumers(%s): %v, want ErrEndpointMissing and ErrInvalidName", Truncate(id), err)
		}
		if _, err := topo.BatchConsumer(ctx, id); !errors.Is(err, ErrEndpointMissing) || !errors.Is(err, ErrInvalidName) {
			t.Errorf("BatchConsumer(%s): %v, want ErrEndpointMissing and ErrInvalidName", Truncate(id), err)
		}
		if nc.IsClosed() {
			t.Fatalf("the connection was closed after %s: %v", Truncate(id), nc.LastError())
		}
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("connection unusable afterwards: %v", err)
	}
}
