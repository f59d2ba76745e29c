package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/topology"
)

// readyStreams are the streams every role needs: the core streams and the
// endpoints bucket's.
func readyStreams(n topology.Names) []string {
	return []string{n.EventsStream(), n.AttemptsStream(), n.LogStream(), n.DeadStream(), n.IndexStream(), topology.KVStream(n.EndpointsBucket())}
}

// Ready reports whether this process can do its work, for GET /readyz: its
// NATS connections are up, JetStream answers and its streams exist, the
// endpoints are loaded and followed (as are the API keys and event types
// with an API), and each of its roles runs (the router consumes
// both lanes of the events stream, the worker delivers), and the embedded
// server's storage takes writes. nil when ready;
// otherwise the error lists everything missing.
func (a *App) Ready(ctx context.Context) error {
	var missing []string
	if !a.nc.IsConnected() {
		return errors.New("NATS connection down")
	}
	for _, nc := range a.roleConns {
		if !nc.IsConnected() {
			missing = append(missing, "NATS connection "+nc.Opts.Name+" down")
		}
	}
	for _, name := range readyStreams(a.topo.Names()) {
		s, err := a.js.Stream(ctx, name)
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			missing = append(missing, "stream "+name+" missing")
		case err != nil:
			return fmt.Errorf("JetStream unreachable: %w", err)
		default:
			if err := quorum(s.CachedInfo()); err != nil {
				missing = append(missing, "stream "+name+" "+err.Error())
			}
		}
	}
	if err := a.storageErr(); err != nil {
		missing = append(missing, err.Error())
	}
	select {
	case <-a.reg.Ready():
	default:
		missing = append(missing, "endpoints not loaded yet")
	}
	// The buckets this process follows: each is watched again after a
	// failure, and says why meanwhile.
	watchErrs := []error{a.reg.WatchErr()}
	if a.keys != nil {
		watchErrs = append(watchErrs, a.keys.WatchErr())
	}
	if a.catalog != nil {
		watchErrs = append(watchErrs, a.catalog.WatchErr())
	}
	for _, err := range watchErrs {
		if err != nil {
			missing = append(missing, err.Error())
		}
	}
	if a.router != nil && !a.router.Ready() {
		missing = append(missing, "router not consuming the events stream")
	}
	if a.worker != nil && !a.worker.Ready() {
		missing = append(missing, "worker not delivering")
	}
	if len(missing) > 0 {
		return errors.New(strings.Join(missing, "; "))
	}
	return nil
}

// quorum is nil when a replicated stream has a leader and a majority of
// its replicas online: it can store. Without one its server may still
// answer for it, naming itself leader with every other replica offline,
// while nothing written to it is acknowledged.
func quorum(info *jetstream.StreamInfo) error {
	c := info.Cluster
	if c == nil || info.Config.Replicas <= 1 {
		return nil
	}
	if c.Leader == "" {
		return errors.New("has no leader")
	}
	online := 1 // the leader
	for _, r := range c.Replicas {
		if !r.Offline {
			online++
		}
	}
	if need := (1+len(c.Replicas))/2 + 1; online < need {
		return fmt.Errorf("has no quorum (%d of %d replicas online)", online, 1+len(c.Replicas))
	}
	return nil
}
