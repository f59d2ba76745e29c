package topology

import (
	"context"
	"fmt"

	"github.com/hookd/hookd/internal/natsname"
	"github.com/nats-io/nats.go/jetstream"
)

// Backlogs returns the deliveries waiting for every endpoint that has any
// (not yet acknowledged by a worker), by endpoint id; a batched endpoint's
// composed batches count too (a batch is one delivery). It reads the
// delivery streams' per-subject counts, so its cost grows with the
// endpoints that have a backlog, not with all endpoints.
func (t *Topology) Backlogs(ctx context.Context) (map[string]uint64, error) {
	n := t.names
	out := map[string]uint64{}
	type list struct {
		stream, filter string
		owner          func(string) (string, bool)
	}
	queues, err := t.QueueStreams(ctx)
	if err != nil {
		return nil, err
	}
	var lists []list
	for _, q := range queues {
		lists = append(lists, list{q, n.ShardSubjects(-1), n.EndpointOfQueue})
	}
	for _, list := range append(lists, []list{
		{n.HeldStream(), n.HeldSubject("*"), n.EndpointOfHeld},
		{n.HeldStream(), n.OrderedSubjects(), func(s string) (string, bool) {
			id, _, ok := n.EndpointOfOrdered(s)
			return id, ok
		}},
		{n.BatchesStream(), n.BatchesSubject("*"), n.EndpointOfBatches},
	}...) {
		counts, err := t.SubjectCounts(ctx, list.stream, list.filter)
		if err != nil {
			return nil, err
		}
		for subject, c := range counts {
			if id, ok := list.owner(subject); ok {
				out[id] += c
			}
		}
	}
	return out, nil
}

// SubjectCounts returns the messages on each subject of stream matching
// filter that has any.
func (t *Topology) SubjectCounts(ctx context.Context, stream, filter string) (map[string]uint64, error) {
	s, err := t.js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("topology: stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, fmt.Errorf("topology: stream %s subjects: %w", stream, err)
	}
	return info.State.Subjects, nil
}

// EndpointBacklog is what waits for one endpoint: Messages in the delivery
// streams (including those a worker holds), InFlight those handed to a
// worker through the endpoint's own consumers and not yet acknowledged
// (the shard consumers' are not told apart by endpoint).
type EndpointBacklog struct {
	Messages, InFlight uint64
	// Lanes holds, for an ordered endpoint, the lanes with deliveries.
	Lanes []int
}

// Backlog reads what waits for an endpoint, whatever its layout now (an
// endpoint that stopped being ordered may still have ordered deliveries).
// An id that is not a valid token is natsname.ErrInvalidName.
func (t *Topology) Backlog(ctx context.Context, endpointID string) (EndpointBacklog, error) {
	var b EndpointBacklog
	if err := natsname.ValidToken(endpointID); err != nil {
		return b, fmt.Errorf("topology: backlog: %w", err)
	}
	subjects, err := t.endpointSubjects(ctx, endpointID)
	if err != nil {
		return b, fmt.Errorf("topology: backlog: %w", err)
	}
	for _, es := range subjects {
		counts, err := t.SubjectCounts(ctx, es.Stream, es.Subject)
		if err != nil {
			return b, err
		}
		for subject, c := range counts {
			b.Messages += c
			if _, lane, ok := t.names.EndpointOfOrdered(subject); ok {
				b.Lanes = append(b.Lanes, lane)
			}
		}
	}
	for _, spec := range t.allConsumersOf(endpointID, b.Lanes) {
		c, err := t.js.Consumer(ctx, spec.Stream, spec.Config.Durable)
		if err != nil {
			continue // none: nothing in flight through it
		}
		b.InFlight += uint64(c.CachedInfo().NumAckPending)
	}
	return b, nil
}

// allConsumersOf are the consumers an endpoint may have whatever its
// layout: held, the given ordered lanes, batches.
func (t *Topology) allConsumersOf(endpointID string, lanes []int) []ConsumerSpec {
	specs := t.EndpointConsumerSpecs(endpointID, EndpointLayout{}, nil)
	specs = append(specs, t.EndpointConsumerSpecs(endpointID, EndpointLayout{Ordered: true}, lanes)...)
	return append(specs, t.BatchesConsumerSpec(endpointID, EndpointLayout{}))
}
