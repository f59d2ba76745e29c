package topology

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Backlogs returns the deliveries waiting in every endpoint stream (not yet
// acknowledged by a worker), by endpoint id; for a batched endpoint, the
// batches waiting in its batch stream are added (a batch is one delivery).
// It lists the streams a page of 256 at a time, so its cost grows with
// the number of endpoints.
func (t *Topology) Backlogs(ctx context.Context) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, list := range []struct {
		subject string
		owner   func(string) (string, bool)
	}{{t.names.DeliverySubject(">"), t.names.EndpointOfStream}, {t.names.BatchSubject(">"), t.names.EndpointOfBatchStream}} {
		streams := t.js.ListStreams(ctx, jetstream.WithStreamListSubject(list.subject))
		for info := range streams.Info() {
			if id, ok := list.owner(info.Config.Name); ok {
				out[id] += info.State.Msgs
			}
		}
		if err := streams.Err(); err != nil {
			return nil, fmt.Errorf("topology: list endpoint streams: %w", err)
		}
	}
	return out, nil
}
