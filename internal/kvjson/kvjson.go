// Package kvjson keeps JSON documents in a JetStream key-value bucket, with
// the optimistic concurrency every hookd store needs: reads return the
// revision, and writes at a revision fail if the document changed.
package kvjson

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/hookd/hookd/internal/natsname"
	"github.com/nats-io/nats.go/jetstream"
)

// Errors, checked with errors.Is.
var (
	// ErrNotFound reports a missing (or unusable) key.
	ErrNotFound = errors.New("not found")
	// ErrExists reports a create of a key that exists.
	ErrExists = errors.New("exists")
	// ErrConflict reports a write at a revision that is no longer current.
	ErrConflict = errors.New("changed concurrently")
)

// Bucket stores documents of type T.
type Bucket[T any] struct {
	KV jetstream.KeyValue
	// Kind names the documents in errors, e.g. "endpoint".
	Kind string
}

// Get returns the document at key and its revision. A key that cannot be
// one (natsname.ValidKey) is ErrNotFound, also wrapping
// natsname.ErrInvalidName, and never reaches the server.
func (b Bucket[T]) Get(ctx context.Context, key string) (*T, uint64, error) {
	if err := natsname.ValidKey(key); err != nil {
		return nil, 0, fmt.Errorf("%s: %w: %w", b.Kind, ErrNotFound, err)
	}
	entry, err := b.KV.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return nil, 0, fmt.Errorf("%s %s: %w", b.Kind, key, ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: get: %w", b.Kind, key, err)
	}
	var v T
	if err := json.Unmarshal(entry.Value(), &v); err != nil {
		return nil, 0, fmt.Errorf("%s %s: decode: %w", b.Kind, key, err)
	}
	return &v, entry.Revision(), nil
}

// Put stores v at key: a create when rev is 0, else an update that fails
// with ErrConflict unless the key is still at rev. A key that cannot be one
// is natsname.ErrInvalidName.
func (b Bucket[T]) Put(ctx context.Context, key string, v *T, rev uint64) error {
	_, err := b.PutRevision(ctx, key, v, rev)
	return err
}

// PutRevision is Put, returning the revision written.
func (b Bucket[T]) PutRevision(ctx context.Context, key string, v *T, rev uint64) (uint64, error) {
	if err := natsname.ValidKey(key); err != nil {
		return 0, fmt.Errorf("%s: %w", b.Kind, err)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("%s %s: encode: %w", b.Kind, key, err)
	}
	var written uint64
	if rev == 0 {
		written, err = b.KV.Create(ctx, key, raw)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return 0, fmt.Errorf("%s %s: %w", b.Kind, key, ErrExists)
		}
	} else {
		written, err = b.KV.Update(ctx, key, raw, rev)
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return 0, fmt.Errorf("%s %s: %w", b.Kind, key, ErrConflict)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("%s %s: store: %w", b.Kind, key, err)
	}
	return written, nil
}

// Delete removes key; a missing key is ErrNotFound.
func (b Bucket[T]) Delete(ctx context.Context, key string) error {
	if _, _, err := b.Get(ctx, key); err != nil {
		return err
	}
	if err := b.KV.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%s %s: delete: %w", b.Kind, key, err)
	}
	return nil
}

// Keys returns every key, sorted.
func (b Bucket[T]) Keys(ctx context.Context) ([]string, error) {
	lister, err := b.KV.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: list: %w", b.Kind, err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}
