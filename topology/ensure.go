package topology

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrSubjectsTaken reports a stream hookd cannot create because another
// stream of the account already captures some of its subjects: another
// application's (on "events.>", say) or another hookd's with the same
// prefix. A prefix (Config.Prefix) moves hookd's subjects out of the way.
var ErrSubjectsTaken = errors.New("subjects taken by another stream of the account")

// errCodeSubjectOverlap is nats-server's JSStreamSubjectOverlapErr.
const errCodeSubjectOverlap jetstream.ErrorCode = 10065

// subjectsTaken explains a refusal for overlapping subjects; other errors
// are returned as they are.
func subjectsTaken(want jetstream.StreamConfig, err error) error {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != errCodeSubjectOverlap {
		return err
	}
	return fmt.Errorf("%w: another stream already captures some of %s (run hookd with --prefix to namespace its subjects): %w",
		ErrSubjectsTaken, strings.Join(want.Subjects, ", "), err)
}

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
		return subjectsTaken(want, err)
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
	return subjectsTaken(want, err)
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
		have.Discard == want.Discard && have.DiscardNewPerSubject == want.DiscardNewPerSubject &&
		(want.MaxConsumers == 0 || have.MaxConsumers == want.MaxConsumers) &&
		(want.Duplicates == 0 || have.Duplicates == want.Duplicates) &&
		have.Retention == want.Retention && have.AllowDirect == want.AllowDirect
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
