package topology

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// awaitPubAcks waits for every publish in futures to be acknowledged, and
// returns the first refusal, or ctx's error. Copies that move deliveries
// between streams (Upgrade, a retired queue stream) wait for their batch
// this way before the originals may go.
func awaitPubAcks(ctx context.Context, futures []jetstream.PubAckFuture) error {
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
