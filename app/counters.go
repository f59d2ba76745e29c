package app

import (
	"context"
	"fmt"

	"github.com/hookd/hookd/delivery"
)

// setUpCounters makes the endpoint stats counters every process keeps:
// a process with a worker counts the delivery log's attempts (on a
// connection of its own: it reads every record), any other only flushes
// what its router records and reads for its API.
func (a *App) setUpCounters() error {
	ctx := context.Background()
	cfg := delivery.CountersConfig{Logger: a.log, CountAttempts: !a.cfg.NoWorker}
	topo := a.topo
	var err error
	if cfg.CountAttempts {
		if topo, err = a.roleTopology("counters"); err != nil {
			return err
		}
	}
	if cfg.Log, err = topo.JetStream().Stream(ctx, topo.Names().LogStream()); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	if cfg.KV, err = topo.Stats(ctx); err != nil {
		return err
	}
	if a.counters, err = delivery.NewCounters(cfg); err != nil {
		return err
	}
	a.sup.Add("counters", a.counters)
	return nil
}
