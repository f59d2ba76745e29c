package topology

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/embedded"
)

// A second start changes nothing: every stream's stored configuration is
// what hookd asks for, so no process updates a stream under another's
// consumers.
func TestEnsureCoreTwiceUpdatesNothing(t *testing.T) {
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
	for _, want := range topo.coreStreams() {
		s, err := js.Stream(ctx, want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !sameStream(s.CachedInfo().Config, want) {
			t.Errorf("stream %s: stored %+v differs from wanted %+v", want.Name, s.CachedInfo().Config, want)
		}
	}
}
