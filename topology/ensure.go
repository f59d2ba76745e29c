package topology

import (
	"context"
	"errors"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// ensureStream creates a stream, or updates it only when its configuration
// differs: every hookd process runs this at start, and needless updates
// race (inside nats-server) with consumers being created on the stream.
func (t *Topology) ensureStream(ctx context.Context, want jetstream.StreamConfig) error {
	s, err := t.js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = t.js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil // another process created it meanwhile
		}
		return err
	}
	if err != nil {
		return err
	}
	have := s.CachedInfo().Config
	if sameStream(have, want) {
		return nil
	}
	// An existing stream keeps its replica count: processes started with
	// different --replicas must not move it back and forth (changing it is
	// an operator's act, e.g. `nats stream edit --replicas`).
	want.Replicas = have.Replicas
	_, err = t.js.UpdateStream(ctx, want)
	return err
}

// sameStream compares the fields hookd sets.
func sameStream(have, want jetstream.StreamConfig) bool {
	// The server stores "no limit" as -1 where the request said 0.
	limit := func(n int64) int64 {
		if n <= 0 {
			return -1
		}
		return n
	}
	return slices.Equal(have.Subjects, want.Subjects) && have.MaxAge == want.MaxAge &&
		limit(int64(have.MaxMsgSize)) == limit(int64(want.MaxMsgSize)) &&
		limit(have.MaxMsgsPerSubject) == limit(want.MaxMsgsPerSubject) &&
		limit(have.MaxMsgs) == limit(want.MaxMsgs) && limit(have.MaxBytes) == limit(want.MaxBytes) &&
		have.Discard == want.Discard &&
		(want.Duplicates == 0 || have.Duplicates == want.Duplicates) &&
		have.Retention == want.Retention
}

// ensureBucket creates a key-value bucket unless it exists. An existing
// bucket keeps its configuration (changing one is an operator's act).
func (t *Topology) ensureBucket(ctx context.Context, cfg jetstream.KeyValueConfig) error {
	if _, err := t.js.KeyValue(ctx, cfg.Bucket); err == nil {
		return nil
	} else if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return err
	}
	_, err := t.js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		return nil
	}
	return err
}
