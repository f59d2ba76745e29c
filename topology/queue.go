package topology

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The queue of plain endpoints' deliveries is one to Shards streams
// (Config.QueueStreams, Names.QueueStream), each capturing some of the
// Shards shard subjects. Routers publish by subject, so they never need to
// know the layout; consumers and readers ask the server which stream
// captures a shard (ShardStream), so processes started with different
// QueueStreams agree, the streams that exist deciding.
//
// A layout is replaced only when all its streams are empty, and no message
// is ever deleted doing it: the old streams are first retired (their shard
// subjects replaced by RetiredQueueSubject, and sealed so that no process
// can put the shard subjects back), which makes routers' publishes fail
// (a router retries the event) instead of landing in a stream about to be
// deleted; then the new streams are created. A message stored between the
// check and the retirement is copied to its endpoint's held subject before
// the retired stream is deleted (removeRetired), as a worker would move it.

// maxQueueRounds bounds ensureQueue's rounds: each reads the queue streams
// and takes one step towards a complete layout; processes starting
// together may each take a step of their own before one layout stands.
const maxQueueRounds = 20

// queueStream is a live queue stream as the server has it.
type queueStream struct {
	info   *jetstream.StreamInfo
	shards []int
}

func (q queueStream) name() string { return q.info.Config.Name }

// ensureQueue makes the queue streams and shard consumers exist: the
// existing layout if there is one (unless it differs from
// Config.QueueStreams and is empty), else Config.QueueStreams streams.
func (t *Topology) ensureQueue(ctx context.Context) error {
	want := t.cfg.QueueStreams
	switched := false // this process retired a layout: it takes the next complete one, whichever
	var lastErr error
	for round := range maxQueueRounds {
		if round > 0 && lastErr != nil {
			// Another process is changing the layout: let it finish a step.
			select {
			case <-ctx.Done():
				return errors.Join(lastErr, ctx.Err())
			case <-time.After(time.Duration(round) * 50 * time.Millisecond):
			}
		}
		live, retired, err := t.readQueue(ctx)
		if err != nil {
			return err
		}
		lastErr = nil
		for _, name := range retired {
			// Another process may be removing it too: a failed round is
			// tried again, it does not stop this process.
			if err := t.removeRetired(ctx, name); err != nil {
				lastErr = err
			}
		}
		if lastErr != nil {
			continue
		}
		// Streams created at the same instant may overlap (a single
		// nats-server does not always refuse the second): the first by name
		// keeps a shard, the others are retired (what they hold moves to
		// the held subjects, nothing is lost).
		slices.SortFunc(live, func(a, b queueStream) int { return strings.Compare(a.name(), b.name()) })
		var owner [Shards]string
		var overlapping []queueStream
		for _, q := range live {
			if slices.ContainsFunc(q.shards, func(s int) bool { return owner[s] != "" }) {
				overlapping = append(overlapping, q)
				continue
			}
			for _, s := range q.shards {
				owner[s] = q.name()
			}
		}
		if len(overlapping) > 0 {
			lastErr = t.retireQueue(ctx, overlapping)
			if lastErr == nil {
				lastErr = errOverlap // give the other process time
			}
			continue
		}
		var missing []int
		for s, name := range owner {
			if name == "" {
				missing = append(missing, s)
			}
		}
		switch {
		case len(live) == 0:
			lastErr = nil
			for k := range want {
				if err := t.createQueueStream(ctx, t.names.QueueStream(k, want), t.names.QueueStreamSubjects(k, want)); err != nil {
					lastErr = err
				}
			}
			continue
		case len(missing) > 0:
			// Another process is creating its layout, or one stopped
			// halfway: complete what is there.
			lastErr = t.completeQueue(ctx, live, missing)
			if lastErr == nil {
				lastErr = errIncomplete // give the other process time
			}
			continue
		}
		have := t.layoutOf(live)
		if have != want && !switched {
			var waiting uint64
			for _, q := range live {
				waiting += q.info.State.Msgs
			}
			names := make([]string, len(live))
			for i, q := range live {
				names[i] = q.name()
			}
			if waiting == 0 {
				lastErr = t.retireQueue(ctx, live)
				switched = lastErr == nil
				if switched {
					t.cfg.Logger.Info("replacing the empty queue's streams", "streams", strings.Join(names, ","), "queue_streams", want)
				}
				continue
			}
			t.keptLayout.Do(func() {
				t.cfg.Logger.Warn("keeping the existing queue streams: they hold deliveries, and the layout changes only when they are empty (on a later start)",
					"streams", strings.Join(names, ","), "queue_streams", want, "deliveries_waiting", waiting)
			})
		}
		if lastErr = t.settleQueue(ctx, live, owner); lastErr == nil {
			return nil
		}
	}
	return fmt.Errorf("topology: queue streams: no complete layout after %d rounds: %w", maxQueueRounds, lastErr)
}

// errIncomplete is a round that found the shards not all captured,
// errOverlap one that found a shard captured twice.
var (
	errIncomplete = errors.New("some shards have no queue stream")
	errOverlap    = errors.New("queue streams overlap")
)

