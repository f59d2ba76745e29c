package app

import (
	"context"
	"fmt"

	"github.com/hookd/hookd/delivery"
)

// setUpCounters makes the endpoint stats counters every process keeps:
// its worker and router count the records they store (so each record is
// counted once, by the process that wrote it, without reading the log
// back: that consumer cost about 15% of hookd's own CPU at saturation),
// and the counters flush them and read them for the API.
func (a *App) setUpCounters(ctx context.Context) error {
	cfg := delivery.CountersConfig{Logger: a.log}
	topo := a.topo
	if err := a.startStep(ctx, "open the delivery log and the stats bucket", nil, func(ctx context.Context) (err error) {
		if cfg.Log, err = topo.JetStream().Stream(ctx, topo.Names().LogStream()); err != nil {
			return fmt.Errorf("app: %w", err)
		}
		cfg.KV, err = topo.Stats(ctx)
		return err
	}); err != nil {
		return err
	}
	var err error
	if a.counters, err = delivery.NewCounters(cfg); err != nil {
		return err
	}
	a.sup.Add("counters", a.counters)
	return nil
}
