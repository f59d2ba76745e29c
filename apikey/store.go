package apikey

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/natsname"
	"github.com/hookd/hookd/internal/transient"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotFound reports an unknown key id.
var ErrNotFound = errors.New("api key not found")

// bootstrapMarker is created once, by whichever process first finds no
// keys, so concurrent first starts create one admin key, not several.
const bootstrapMarker = "bootstrap"

// Store keeps keys in a key-value bucket and an in-memory index by hash that
// follows the bucket, so a revoked key stops working at once everywhere.
type Store struct {
	kv    jetstream.KeyValue
	log   *slog.Logger
	ready chan struct{}
	// loaded closes ready once: a watch begun again loads again.
	loaded sync.Once
	// follow reports the watch's failures (see Run).
	follow transient.Reporter

	mu     sync.RWMutex
	byHash map[string]*Key
}

// NewStore returns a Store over kv; Run must run for Authenticate to work.
func NewStore(kv jetstream.KeyValue, log *slog.Logger) *Store {
	return &Store{kv: kv, log: log, ready: make(chan struct{}), byHash: map[string]*Key{},
		follow: transient.Reporter{Log: log, Msg: "api keys not followed, retrying"}}
}

// Run follows the bucket until ctx is done. A watch that fails because
// JetStream is unavailable for now, or that ends by itself, is begun
// again with backoff (the keys known stay usable meanwhile; WatchErr says
// why they may be stale); other errors end Run.
func (s *Store) Run(ctx context.Context) error {
	purge := time.NewTicker(time.Minute)
	defer purge.Stop()
	return transient.Follow(ctx, &s.follow, func(ctx context.Context, following func()) error {
		return s.watch(ctx, purge.C, following)
	})
}

// WatchErr is why the store does not follow the bucket now, nil while it
// does or before Run.
func (s *Store) WatchErr() error { return s.follow.Err() }

func (s *Store) watch(ctx context.Context, purge <-chan time.Time, following func()) error {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("api keys: watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-purge:
			s.purgeExpired(ctx)
		case entry, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil // the watch ends with ctx, sometimes before ctx.Done is seen
				}
				return fmt.Errorf("api keys: %w", transient.ErrWatchClosed)
			}
			if entry == nil {
				if initial {
					initial = false
					s.loaded.Do(func() { close(s.ready) })
					following()
				}
				continue
			}
			s.apply(entry)
		}
	}
}

func (s *Store) apply(entry jetstream.KeyValueEntry) {
	if entry.Key() == bootstrapMarker {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, k := range s.byHash {
		if k.ID == entry.Key() {
			delete(s.byHash, h)
		}
	}
	if entry.Operation() != jetstream.KeyValuePut {
		return
	}
	var k Key
	if err := json.Unmarshal(entry.Value(), &k); err != nil {
		s.log.Error("api key unreadable", "key", entry.Key(), "err", err)
		return
	}
	s.byHash[k.Hash] = &k
}

// purgeExpired deletes expired keys (portal tokens), so they do not pile
// up. Several processes may do it at once: a missing key is fine.
func (s *Store) purgeExpired(ctx context.Context) {
	now := time.Now()
	s.mu.RLock()
	var expired []string
	for _, k := range s.byHash {
		if k.Expired(now) {
			expired = append(expired, k.ID)
		}
	}
	s.mu.RUnlock()
	for _, id := range expired {
		if err := s.Revoke(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Warn("expired key not purged", "key", id, "err", err)
		}
	}
}

// Authenticate returns the key a token belongs to. It waits for the first
// load of the bucket (bounded by ctx) so a restart never refuses valid keys.
func (s *Store) Authenticate(ctx context.Context, token string) (*Key, bool) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil, false
	}
	h := Hash(token)
	s.mu.RLock()
	k := s.byHash[h]
	s.mu.RUnlock()
	if k == nil || subtle.ConstantTimeCompare([]byte(k.Hash), []byte(h)) != 1 || k.Expired(time.Now()) {
		return nil, false
	}
	return k, true
}

// Create makes a key and returns it with its token, which is not stored.
func (s *Store) Create(ctx context.Context, name string, scope Scope) (*Key, string, error) {
	return s.CreateKey(ctx, Key{Name: name, Scope: scope})
}

// CreateKey makes a key shaped like tmpl (name, scope, tenant, expiry,
// portal) and returns it with its token, which is not stored.
func (s *Store) CreateKey(ctx context.Context, tmpl Key) (*Key, string, error) {
	token := NewToken()
	k, err := s.putKey(ctx, token, tmpl)
	return k, token, err
}

// Ensure stores token as a key unless it is stored already: how
// HOOKD_ADMIN_KEY sets the first admin key.
func (s *Store) Ensure(ctx context.Context, token, name string, scope Scope) error {
	_, err := s.put(ctx, token, name, scope)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil
	}
	return err
}

func (s *Store) put(ctx context.Context, token, name string, scope Scope) (*Key, error) {
	return s.putKey(ctx, token, Key{Name: name, Scope: scope})
}

func (s *Store) putKey(ctx context.Context, token string, tmpl Key) (*Key, error) {
	h := Hash(token)
	k := &tmpl
	k.ID, k.Hash, k.CreatedAt = idFor(h), h, time.Now().UTC()
	b, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	if _, err := s.kv.Create(ctx, k.ID, b); err != nil {
		return nil, fmt.Errorf("api key: store: %w", err)
	}
	// Usable at once in this process, before the watch brings it back.
	s.mu.Lock()
	s.byHash[h] = k
	s.mu.Unlock()
	return k, nil
}

// Bootstrap creates an admin key if this is the first start (no key was
// ever bootstrapped), and returns its token; "" when nothing was created.
func (s *Store) Bootstrap(ctx context.Context) (string, error) {
	if _, err := s.kv.Create(ctx, bootstrapMarker, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return "", fmt.Errorf("api keys: bootstrap: %w", err)
	}
	// Also when the marker exists: a start that died between the marker
	// and the key must not leave hookd without any key.
	keys, err := s.List(ctx)
	if err != nil || len(keys) > 0 {
		return "", err
	}
	_, token, err := s.Create(ctx, "admin (first start)", ScopeAdmin)
	return token, err
}

// List returns every key, without secrets, ordered by creation.
func (s *Store) List(ctx context.Context) ([]*Key, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("api keys: list: %w", err)
	}
	var out []*Key
	for id := range lister.Keys() {
		if id == bootstrapMarker {
			continue
		}
		entry, err := s.kv.Get(ctx, id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var k Key
		if err := json.Unmarshal(entry.Value(), &k); err != nil {
			return nil, err
		}
		out = append(out, &k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// Revoke deletes the key with id; it stops working at once. An id that
// cannot be a key (natsname.ValidKey) is ErrNotFound.
func (s *Store) Revoke(ctx context.Context, id string) error {
	if id == bootstrapMarker || natsname.ValidKey(id) != nil {
		// A key that cannot be one never reaches the server: a subject
		// longer than its control line would close the connection.
		return ErrNotFound
	}
	if _, err := s.kv.Get(ctx, id); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
			return ErrNotFound
		}
		return err
	}
	if err := s.kv.Delete(ctx, id); err != nil {
		return fmt.Errorf("api keys: revoke: %w", err)
	}
	s.mu.Lock()
	for h, k := range s.byHash {
		if k.ID == id {
			delete(s.byHash, h)
		}
	}
	s.mu.Unlock()
	return nil
}
