package topology

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/natsname"
	"github.com/hookd/hookd/internal/natstest"
)

// An endpoint id that a request made up, however long, never reaches the
// server: a JetStream API subject longer than the control line (4 KiB)
// makes the server close the connection, which every part of a process
// shares. Each call fails with natsname.ErrInvalidName and
// the connection stays open.
func TestEndpointNamesNeverCloseTheConnection(t *testing.T) {
	js := natstest.Start(t)
	topo, _ := New(js, Config{})
	ctx := context.Background()
	if err := topo.EnsureCore(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{strings.Repeat("a", 5000), "a.b", "a*", ">", ""} {
		if err := topo.DeleteEndpoint(ctx, id); !errors.Is(err, natsname.ErrInvalidName) {
			t.Errorf("DeleteEndpoint(%s): %v, want natsname.ErrInvalidName", natsname.Truncate(id), err)
		}
		for _, spec := range append(topo.EndpointConsumerSpecs(id, EndpointLayout{Ordered: true, Lanes: 16}, []int{0, 16}),
			topo.EndpointConsumerSpecs(id, EndpointLayout{}, nil)[0], topo.BatchesConsumerSpec(id, EndpointLayout{})) {
			if _, err := topo.Consumer(ctx, spec); !errors.Is(err, natsname.ErrInvalidName) {
				t.Errorf("Consumer(%s): %v, want natsname.ErrInvalidName", natsname.Truncate(spec.Config.Durable), err)
			}
		}
		if _, err := topo.Backlog(ctx, id); !errors.Is(err, natsname.ErrInvalidName) {
			t.Errorf("Backlog(%s): %v, want natsname.ErrInvalidName", natsname.Truncate(id), err)
		}
		if js.Conn().IsClosed() {
			t.Fatalf("the connection was closed after %s: %v", natsname.Truncate(id), js.Conn().LastError())
		}
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("connection unusable afterwards: %v", err)
	}
}
