// Package apikey owns API keys: how they are made, stored (only a hash, in
// a JetStream key-value bucket), scoped, looked up on every request and
// revoked, and the admin key created on a first start.
package apikey
