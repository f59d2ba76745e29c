// Package sealed owns secrets at rest: endpoint signing secrets and header
// values are stored encrypted (AES-256-GCM) under a master key, so a dump
// of the key-value store hands out no working credential.
package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// prefix marks a sealed value; values without it are legacy plain text.
const prefix = "sealed:v1:"

// KeySize is the master key's length in bytes.
const KeySize = 32

// ErrOpen reports a sealed value that cannot be opened: another key, or a
// changed value.
var ErrOpen = errors.New("sealed value cannot be opened: wrong master key, or tampered with")

// Box seals and opens values under one master key. A nil *Box seals
// nothing (values stay plain) and opens only plain values.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a KeySize-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("sealed: the master key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plain; "" stays "" (nothing to hide).
func (b *Box) Seal(plain string) string {
	if b == nil || plain == "" || strings.HasPrefix(plain, prefix) {
		return plain
	}
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := b.aead.Seal(nonce, nonce, []byte(plain), nil)
	return prefix + base64.RawStdEncoding.EncodeToString(out)
}

// Open decrypts a sealed value; a plain value (stored before sealing was
// on) is returned as it is.
func (b *Box) Open(value string) (string, error) {
	rest, ok := strings.CutPrefix(value, prefix)
	if !ok {
		return value, nil
	}
	if b == nil {
		return "", fmt.Errorf("%w: no master key is configured", ErrOpen)
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", ErrOpen
	}
	plain, err := b.aead.Open(nil, raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():], nil)
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}

// ParseKey reads a base64 master key.
func ParseKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("a master key is %d bytes in base64 (openssl rand -base64 %d)", KeySize, KeySize)
	}
	return key, nil
}

// LoadOrCreateKey reads the master key file at path, creating it (mode
// 0600) with a random key if it does not exist.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, KeySize)
		_, _ = rand.Read(key)
		if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("sealed: create master key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sealed: read master key: %w", err)
	}
	key, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("sealed: %s: %w", path, err)
	}
	return key, nil
}
