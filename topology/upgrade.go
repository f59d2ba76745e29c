package topology

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Releases before the shared delivery streams kept one stream per endpoint
// (EndpointStream, with a durable consumer) and one per batched endpoint
// (BatchStream). Upgrade moves what waits in them into HeldStream and
// BatchesStream and deletes them.

// MigratedHeader marks a delivery moved by Upgrade: its attempts so far
// are in the delivery log, not in the message (workers read the log before
// attempting it, as for a redelivery).
const MigratedHeader = "Hookd-Migrated"

// upgradeBatch is how many messages are copied before their PubAcks are
// awaited.
const upgradeBatch = 256

// UpgradeReport says what Upgrade moved.
type UpgradeReport struct {
	// Streams is how many per-endpoint streams were deleted, Moved how
	// many deliveries and batches were copied out of them first.
	Streams, Moved int
}

// Upgrade moves the deliveries and batches waiting in the per-endpoint
// streams of an earlier release into the shared delivery streams, in
// stream order (so an ordered endpoint's lanes keep their order), then
// deletes those streams. layoutOf returns an endpoint's layout, and false
// for an endpoint that no longer exists (its stream is deleted with what it
// holds, as deleting the endpoint would have); its error stops the upgrade.
//
// Every process calls it at start, before routing or delivering; it is
// idempotent, and processes starting together copy under the same
// Nats-Msg-Id ("mig.<stream>.<seq>"), so a copy made twice within the
// duplicate window is stored once. Copies are read by sequence, not through
// the old consumers, so deliveries a stopped worker held are moved too. A
// stream is deleted only after every copy of it is stored: nothing is lost.
// All processes of the earlier release must be stopped first.
func (t *Topology) Upgrade(ctx context.Context, layoutOf func(endpointID string) (EndpointLayout, bool, error)) (UpgradeReport, error) {
	var rep UpgradeReport
	n := t.names
	for _, legacy := range []struct {
		subjects string
		owner    func(string) (string, bool)
		batches  bool
	}{
		{n.DeliverySubject(">"), n.EndpointOfStream, false},
		{n.BatchSubject(">"), n.EndpointOfBatchStream, true},
	} {
		var streams []string
		list := t.js.StreamNames(ctx, jetstream.WithStreamListSubject(legacy.subjects))
		for name := range list.Name() {
			streams = append(streams, name)
		}
		if err := list.Err(); err != nil {
			return rep, fmt.Errorf("topology: upgrade: list streams: %w", err)
		}
		for _, name := range streams {
			id, ok := legacy.owner(name)
			if !ok {
				continue
			}
			l, exists, err := layoutOf(id)
			if err != nil {
				return rep, fmt.Errorf("topology: upgrade: endpoint %s: %w", id, err)
			}
			if exists {
				moved, err := t.moveLegacy(ctx, name, id, l, legacy.batches)
				rep.Moved += moved
				if err != nil {
					return rep, err
				}
			}
			if err := t.js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				return rep, fmt.Errorf("topology: upgrade: delete %s: %w", name, err)
			}
			rep.Streams++
		}
	}
	return rep, nil
}

// moveLegacy copies every message of a legacy stream to where the endpoint
// takes deliveries now.
func (t *Topology) moveLegacy(ctx context.Context, stream, endpointID string, l EndpointLayout, batches bool) (int, error) {
	s, err := t.js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil // another process finished it
	}
	if err != nil {
		return 0, fmt.Errorf("topology: upgrade: %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("topology: upgrade: %s: %w", stream, err)
	}
	if info.State.Msgs == 0 {
		return 0, nil
	}
	var futures []jetstream.PubAckFuture
	await := func() error {
		err := awaitPubAcks(ctx, futures)
		futures = futures[:0]
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("topology: upgrade: copy out of %s: %w", stream, err)
		}
		return err
	}
	moved := 0
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; {
		// The next message at or after seq: a work queue has gaps where
		// deliveries were acknowledged, and one old retry can hold the
		// first sequence millions below the last.
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break // none left
		}
		if err != nil {
			return moved, fmt.Errorf("topology: upgrade: read %s #%d: %w", stream, seq, err)
		}
		seq = m.Sequence + 1
		cp := nats.NewMsg(t.legacyTarget(m.Subject, endpointID, l, batches))
		cp.Data = m.Data
		for k, v := range m.Header {
			cp.Header[k] = v
		}
		cp.Header.Set(jetstream.MsgIDHeader, "mig."+stream+"."+strconv.FormatUint(m.Sequence, 10))
		cp.Header.Set(MigratedHeader, "1")
		f, err := t.js.PublishMsgAsync(cp)
		if err != nil {
			return moved, fmt.Errorf("topology: upgrade: copy out of %s: %w", stream, err)
		}
		futures = append(futures, f)
		moved++
		if len(futures) >= upgradeBatch {
			if err := await(); err != nil {
				return moved, err
			}
		}
	}
	return moved, await()
}

// legacyTarget is the subject a message of a legacy stream moves to: a
// batch to BatchesSubject; a delivery to the endpoint's ordered lane (the
// lane its legacy subject named), its queue subject or its held subject.
func (t *Topology) legacyTarget(subject, endpointID string, l EndpointLayout, batches bool) string {
	if batches {
		return t.names.BatchesSubject(endpointID)
	}
	if l.Plain() {
		return t.names.QueueSubject(endpointID)
	}
	if !l.Ordered {
		return t.names.HeldSubject(endpointID)
	}
	lane := 0
	if rest, ok := strings.CutPrefix(subject, t.names.DeliverySubject(endpointID)+"."); ok {
		lane, _ = strconv.Atoi(rest)
	}
	switch {
	case l.Lanes == 0:
		lane = 0
	case lane <= 0 || lane > l.Lanes:
		// Lanes are consumed 1..Lanes: whatever an endpoint with lanes
		// had elsewhere is delivered in its own order on the first.
		lane = 1
	}
	return t.names.OrderedSubject(endpointID, lane)
}
