package hookdtest

import (
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/topology"
)

// NATS is a nats-server started apart from hookd, for tests of hookd
// processes that connect to it with NATSURLs, as hookd's internal identity.
type NATS struct {
	*embedded.Server
	// Seed is the internal identity's nkey seed.
	Seed []byte
}

// StartNATS starts a server on 127.0.0.1 with cfg (StoreDir defaults to
// a temporary directory, Listen to a free port, InternalKey to a new one),
// with the same producer subjects as hookd's own. The test shuts it down.
func StartNATS(t testing.TB, cfg embedded.Config) *NATS {
	t.Helper()
	if cfg.StoreDir == "" {
		cfg.StoreDir = t.TempDir()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = Logger()
	}
	if len(cfg.InternalKey) == 0 {
		seed, err := embedded.NewInternalKey()
		if err != nil {
			t.Fatal(err)
		}
		cfg.InternalKey = seed
	}
	cfg.ProducerSubjects = app.ProducerSubjects(topology.Names{})
	s, err := embedded.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown) // after the hookds using it, which stop first
	return &NATS{Server: s, Seed: cfg.InternalKey}
}

// Config returns cfg set up to connect to n as hookd.
func (n *NATS) Config(cfg app.Config) app.Config {
	cfg.NATSURLs = n.ClientURL()
	cfg.NATSClient = app.NATSClient{NkeySeed: string(n.Seed)}
	return cfg
}