// readQueue lists the queue streams: the live ones (capturing shard
// subjects) and the names of the retired ones.
func (t *Topology) readQueue(ctx context.Context) (live []queueStream, retired []string, err error) {
	n := t.names
	list := t.js.ListStreams(ctx, jetstream.WithStreamListSubject(n.ShardSubjects(-1)))
	for info := range list.Info() {
		if _, _, ok := t.queueLayout(info.Config.Name); !ok {
			continue // not hookd's: creating hookd's will say so
		}
		q := queueStream{info: info}
		for _, subject := range info.Config.Subjects {
			for s := range Shards {
				if subject == n.ShardSubjects(-1) || subject == n.ShardSubjects(s) {
					q.shards = append(q.shards, s)
				}
			}
		}
		live = append(live, q)
	}
	if err := list.Err(); err != nil {
		return nil, nil, fmt.Errorf("topology: list queue streams: %w", err)
	}
	names := t.js.StreamNames(ctx, jetstream.WithStreamListSubject(n.RetiredQueueSubject("*")))
	for name := range names.Name() {
		if _, _, ok := t.queueLayout(name); ok {
			retired = append(retired, name)
		}
	}
	if err := names.Err(); err != nil {
		return nil, nil, fmt.Errorf("topology: list retired queue streams: %w", err)
	}
	return live, retired, nil
}

// queueLayout reads a queue stream's name: stream k of streams, and false
// for any other name.
func (t *Topology) queueLayout(name string) (k, streams int, ok bool) {
	if name == t.names.QueueStream(0, 1) {
		return 0, 1, true
	}
	rest, ok := strings.CutPrefix(name, t.names.QueueStream(0, 1)+"_")
	if !ok {
		return 0, 0, false
	}
	kStr, streamsStr, ok := strings.Cut(rest, "_OF_")
	if !ok {
		return 0, 0, false
	}
	k, err1 := strconv.Atoi(kStr)
	streams, err2 := strconv.Atoi(streamsStr)
	if err1 != nil || err2 != nil || !ValidQueueStreams(streams) || k < 0 || k >= streams || name != t.names.QueueStream(k, streams) {
		return 0, 0, false
	}
	return k, streams, true
}

// layoutOf returns how many streams a complete layout has when its streams
// are exactly those of one layout, and 0 for a mixture (left by processes
// that started together with different QueueStreams).
func (t *Topology) layoutOf(live []queueStream) int {
	streams := 0
	for _, q := range live {
		_, of, _ := t.queueLayout(q.name())
		if streams != 0 && of != streams {
			return 0
		}
		streams = of
	}
	if len(live) != streams {
		return 0
	}
	return streams
}

// createQueueStream creates a queue stream. Another process creating the
// same or an overlapping one meanwhile is not an error: the next round
// reads what stands.
func (t *Topology) createQueueStream(ctx context.Context, name string, subjects []string) error {
	want := t.queueStreamConfig(name, subjects)
	_, err := t.js.CreateStream(ctx, want)
	var apiErr *jetstream.APIError
	switch {
	case err == nil, errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
		return nil
	case errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeSubjectOverlap:
		return fmt.Errorf("topology: stream %s: %w", name, subjectsTaken(want, err))
	}
	return fmt.Errorf("topology: stream %s: %w", name, err)
}

// completeQueue creates the streams capturing the missing shards: the
// missing streams of the layout the live ones belong to, or for a mixture
// a stream per missing shard.
func (t *Topology) completeQueue(ctx context.Context, live []queueStream, missing []int) error {
	var errs []error
	_, streams, _ := t.queueLayout(live[0].name())
	for _, q := range live {
		if _, of, _ := t.queueLayout(q.name()); of != streams {
			streams = 0
		}
	}
	if streams > 1 {
		for k := range streams {
			name := t.names.QueueStream(k, streams)
			if !slices.ContainsFunc(live, func(q queueStream) bool { return q.name() == name }) {
				errs = append(errs, t.createQueueStream(ctx, name, t.names.QueueStreamSubjects(k, streams)))
			}
		}
		return errors.Join(errs...)
	}
	for _, s := range missing {
		errs = append(errs, t.createQueueStream(ctx, t.names.QueueStream(s, Shards), t.names.QueueStreamSubjects(s, Shards)))
	}
	return errors.Join(errs...)
}

