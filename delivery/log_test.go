package delivery

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/natsname"
	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/topology"
)

// Ids from requests never reach a subject filter when they cannot be
// tokens: a 5,000-byte id in the consumer's subject would close the
// connection, a wildcard would widen the read. Each read fails (History
// with ErrNotFound) and the connection stays open.
func TestLogReadsRefuseInvalidIDs(t *testing.T) {
	js := natstest.Start(t)
	topo, _ := topology.New(js, topology.Config{})
	ctx := context.Background()
	if err := topo.EnsureCore(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := OpenLog(ctx, topo)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{strings.Repeat("a", 5000), "*", ">", "a.b"} {
		if _, err := l.History(ctx, id); !errors.Is(err, ErrNotFound) || !errors.Is(err, natsname.ErrInvalidName) {
			t.Errorf("History(%s): %v, want ErrNotFound", natsname.Truncate(id), err)
		}
		if _, err := l.Summaries(ctx, id); !errors.Is(err, natsname.ErrInvalidName) {
			t.Errorf("Summaries(%s): %v, want ErrInvalidName", natsname.Truncate(id), err)
		}
		// Stats takes "*" for every endpoint (its callers check ids first).
		if _, err := l.Stats(ctx, id, time.Now().Add(-time.Hour)); id != "*" && !errors.Is(err, natsname.ErrInvalidName) {
			t.Errorf("Stats(%s): %v, want ErrInvalidName", natsname.Truncate(id), err)
		}
		if js.Conn().IsClosed() {
			t.Fatalf("connection closed after id %s: %v", natsname.Truncate(id), js.Conn().LastError())
		}
	}
	if _, err := l.Summaries(ctx, "ep_1"); err != nil {
		t.Fatalf("a valid id after the refusals: %v", err)
	}
}
