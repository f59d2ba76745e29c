// Package tenant owns tenants: a platform's customers, each owning
// endpoints, with limits on what they may use. Tenants are stored in a
// JetStream key-value bucket; the tenant "default" always exists, so
// single-tenant use needs none.
package tenant