// retireQueue retires every live queue stream: its shard subjects replaced
// by its RetiredQueueSubject, and sealed in the same update, so no process
// can give it the shard subjects back (an update unsealing a stream is
// refused): once seen retired and empty, it stays empty, and deleting it
// loses nothing.
func (t *Topology) retireQueue(ctx context.Context, live []queueStream) error {
	for _, q := range live {
		cfg := q.info.Config
		cfg.Subjects = []string{t.names.RetiredQueueSubject(cfg.Name)}
		cfg.Sealed = true
		if _, err := t.js.UpdateStream(ctx, cfg); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("topology: retire queue stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// removeRetired deletes a retired queue stream after copying what it holds
// (stored between the check that it was empty and its retirement) to the
// endpoints' held subjects, under the Nats-Msg-Id a worker moving the
// message uses (QueueMoveID), so a message copied twice, by processes
// removing it together or by a worker still consuming it, is stored once.
// The copies are marked MigratedHeader: their attempts so far are in the
// delivery log.
func (t *Topology) removeRetired(ctx context.Context, name string) error {
	s, err := t.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil // another process removed it
	}
	if err != nil {
		return fmt.Errorf("topology: retired queue stream %s: %w", name, err)
	}
	incarnation := s.CachedInfo()
	if !incarnation.Config.Sealed || !slices.Equal(incarnation.Config.Subjects, []string{t.names.RetiredQueueSubject(name)}) {
		return nil // removed by another process, and a live stream of the name created since
	}
	state := incarnation.State
	var futures []jetstream.PubAckFuture
	await := func() error {
		err := awaitPubAcks(ctx, futures)
		futures = futures[:0]
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("topology: copy out of retired queue stream %s: %w", name, err)
		}
		return err
	}
	moved := 0
	for seq := state.FirstSeq; state.Msgs > 0 && seq > 0 && seq <= state.LastSeq; {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			break // none left, or another process removed the stream after copying them
		}
		if errors.Is(err, nats.ErrNoResponders) {
			// A direct get finds no responder once the stream is gone,
			// and also while the server cannot answer: only the first
			// ends the copy.
			if _, serr := t.js.Stream(ctx, name); errors.Is(serr, jetstream.ErrStreamNotFound) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("topology: read retired queue stream %s #%d: %w", name, seq, err)
		}
		seq = m.Sequence + 1
		id, ok := t.names.EndpointOfQueue(m.Subject)
		if !ok {
			continue
		}
		cp := nats.NewMsg(t.names.HeldSubject(id))
		cp.Data = m.Data
		for k, v := range m.Header {
			cp.Header[k] = v
		}
		cp.Header.Set(jetstream.MsgIDHeader, QueueMoveID(name, m.Sequence, m.Time))
		cp.Header.Set(MigratedHeader, "1")
		f, err := t.js.PublishMsgAsync(cp)
		if err != nil {
			return fmt.Errorf("topology: copy out of retired queue stream %s: %w", name, err)
		}
		futures = append(futures, f)
		moved++
		if len(futures) >= upgradeBatch {
			if err := await(); err != nil {
				return err
			}
		}
	}
	if err := await(); err != nil {
		return err
	}
	if moved > 0 {
		t.cfg.Logger.Info("moved deliveries of a removed queue stream to their endpoints' held subjects", "stream", name, "deliveries", moved)
	}
	// Only this incarnation: another process may have removed it while
	// this one copied, and a live stream of the same name been created
	// since. (What remains is the round trip between this check and the
	// deletion.)
	now, err := t.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("topology: retired queue stream %s: %w", name, err)
	}
	if info := now.CachedInfo(); !info.Created.Equal(incarnation.Created) || !info.Config.Sealed {
		return nil
	}
	if err := t.js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("topology: delete retired queue stream %s: %w", name, err)
	}
	return nil
}

// settleQueue brings a complete layout's streams to this process's limits
// (keeping their subjects) and creates or updates the shard consumers. A
// stream retired meanwhile refuses the update (it is sealed): the error
// sends ensureQueue to another round.
func (t *Topology) settleQueue(ctx context.Context, live []queueStream, owner [Shards]string) error {
	for _, q := range live {
		have := q.info.Config
		want := t.queueStreamConfig(have.Name, have.Subjects)
		if sameStream(have, want) {
			continue
		}
		want.Replicas = have.Replicas // as ensureStream: an existing stream keeps its replicas
		if _, err := t.js.UpdateStream(ctx, want); err != nil {
			return fmt.Errorf("topology: stream %s: %w", have.Name, err)
		}
	}
	for shard, stream := range owner {
		if _, err := t.js.CreateOrUpdateConsumer(ctx, stream, t.ShardConsumerConfig(shard)); err != nil {
			return fmt.Errorf("topology: shard consumer %d: %w", shard, err)
		}
	}
	return nil
}

// ShardStream returns the queue stream holding a shard's deliveries, as the
// server says (the stream capturing the shard's subjects), whatever this
// process's Config.QueueStreams: jetstream.ErrStreamNotFound while no
// stream does (the layout being replaced).
func (t *Topology) ShardStream(ctx context.Context, shard int) (string, error) {
	name, err := t.js.StreamNameBySubject(ctx, t.names.ShardSubjects(shard))
	if err != nil {
		return "", fmt.Errorf("topology: queue stream of shard %d: %w", shard, err)
	}
	return name, nil
}

// QueueStreams returns the names of the queue streams, as the server has
// them.
func (t *Topology) QueueStreams(ctx context.Context) ([]string, error) {
	var out []string
	names := t.js.StreamNames(ctx, jetstream.WithStreamListSubject(t.names.ShardSubjects(-1)))
	for name := range names.Name() {
		if _, _, ok := t.queueLayout(name); ok {
			out = append(out, name)
		}
	}
	if err := names.Err(); err != nil {
		return nil, fmt.Errorf("topology: list queue streams: %w", err)
	}
	slices.Sort(out)
	return out, nil
}
